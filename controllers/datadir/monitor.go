// Package datadir watches the filesystem of the agent's data directory (ECS_DATADIR),
// which holds the checkpoint and every container's log: it tells when it is full and when
// it has space again (a log line, the Instance's DataDirFull condition), and mirrors each
// container logger's drop counts onto its Container (Status.LogDrops and a History entry
// when dropping starts and ends). It only reports: the loggers drop and resume by
// themselves, and the checkpoint lives on its reserve (store.CheckpointSpace).
package datadir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/containerlog"
	"github.com/ecsd/ecsd/store"
)

// Defaults of Options.
const (
	DefaultInterval = 2 * time.Second
	// A filesystem with less than fullBelow bytes free is full even before a write fails;
	// one that was full has space again only with recoverAbove free and no failing writer,
	// so a disk that a noisy container keeps refilling does not flap.
	fullBelow    = 1 << 20
	recoverAbove = 4 << 20
)

// History entries recorded on a container when its logger starts and stops dropping.
const (
	HistoryLogWriting  = "log:writing"
	HistoryLogDropping = "log:dropping"
)

// errFull is logged when the data directory fills up.
var errFull = errors.New("no space left in the data directory")

// CheckpointSpace is the store's report on the checkpoint's reserve.
type CheckpointSpace interface {
	CheckpointSpace() store.CheckpointSpace
	// RetryCheckpointReserve restores a reserve that ran short once space returns.
	RetryCheckpointReserve()
}

// Options configure a Monitor.
type Options struct {
	DataDir string
	// Instance is the Instance object that gets the DataDirFull condition.
	Instance client.ObjectKey
	Interval time.Duration
	Clock    clock.WithTicker
	Log      logr.Logger
	// FreeBytes reports the bytes free on path's filesystem (statfs by default).
	FreeBytes func(path string) (uint64, error)
}

// Monitor is the data directory's watcher; Run it.
type Monitor struct {
	reader client.Reader // the informer cache: lists containers cheaply
	writer client.Client // the store: reads to update, status writes
	space  CheckpointSpace
	o      Options

	full      bool
	fullSince time.Time
	logs      map[string]logState // container object name → its logger's last status

	// totals sums the loggers' counts (LogTotals); Run's goroutine adds to it, readers
	// take the lock.
	totalsMu sync.Mutex
	totals   LogTotals
}

// LogTotals are the container loggers' counts summed over every container whose logger
// status the Monitor read since the agent started: what was written to the log files,
// dropped from them, shipped by a log driver (awslogs) and dropped by it. Each only
// grows; a container that goes away keeps its share. A logger's counts are over its own
// life, so after an agent restart the totals start again from those of the containers
// still there.
type LogTotals struct {
	WrittenBytes      int64
	DroppedLines      int64
	DroppedBytes      int64
	ShippedEvents     int64
	ShipDroppedEvents int64
}

// LogTotals returns the loggers' counts so far; safe from any goroutine.
func (m *Monitor) LogTotals() LogTotals {
	m.totalsMu.Lock()
	defer m.totalsMu.Unlock()
	return m.totals
}

// countLog adds what a logger counted since its previous status (prev, or nothing) to the
// totals. A count lower than before is a logger that started counting afresh: all of it
// is new.
func (m *Monitor) countLog(prev *containerlog.Status, cur containerlog.Status) {
	delta := func(was, now int64) int64 {
		if now < was {
			return now
		}
		return now - was
	}
	var p containerlog.Status
	var pShip containerlog.ShipStatus
	if prev != nil {
		p = *prev
		if prev.Ship != nil {
			pShip = *prev.Ship
		}
	}
	m.totalsMu.Lock()
	defer m.totalsMu.Unlock()
	m.totals.WrittenBytes += delta(p.WrittenBytes, cur.WrittenBytes)
	m.totals.DroppedLines += delta(p.DroppedLines, cur.DroppedLines)
	m.totals.DroppedBytes += delta(p.DroppedBytes, cur.DroppedBytes)
	if sh := cur.Ship; sh != nil {
		m.totals.ShippedEvents += delta(pShip.ShippedEvents, sh.ShippedEvents)
		m.totals.ShipDroppedEvents += delta(pShip.DroppedEvents, sh.DroppedEvents)
	}
}

// logState is what was last read from a logger's status file and when that file changed.
type logState struct {
	modTime time.Time
	status  containerlog.Status
}

// New returns a Monitor over the store's cache (reader) and the store itself (writer).
func New(reader client.Reader, writer client.Client, space CheckpointSpace, o Options) *Monitor {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.FreeBytes == nil {
		o.FreeBytes = statfsFree
	}
	return &Monitor{reader: reader, writer: writer, space: space, o: o, logs: map[string]logState{}}
}

// Run checks every Interval until ctx ends.
func (m *Monitor) Run(ctx context.Context) error {
	t := m.o.Clock.NewTicker(m.o.Interval)
	defer t.Stop()
	for {
		m.Check(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
	}
}

// Check looks once: the loggers' status files, the checkpoint's reserve and the free
// space; it records what changed. Failed writes are retried by the next Check.
func (m *Monitor) Check(ctx context.Context) {
	dropping := m.checkContainers(ctx)
	m.space.RetryCheckpointReserve()
	sp := m.space.CheckpointSpace()
	free, err := m.o.FreeBytes(m.o.DataDir)
	if err != nil {
		m.o.Log.Error(err, "cannot read the data directory's free space", "dataDir", m.o.DataDir)
	}
	ev := evidence{dropping: dropping, reserve: sp.NoSpace, free: free,
		lowFree: err == nil && (free < fullBelow || (m.full && free < recoverAbove))}
	full := ev.full()
	now := m.o.Clock.Now()
	switch {
	case full && !m.full:
		m.full, m.fullSince = true, now
		m.o.Log.Error(errFull, "the data directory is full: container output is dropped and counted, state changes use the checkpoint's reserve",
			"dataDir", m.o.DataDir, "freeBytes", free, "containersDropping", dropping,
			"checkpointReserve", sp.Reserve, "checkpointHeadroom", sp.Headroom, "because", ev.because())
	case !full && m.full:
		m.o.Log.Info("the data directory has space again", "dataDir", m.o.DataDir, "freeBytes", free,
			"fullFor", now.Sub(m.fullSince).Round(time.Second).String())
		m.full = false
	}
	m.setCondition(ctx, ev)
}

// evidence is what Check found.
type evidence struct {
	dropping int  // loggers dropping output for lack of space
	reserve  bool // the checkpoint could not write or keep its reserve for lack of space
	lowFree  bool
	free     uint64
}

func (e evidence) full() bool { return e.dropping > 0 || e.reserve || e.lowFree }

// because names the kinds of evidence, without numbers that change at every check, so
// the condition's message is written only when it means something new.
func (e evidence) because() string {
	var parts []string
	if e.dropping > 0 {
		parts = append(parts, "container logs are dropping output")
	}
	if e.reserve {
		parts = append(parts, "checkpoint writes ran out of space")
	}
	if e.lowFree {
		parts = append(parts, "little space is free")
	}
	return strings.Join(parts, "; ")
}

// checkContainers mirrors each container logger's status onto its Container and returns
// how many loggers are dropping output for lack of space.
func (m *Monitor) checkContainers(ctx context.Context) int {
	var list api.ContainerList
	if err := m.reader.List(ctx, &list); err != nil {
		m.o.Log.Error(err, "cannot list containers")
		return 0
	}
	seen := make(map[string]bool, len(list.Items))
	dropping := 0
	for i := range list.Items {
		c := &list.Items[i]
		if c.Status.LogPath == "" {
			continue
		}
		seen[c.Name] = true
		ls, ok := m.readLog(c)
		if !ok {
			continue
		}
		if ls.status.Dropping && ls.status.NoSpace {
			dropping++
		}
		if err := m.record(ctx, c, ls.status); err != nil {
			m.o.Log.Error(err, "cannot record dropped output", "container", c.Name)
		}
	}
	for name := range m.logs {
		if !seen[name] {
			delete(m.logs, name)
		}
	}
	return dropping
}

// readLog returns the container logger's status, reading its file only when it changed.
func (m *Monitor) readLog(c *api.Container) (logState, bool) {
	prev, had := m.logs[c.Name]
	fi, err := statFile(containerlog.StatusPath(c.Status.LogPath))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			m.o.Log.V(1).Info("cannot stat a logger's status", "container", c.Name, "error", err.Error())
		}
		return prev, had
	}
	if had && fi.Equal(prev.modTime) {
		return prev, true
	}
	st, err := containerlog.ReadStatus(c.Status.LogPath)
	if err != nil {
		// Torn (being rewritten) or not yet written: the next Check reads it again.
		return prev, had
	}
	ls := logState{modTime: fi, status: st}
	if had {
		m.countLog(&prev.status, st)
	} else {
		m.countLog(nil, st)
	}
	m.logs[c.Name] = ls
	return ls, true
}

// record writes the logger's counts to the container, with a History entry when dropping
// starts or ends.
func (m *Monitor) record(ctx context.Context, c *api.Container, st containerlog.Status) error {
	want := logDrops(st)
	if equalDrops(c.Status.LogDrops, want) {
		return nil
	}
	return store.RetryOnConflict(func() error {
		cur := &api.Container{}
		if err := m.writer.Get(ctx, client.ObjectKeyFromObject(c), cur); err != nil {
			return client.IgnoreNotFound(err)
		}
		if equalDrops(cur.Status.LogDrops, want) {
			return nil
		}
		wasDropping := cur.Status.LogDrops != nil && cur.Status.LogDrops.Dropping
		switch {
		case want.Dropping && !wasDropping:
			cur.Status.History = appendHistory(cur.Status.History, m.o.Clock.Now(), HistoryLogWriting, HistoryLogDropping,
				"output is being dropped: "+want.Reason)
		case !want.Dropping && wasDropping:
			cur.Status.History = appendHistory(cur.Status.History, m.o.Clock.Now(), HistoryLogDropping, HistoryLogWriting,
				fmt.Sprintf("output is written again; %d bytes (%d lines) dropped in all", want.Bytes, want.Lines))
		}
		was := cur.Status.LogDrops.ShipDropping()
		switch now := want.ShipDropping(); {
		case now && !was:
			m.o.Log.Info("a container's log driver is dropping output it cannot ship", "container", c.Name,
				"reason", want.Shipping.Reason, "droppedEvents", want.Shipping.Events)
		case !now && was:
			m.o.Log.Info("a container's log driver ships again", "container", c.Name, "droppedEvents", want.Shipping.Events)
		}
		cur.Status.LogDrops = want
		return m.writer.Status().Update(ctx, cur)
	})
}

// logDrops is what the Container shows for a logger's status; nil while nothing was lost.
func logDrops(st containerlog.Status) *api.LogDrops {
	sh := st.Ship
	shipped := sh != nil && (sh.Episodes > 0 || sh.Dropping)
	if st.Episodes == 0 && !st.Dropping && !shipped {
		return nil
	}
	d := &api.LogDrops{Dropping: st.Dropping, Bytes: st.DroppedBytes, Lines: st.DroppedLines, Episodes: st.Episodes}
	if st.Dropping {
		since := metav1.NewTime(st.Since)
		d.Since, d.Reason = &since, st.Reason
	}
	if shipped {
		d.Shipping = &api.ShipDrops{Dropping: sh.Dropping, Events: sh.DroppedEvents, Bytes: sh.DroppedBytes, Episodes: sh.Episodes}
		if sh.Dropping {
			since := metav1.NewTime(sh.Since)
			d.Shipping.Since, d.Shipping.Reason = &since, sh.Reason
		}
	}
	return d
}

// equalDrops compares at the checkpoint's precision (metav1.Time keeps seconds).
func equalDrops(a, b *api.LogDrops) bool {
	if a == nil || b == nil {
		return a == b
	}
	sa, sb := a.Since, b.Since
	if (sa == nil) != (sb == nil) || (sa != nil && sa.Unix() != sb.Unix()) {
		return false
	}
	if (a.Shipping == nil) != (b.Shipping == nil) {
		return false
	}
	if x, y := a.Shipping, b.Shipping; x != nil {
		if (x.Since == nil) != (y.Since == nil) || (x.Since != nil && x.Since.Unix() != y.Since.Unix()) ||
			x.Dropping != y.Dropping || x.Reason != y.Reason || x.Events != y.Events || x.Bytes != y.Bytes || x.Episodes != y.Episodes {
			return false
		}
	}
	return a.Dropping == b.Dropping && a.Reason == b.Reason && a.Bytes == b.Bytes && a.Lines == b.Lines && a.Episodes == b.Episodes
}

func appendHistory(h []api.Transition, at time.Time, from, to, reason string) []api.Transition {
	h = append(h, api.Transition{Time: metav1.NewTime(at), From: from, To: to, Reason: reason})
	if len(h) > api.MaxHistory {
		h = h[len(h)-api.MaxHistory:]
	}
	return h
}

// setCondition keeps the Instance's DataDirFull condition as Check found it; its
// lastTransitionTime is when the data directory filled up or got space again.
func (m *Monitor) setCondition(ctx context.Context, ev evidence) {
	cond := metav1.Condition{Type: api.InstanceConditionDataDirFull, Status: metav1.ConditionFalse,
		Reason: api.InstanceReasonHasSpace, Message: "the data directory has space"}
	if ev.full() {
		cond.Status, cond.Reason = metav1.ConditionTrue, api.InstanceReasonNoSpace
		cond.Message = "the data directory is full (" + ev.because() + "): container output is dropped and counted, state changes use the checkpoint's reserve"
	}
	err := store.RetryOnConflict(func() error {
		inst := &api.Instance{}
		if err := m.writer.Get(ctx, m.o.Instance, inst); err != nil {
			return client.IgnoreNotFound(err) // not registered yet
		}
		if cur := meta.FindStatusCondition(inst.Status.Conditions, cond.Type); cur != nil &&
			cur.Status == cond.Status && cur.Reason == cond.Reason && cur.Message == cond.Message {
			return nil
		}
		cond.LastTransitionTime = metav1.NewTime(m.o.Clock.Now())
		meta.SetStatusCondition(&inst.Status.Conditions, cond)
		return m.writer.Status().Update(ctx, inst)
	})
	if err != nil {
		m.o.Log.Error(err, "cannot record the data directory's condition on the instance")
	}
}

// statFile returns the file's modification time.
func statFile(path string) (time.Time, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return time.Time{}, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	return time.Unix(st.Mtim.Unix()), nil
}

// statfsFree is the space root may still use on path's filesystem.
func statfsFree(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Bfree * uint64(st.Bsize), nil
}
