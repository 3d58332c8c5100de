package main

import (
	"context"
	"sync"
	"time"

	"github.com/ecsd/ecsd/controlplane/tcs"
)

// runtimeDoctor is the instance health check published over TCS (the reference agent's
// "doctor"): can the container runtime be reached. It keeps when the status last changed.
type runtimeDoctor struct {
	ping func(ctx context.Context) error

	mu         sync.Mutex
	status     string
	lastChange time.Time
}

// check runs the health check and returns the statuses to publish.
func (d *runtimeDoctor) check(ctx context.Context) []tcs.InstanceStatus {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	status, reason := "OK", ""
	if err := d.ping(ctx); err != nil {
		status, reason = "IMPAIRED", "containerd: "+err.Error()
	}
	now := time.Now()
	d.mu.Lock()
	if status != d.status {
		d.status, d.lastChange = status, now
	}
	changed := d.lastChange
	d.mu.Unlock()
	return []tcs.InstanceStatus{{
		Type:             "ContainerRuntime",
		Status:           status,
		StatusReason:     reason,
		LastUpdated:      tcs.At(now),
		LastStatusChange: tcs.At(changed),
	}}
}
