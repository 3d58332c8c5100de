package containerlog

import (
	"errors"
	"strconv"
	"syscall"
	"time"
)

// Sink is where the logger's output goes. Write writes p, output of stream s, and returns
// how many bytes it took; an error means the rest of p was not written (the writer drops
// and counts it, and tries again with the next output). A Sink is used by one goroutine.
type Sink interface {
	Write(s Stream, p []byte) (int, error)
	Close() error
}

// reasonBufferFull explains output dropped because the sink fell behind the container.
const reasonBufferFull = "the log writer fell behind and its buffer was full"

// episode is one run of dropped output: from the first drop to the marker that ends it.
type episode struct {
	active       bool
	bytes, lines int64
	since        time.Time
	reason       string
	noSpace      bool
	errno        syscall.Errno // of the last failure, 0 when unknown
}

// writer moves output to the sink and keeps the drop accounting: while the sink fails,
// output is dropped and counted; the first write that succeeds afterwards is a marker line
// telling how much was lost.
type writer struct {
	sink  Sink
	now   func() time.Time
	last  byte // last byte that reached the sink; the marker starts on a line of its own
	ep    episode
	total Status
	// dirty is set when total changed in a way the status file should show.
	dirty bool
	mbuf  []byte // the marker's buffer, reused
}

func newWriter(sink Sink, now func() time.Time) *writer {
	return &writer{sink: sink, now: now, last: '\n'}
}

// write writes p, or drops it while the sink is failing and cannot take the marker yet.
func (w *writer) write(s Stream, p []byte) {
	if len(p) == 0 {
		return
	}
	if w.ep.active && !w.resume() {
		w.drop(p, w.ep.reason, w.ep.noSpace)
		return
	}
	n, err := w.sink.Write(s, p)
	if n > 0 {
		w.last = p[n-1]
		w.total.WrittenBytes += int64(n)
	}
	if err != nil {
		w.dropErr(p[n:], err)
	}
}

// dropErr drops p because the sink failed with err. The error's text is taken only when
// the cause changes: a full disk fails every chunk, and a logger should not allocate per
// failure.
func (w *writer) dropErr(p []byte, err error) {
	reason, noSpace := w.ep.reason, w.ep.noSpace
	if !w.ep.active || errnoOf(err) != w.ep.errno {
		reason, noSpace = err.Error(), isNoSpace(err)
	}
	w.drop(p, reason, noSpace)
	w.ep.errno = errnoOf(err)
}

// dropGap accounts output the queue dropped because it was full.
func (w *writer) dropGap(g gap) {
	if g.bytes == 0 {
		return
	}
	w.startEpisode(g.since, reasonBufferFull, false)
	w.ep.bytes += g.bytes
	w.ep.lines += g.lines
	w.total.DroppedBytes += g.bytes
	w.total.DroppedLines += g.lines
	w.dirty = true
}

func (w *writer) drop(p []byte, reason string, noSpace bool) {
	var g gap
	g.add(p, w.now())
	w.startEpisode(g.since, reason, noSpace)
	w.ep.reason, w.ep.noSpace = reason, noSpace // the latest cause is the one to report
	w.ep.bytes += g.bytes
	w.ep.lines += g.lines
	w.total.DroppedBytes += g.bytes
	w.total.DroppedLines += g.lines
	w.dirty = true
}

func (w *writer) startEpisode(since time.Time, reason string, noSpace bool) {
	if w.ep.active {
		return
	}
	w.ep = episode{active: true, since: since, reason: reason, noSpace: noSpace}
	w.total.Episodes++
	w.dirty = true
}

// resume tries to end the current episode by writing its marker; it reports whether the
// sink took it. Called with each new chunk and by the retry timer.
func (w *writer) resume() bool {
	if !w.ep.active {
		return true
	}
	m := w.marker()
	n, err := w.sink.Write(Logger, m)
	if n > 0 {
		w.last = m[n-1]
	}
	if err != nil {
		// The sink is still failing; keep the cause current for the status file.
		if e := errnoOf(err); e != w.ep.errno {
			w.ep.reason, w.ep.noSpace, w.ep.errno = err.Error(), isNoSpace(err), e
			w.dirty = true
		}
		return false
	}
	w.ep = episode{}
	w.dirty = true
	return true
}

// marker is the line written where output went missing, e.g.
//
//	ecsd-logger: dropped 52428800 bytes (409600 lines) of output between 2026-11-22T10:00:00.1Z and 2026-11-22T10:00:30.2Z: write …: no space left on device
//
// "lines" counts the line ends dropped.
func (w *writer) marker() []byte {
	b := w.mbuf[:0]
	defer func() { w.mbuf = b }()
	if w.last != '\n' {
		b = append(b, '\n')
	}
	b = append(b, MarkerPrefix...)
	b = append(b, "dropped "...)
	b = strconv.AppendInt(b, w.ep.bytes, 10)
	b = append(b, " bytes ("...)
	b = strconv.AppendInt(b, w.ep.lines, 10)
	b = append(b, " lines) of output between "...)
	b = w.ep.since.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, " and "...)
	b = w.now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ": "...)
	b = append(b, w.ep.reason...)
	return append(b, '\n')
}

// MarkerPrefix starts every line the logger writes into a log itself.
const MarkerPrefix = "ecsd-logger: "

// status is what the status file should say now.
func (w *writer) status() Status {
	s := w.total
	s.Dropping = w.ep.active
	if w.ep.active {
		s.Since = w.ep.since
		s.Reason = w.ep.reason
		s.NoSpace = w.ep.noSpace
	}
	return s
}

// isNoSpace tells a full filesystem or quota from other write failures.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// errnoOf is the system error inside err, 0 if none.
func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}
