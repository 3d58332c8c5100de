package containerlog

import (
	"errors"
	"time"
)

// ShipStatus is what a shipping sink (awslogs) reports about output it could not ship:
// in non-blocking mode it drops instead of holding the container up, and counts.
type ShipStatus struct {
	// Dropping is true while events are being dropped; Since and Reason describe why.
	Dropping bool      `json:"dropping"`
	Since    time.Time `json:"since,omitzero"`
	Reason   string    `json:"reason,omitempty"`
	// Totals over the logger's life: events (lines) and bytes dropped, over Episodes
	// separate periods, and events shipped.
	DroppedEvents int64 `json:"droppedEvents"`
	DroppedBytes  int64 `json:"droppedBytes"`
	Episodes      int64 `json:"episodes"`
	ShippedEvents int64 `json:"shippedEvents"`
}

// ShipReporter is implemented by a Sink that ships output elsewhere; the logger puts its
// status in the status file.
type ShipReporter interface {
	ShipStatus() ShipStatus
}

// Tee is a Sink that ships the container's output (Ship) and keeps it in the log file
// (File) too, so the output stays readable on the host. Ship gets every byte the
// container wrote, whatever happens to the file; the logger's own marker lines, which
// are about the file, go to the file only. Its Write result is the file's: the drop
// accounting and markers are the file's, and the shipping sink counts its own drops.
type Tee struct {
	File Sink
	Ship Sink
}

func (t Tee) Write(s Stream, p []byte) (int, error) {
	if s != Logger {
		// A shipping sink that takes bytes takes them all: it queues, drops or blocks.
		_, _ = t.Ship.Write(s, p)
	}
	return t.File.Write(s, p)
}

func (t Tee) Close() error {
	return errors.Join(t.Ship.Close(), t.File.Close())
}

// ShipStatus is the shipping sink's.
func (t Tee) ShipStatus() ShipStatus {
	if r, ok := t.Ship.(ShipReporter); ok {
		return r.ShipStatus()
	}
	return ShipStatus{}
}
