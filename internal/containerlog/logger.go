package containerlog

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Defaults of Config.
const (
	// DefaultMaxBuffer is Docker's default max-buffer-size for non-blocking logging.
	DefaultMaxBuffer = 1 << 20
	// DefaultRetryInterval bounds how long a failing sink waits for another try when the
	// container writes nothing: the marker lands this soon after space returns.
	DefaultRetryInterval = time.Second
	// readSize is what one read of a pipe takes at most (a pipe's default capacity).
	readSize = 64 << 10
)

// Config is one logger's set-up.
type Config struct {
	// Stdout and Stderr are the container's streams; reads end at EOF or an error.
	Stdout, Stderr io.Reader
	Sink           Sink
	// StatusPath, when set, is where the status file is kept (StatusPath(log)).
	StatusPath string
	// MaxBuffer bounds the bytes held between the pipes and the sink.
	MaxBuffer     int
	RetryInterval time.Duration
	Clock         clock.Clock
	// Started, when set, is closed once the status file is set up and the pipes are being
	// read: the moment to tell the shim the logger is ready.
	Started chan<- struct{}
	// Errorf reports the logger's own trouble (a status file that cannot be written);
	// nil discards it.
	Errorf func(format string, args ...any)
	// Block makes the readers wait for room in the buffer instead of dropping output
	// (the log driver's blocking mode): a sink that falls behind then holds the
	// container up, as Docker's blocking mode does. Unblock, when closed, ends the
	// waiting for good (the logger is stopping: drop rather than hang).
	Block   bool
	Unblock <-chan struct{}
}

// Run drains Stdout and Stderr into the Sink until both have ended, then writes what is
// left and returns. It never stops reading because the sink fails or is slow: output that
// cannot be kept is dropped and counted. The caller ends the reads (for example with read
// deadlines on SIGTERM) to stop it.
func Run(cfg Config) error {
	if cfg.Sink == nil || cfg.Stdout == nil || cfg.Stderr == nil {
		return errors.New("containerlog: Stdout, Stderr and Sink are required")
	}
	if cfg.MaxBuffer <= 0 {
		cfg.MaxBuffer = DefaultMaxBuffer
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Errorf == nil {
		cfg.Errorf = func(string, ...any) {}
	}
	l := &logger{cfg: cfg, q: newQueue(cfg.MaxBuffer, readSize, cfg.Clock.Now), w: newWriter(cfg.Sink, cfg.Clock.Now)}
	l.ship, _ = cfg.Sink.(ShipReporter)
	if cfg.Block {
		l.q.block(cfg.Unblock)
	}
	defer func() {
		if l.status != nil {
			_ = l.status.close()
		}
	}()
	if cfg.StatusPath != "" {
		// A container restarted in place logs to the same file: its counts go on.
		if prev, ok := readTotals(cfg.StatusPath); ok {
			l.w.total = prev
		}
	}
	l.writeStatus()
	var wg sync.WaitGroup
	done := make(chan struct{})
	for _, s := range []struct {
		r      io.Reader
		stream Stream
	}{{cfg.Stdout, Stdout}, {cfg.Stderr, Stderr}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.pump(s.r, s.stream)
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	if cfg.Started != nil {
		close(cfg.Started)
	}
	l.writeLoop(done)
	return nil
}

type logger struct {
	cfg    Config
	q      *queue
	w      *writer
	status *statusFile
	// statusAt is when the status file was last written, statusDropping what it said.
	statusAt       time.Time
	statusDropping bool
	statusWritten  int64 // the written count it said
	// ship is the sink's shipping account, when it ships; statusShip what the file said.
	ship       ShipReporter
	statusShip ShipStatus
}

// pump reads one stream until it ends, queueing what it reads; it never waits for the
// writer.
func (l *logger) pump(r io.Reader, s Stream) {
	buf := make([]byte, readSize)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			l.q.put(s, buf[:n])
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) {
				l.cfg.Errorf("read %s: %v", s, err)
			}
			return
		}
	}
}

// writeLoop moves queued output to the sink until the pumps are done and the queue is
// empty. While output is being dropped a timer retries the sink every RetryInterval and
// refreshes the status file as often.
func (l *logger) writeLoop(done <-chan struct{}) {
	var retry clock.Timer
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	for {
		finished := false
		select {
		case <-l.q.wake:
		case <-done:
			finished = true
		case <-timerC(retry):
			retry = nil
			l.w.resume()
		}
		l.drain()
		if finished {
			l.drain() // anything queued between the last wake and the end
			l.w.resume()
			l.writeStatus()
			return
		}
		l.maybeWriteStatus()
		// The timer runs while output is dropped (to retry the sink) and while the status
		// file lags behind what was written (so it catches up once output stops).
		switch wantTimer := l.w.ep.active || l.ship != nil || l.statusStale(); {
		case wantTimer && retry == nil:
			retry = l.cfg.Clock.NewTimer(l.cfg.RetryInterval)
		case !wantTimer && retry != nil:
			retry.Stop()
			retry = nil
		}
	}
}

// maybeWriteStatus writes the status file when the logger starts or stops dropping, and
// while it drops or writes, at most once per RetryInterval: the written count in the file
// is at most that old.
func (l *logger) maybeWriteStatus() {
	if !l.statusStale() {
		return
	}
	if l.w.ep.active == l.statusDropping && l.cfg.Clock.Since(l.statusAt) < l.cfg.RetryInterval {
		return
	}
	l.writeStatus()
}

// statusStale reports whether the status file says less than the logger knows. A
// shipping sink's account changes on its own (a batch shipped, an outage): it is always
// looked at again.
func (l *logger) statusStale() bool {
	return l.w.dirty || l.w.total.WrittenBytes != l.statusWritten || (l.ship != nil && l.ship.ShipStatus() != l.statusShip)
}

// drain writes everything queued.
func (l *logger) drain() {
	cs, g := l.q.take()
	for _, c := range cs {
		l.w.dropGap(c.gapBefore)
		l.w.write(c.stream, c.data)
		l.q.release(c)
	}
	l.w.dropGap(g)
}

func (l *logger) writeStatus() {
	l.w.dirty = false
	l.statusAt = l.cfg.Clock.Now()
	s := l.w.status()
	s.Updated = l.statusAt
	if l.ship != nil {
		sh := l.ship.ShipStatus()
		s.Ship, l.statusShip = &sh, sh
	}
	l.statusDropping = s.Dropping
	l.statusWritten = s.WrittenBytes
	if l.status == nil {
		if l.cfg.StatusPath == "" {
			return
		}
		// Creating it needs a little space; on a full disk that waits for the next update.
		sf, err := openStatusFile(l.cfg.StatusPath)
		if err != nil {
			l.cfg.Errorf("%v", err)
			return
		}
		l.status = sf
	}
	if err := l.status.write(s); err != nil {
		l.cfg.Errorf("%v", err)
	}
}

// timerC is t's channel, or nil (never ready) without a timer.
func timerC(t clock.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C()
}
