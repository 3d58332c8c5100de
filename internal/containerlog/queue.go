package containerlog

import (
	"bytes"
	"sync"
	"time"
)

// Stream says which of the container's outputs bytes came from; Logger marks the logger's
// own lines (the drop marker).
type Stream uint8

const (
	Stdout Stream = iota
	Stderr
	Logger
)

func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	default:
		return "logger"
	}
}

// gap is output dropped at one place in the stream: how much, and from when.
type gap struct {
	bytes, lines int64
	since        time.Time
}

func (g *gap) add(p []byte, now time.Time) {
	if g.bytes == 0 {
		g.since = now
	}
	g.bytes += int64(len(p))
	g.lines += int64(bytes.Count(p, newline))
}

var newline = []byte{'\n'}

// chunk is buffered output of one stream; gapBefore is what was dropped just before it
// because the buffer was full, so the marker lands where the output went missing.
type chunk struct {
	stream    Stream
	data      []byte
	gapBefore gap
}

// queue is the bounded buffer between the pipe readers and the writer. put never blocks:
// when maxChunks chunks are in use, output is dropped and counted. Chunks are reused, and
// only a few idle ones are kept, so a quiet logger holds little memory after a burst.
type queue struct {
	mu        sync.Mutex
	chunks    []*chunk
	free      []*chunk
	inUse     int // chunks queued or being written
	maxChunks int
	chunkSize int
	gap       gap // dropped since the last queued chunk
	wake      chan struct{}
	now       func() time.Time
	// blocking: put waits for room (cond) until unblock is closed.
	blocking bool
	cond     *sync.Cond
	unblock  <-chan struct{}
}

// block makes put wait for room instead of dropping, until unblock is closed.
func (q *queue) block(unblock <-chan struct{}) {
	q.blocking, q.cond, q.unblock = true, sync.NewCond(&q.mu), unblock
	if unblock != nil {
		go func() {
			<-unblock
			q.mu.Lock()
			q.blocking = false
			q.mu.Unlock()
			q.cond.Broadcast()
		}()
	}
}

// keepFree is how many idle chunks are kept for reuse.
const keepFree = 2

func newQueue(maxBuffer, chunkSize int, now func() time.Time) *queue {
	chunkSize = max(1, min(chunkSize, maxBuffer))
	return &queue{
		maxChunks: max(1, maxBuffer/chunkSize),
		chunkSize: chunkSize,
		wake:      make(chan struct{}, 1),
		now:       now,
	}
}

// put queues p (copied), or as much of it as fits, and counts the rest as dropped.
func (q *queue) put(s Stream, p []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(p) > 0 {
		if n := len(q.chunks); n > 0 && q.gap.bytes == 0 {
			if t := q.chunks[n-1]; t.stream == s && cap(t.data)-len(t.data) > 0 {
				k := min(len(p), cap(t.data)-len(t.data))
				t.data = append(t.data, p[:k]...)
				p = p[k:]
				continue
			}
		}
		c := q.getLocked()
		if c == nil && q.blocking {
			// Let the writer have what is queued, then wait for it to give a chunk back.
			q.wakeLocked()
			q.cond.Wait()
			continue
		}
		if c == nil {
			q.gap.add(p, q.now())
			break
		}
		c.stream, c.gapBefore, q.gap = s, q.gap, gap{}
		k := min(len(p), cap(c.data))
		c.data = append(c.data[:0], p[:k]...)
		p = p[k:]
		q.chunks = append(q.chunks, c)
	}
	q.wakeLocked()
}

func (q *queue) wakeLocked() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) getLocked() *chunk {
	if n := len(q.free); n > 0 {
		c := q.free[n-1]
		q.free = q.free[:n-1]
		q.inUse++
		return c
	}
	if q.inUse >= q.maxChunks {
		return nil
	}
	q.inUse++
	return &chunk{data: make([]byte, 0, q.chunkSize)}
}

// take hands every queued chunk to the writer, with what was dropped after the last one.
func (q *queue) take() ([]*chunk, gap) {
	q.mu.Lock()
	defer q.mu.Unlock()
	cs, g := q.chunks, q.gap
	q.chunks, q.gap = nil, gap{}
	return cs, g
}

// release gives a written chunk back.
func (q *queue) release(c *chunk) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inUse--
	if len(q.free) < keepFree {
		c.data, c.gapBefore = c.data[:0], gap{}
		q.free = append(q.free, c)
	}
	if q.cond != nil {
		q.cond.Broadcast()
	}
}
