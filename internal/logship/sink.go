package logship

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"
	"unicode/utf8"

	"k8s.io/utils/clock"

	"github.com/ecsd/ecsd/internal/backoff"
	"github.com/ecsd/ecsd/internal/containerlog"
)

// Message is one line of a container's output (without its line end).
type Message struct {
	Time   time.Time
	Stream containerlog.Stream
	Line   []byte
	// Partial is set on every piece but the last of a line longer than MaxLine.
	Partial bool
}

// Sender delivers messages to a receiver. Send is called from one goroutine only, with
// messages in order; an error means the batch may not have been delivered and will be
// sent again after a delay. Close releases its connection.
type Sender interface {
	Send(ctx context.Context, batch []Message) error
	Close() error
}

// Config is one sink's set-up.
type Config struct {
	// Driver names the driver in reports ("fluentd", "syslog").
	Driver string
	Sender Sender
	// Blocking makes Write wait for room in the queue instead of dropping.
	Blocking bool
	// MaxBuffer bounds the queued messages' bytes (DefaultMaxBuffer when <= 0).
	MaxBuffer int
	// MaxMessages, when > 0, bounds the queued messages' number too (fluentd-buffer-limit).
	MaxMessages int
	// MaxBatch bounds the messages of one Send (DefaultMaxBatch when <= 0).
	MaxBatch int
	// MaxRetries, when > 0, is how many times a failed batch is sent again before it is
	// dropped and counted (fluentd-max-retries); 0 retries until the logger stops.
	MaxRetries int
	// FlushInterval is how long an unfinished line waits for its end before it is sent.
	FlushInterval time.Duration
	// CloseTimeout bounds sending what is queued when the sink is closed.
	CloseTimeout time.Duration
	Backoff      backoff.Backoff
	Clock        clock.Clock
	// Errorf reports trouble, once per episode; nil discards it.
	Errorf func(format string, args ...any)
}

// Defaults of Config.
const (
	DefaultMaxBuffer     = 1 << 20 // Docker's max-buffer-size default
	DefaultMaxBatch      = 512
	DefaultFlushInterval = time.Second
	DefaultCloseTimeout  = 5 * time.Second
	// MaxLine is where a line is split: Docker's 16 KiB log message size.
	MaxLine = 16 << 10
	// messageOverhead is what a message costs the queue besides its bytes.
	messageOverhead = 64
)

// DefaultBackoff is the delay between attempts to deliver a failed batch.
func DefaultBackoff() backoff.Backoff {
	return backoff.Backoff{Min: 250 * time.Millisecond, Max: 10 * time.Second, Factor: 2, Jitter: 0.2}
}

// Sink ships a container's output through a Sender.
type Sink struct {
	cfg  Config
	stop chan struct{}
	done chan struct{}
	wake chan struct{}

	mu      sync.Mutex
	room    *sync.Cond
	q       []Message
	qBytes  int
	partial [2]struct {
		buf   []byte
		since time.Time
	}
	closing bool
	lastErr string
	st      containerlog.ShipStatus
}

// New starts a sink; Close sends what is left and stops it.
func New(cfg Config) (*Sink, error) {
	if cfg.Sender == nil || cfg.Driver == "" {
		return nil, errors.New("logship: Driver and Sender are required")
	}
	if cfg.MaxBuffer <= 0 {
		cfg.MaxBuffer = DefaultMaxBuffer
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = DefaultCloseTimeout
	}
	if cfg.Backoff == (backoff.Backoff{}) {
		cfg.Backoff = DefaultBackoff()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Errorf == nil {
		cfg.Errorf = func(string, ...any) {}
	}
	s := &Sink{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{}), wake: make(chan struct{}, 1)}
	s.room = sync.NewCond(&s.mu)
	go s.run()
	return s, nil
}

// Write cuts p, output of stream st, into messages and queues them. It never fails; in
// non-blocking mode it never waits.
func (s *Sink) Write(st containerlog.Stream, p []byte) (int, error) {
	if st > containerlog.Stderr {
		return len(p), nil
	}
	n := len(p)
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	pd := &s.partial[st]
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if len(pd.buf) == 0 {
			pd.since = now
		}
		pd.buf = append(pd.buf, chunk...)
		for len(pd.buf) > MaxLine {
			k := splitAt(pd.buf, MaxLine)
			line := bytes.Clone(pd.buf[:k])
			pd.buf = append(pd.buf[:0], pd.buf[k:]...)
			s.emit(Message{Time: now, Stream: st, Line: line, Partial: true})
		}
		if i < 0 {
			break
		}
		line := bytes.Clone(pd.buf)
		pd.buf = pd.buf[:0]
		s.emit(Message{Time: now, Stream: st, Line: line})
		p = p[i+1:]
	}
	return n, nil
}

func (s *Sink) hasRoom(n int) bool {
	if s.cfg.MaxMessages > 0 && len(s.q) >= s.cfg.MaxMessages {
		return false
	}
	return s.qBytes == 0 || s.qBytes+n+messageOverhead <= s.cfg.MaxBuffer
}

// emit queues m or drops it; in blocking mode it waits for room, releasing the lock.
func (s *Sink) emit(m Message) {
	for !s.hasRoom(len(m.Line)) && s.cfg.Blocking && !s.closing {
		s.room.Wait()
	}
	if !s.hasRoom(len(m.Line)) {
		s.dropLocked(1, int64(len(m.Line)), m.Time)
		return
	}
	if s.st.Dropping {
		s.cfg.Errorf("%s: queueing again after dropping %d messages (%d bytes) since %s: %s", s.cfg.Driver,
			s.st.DroppedEvents, s.st.DroppedBytes, s.st.Since.UTC().Format(time.RFC3339), s.st.Reason)
		s.st.Dropping, s.st.Since, s.st.Reason = false, time.Time{}, ""
	}
	s.q = append(s.q, m)
	s.qBytes += len(m.Line) + messageOverhead
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Sink) dropLocked(n, nbytes int64, now time.Time) {
	if !s.st.Dropping {
		reason := "the " + s.cfg.Driver + " queue was full"
		if s.lastErr != "" {
			reason = s.lastErr
		}
		s.st.Dropping, s.st.Since, s.st.Reason = true, now, reason
		s.st.Episodes++
		s.cfg.Errorf("%s: dropping messages, the queue of %d bytes is full: %s", s.cfg.Driver, s.cfg.MaxBuffer, reason)
	}
	s.st.DroppedEvents += n
	s.st.DroppedBytes += nbytes
}

// ShipStatus is the sink's account for the logger's status file.
func (s *Sink) ShipStatus() containerlog.ShipStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Blocking reports whether the sink was set up in blocking mode.
func (s *Sink) Blocking() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.Blocking
}

// StopBlocking makes a blocking sink drop from now on (the logger is stopping).
func (s *Sink) StopBlocking() {
	s.mu.Lock()
	s.cfg.Blocking = false
	s.mu.Unlock()
	s.room.Broadcast()
}

// Close sends what is queued, for at most CloseTimeout, drops the rest and stops.
func (s *Sink) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.closing = true
	now := s.cfg.Clock.Now()
	for i := range s.partial {
		s.flushPartial(containerlog.Stream(i), now)
	}
	s.room.Broadcast()
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	return s.cfg.Sender.Close()
}

func (s *Sink) flushPartial(st containerlog.Stream, now time.Time) {
	pd := &s.partial[st]
	if len(pd.buf) > 0 {
		line := bytes.Clone(pd.buf)
		pd.buf = pd.buf[:0]
		s.emit(Message{Time: now, Stream: st, Line: line})
	}
}

// run is the sending goroutine.
func (s *Sink) run() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := (<-chan struct{})(s.stop)
	closing := false
	onStop := func() {
		closing, stop = true, nil
		t := s.cfg.Clock.NewTimer(s.cfg.CloseTimeout)
		go func() {
			defer t.Stop()
			select {
			case <-t.C():
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	tick := s.cfg.Clock.NewTimer(s.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.wake:
		case <-tick.C():
			tick.Reset(s.cfg.FlushInterval)
			s.flushOld()
		case <-stop:
			onStop()
		}
		for attempt := 0; ctx.Err() == nil; {
			batch, nbytes := s.batch()
			if len(batch) == 0 {
				break
			}
			err := s.cfg.Sender.Send(ctx, batch)
			if err == nil {
				s.sent(len(batch), nbytes)
				attempt = 0
				continue
			}
			if ctx.Err() != nil {
				break
			}
			s.failed(err)
			if s.cfg.MaxRetries > 0 && attempt >= s.cfg.MaxRetries {
				s.giveUp(len(batch), nbytes)
				attempt = 0
				continue
			}
			select {
			case <-s.cfg.Clock.After(s.cfg.Backoff.Delay(attempt)):
			case <-stop:
				onStop()
			case <-ctx.Done():
			}
			attempt++
		}
		if closing {
			s.dropRest()
			return
		}
	}
}

// flushOld sends unfinished lines that waited a flush interval.
func (s *Sink) flushOld() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Clock.Now()
	for i := range s.partial {
		pd := &s.partial[i]
		// The sender must not wait for room only it makes.
		if len(pd.buf) > 0 && now.Sub(pd.since) >= s.cfg.FlushInterval && (!s.cfg.Blocking || s.hasRoom(len(pd.buf))) {
			s.flushPartial(containerlog.Stream(i), now)
		}
	}
}

func (s *Sink) batch() ([]Message, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(len(s.q), s.cfg.MaxBatch)
	size := 0
	for _, m := range s.q[:n] {
		size += len(m.Line) + messageOverhead
	}
	return s.q[:n:n], size
}

func (s *Sink) sent(n, nbytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.q = s.q[n:]
	if len(s.q) == 0 {
		s.q = nil
	}
	s.qBytes -= nbytes
	s.st.ShippedEvents += int64(n)
	if s.lastErr != "" {
		s.cfg.Errorf("%s: delivering again", s.cfg.Driver)
		s.lastErr = ""
	}
	s.room.Broadcast()
}

func (s *Sink) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := err.Error()
	if s.lastErr == "" {
		s.cfg.Errorf("%s: %s (retrying)", s.cfg.Driver, msg)
	}
	s.lastErr = msg
	if s.st.Dropping {
		s.st.Reason = msg
	}
}

// giveUp drops a batch that failed MaxRetries times more.
func (s *Sink) giveUp(n, nbytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lineBytes int64
	for _, m := range s.q[:n] {
		lineBytes += int64(len(m.Line))
	}
	s.dropLocked(int64(n), lineBytes, s.cfg.Clock.Now())
	s.cfg.Errorf("%s: dropped %d messages after %d retries: %s", s.cfg.Driver, n, s.cfg.MaxRetries, s.lastErr)
	s.q = s.q[n:]
	if len(s.q) == 0 {
		s.q = nil
	}
	s.qBytes -= nbytes
	s.room.Broadcast()
}

func (s *Sink) dropRest() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var nbytes int64
	for _, m := range s.q {
		nbytes += int64(len(m.Line))
	}
	if len(s.q) > 0 {
		s.dropLocked(int64(len(s.q)), nbytes, s.cfg.Clock.Now())
		s.cfg.Errorf("%s: %d messages not delivered before the logger stopped", s.cfg.Driver, len(s.q))
	}
	s.q, s.qBytes = nil, 0
	s.room.Broadcast()
}

// splitAt is where to cut b to at most n bytes without splitting a UTF-8 sequence.
func splitAt(b []byte, n int) int {
	if len(b) <= n {
		return len(b)
	}
	for k := n; k > n-utf8.UTFMax && k > 0; k-- {
		if utf8.RuneStart(b[k]) {
			return k
		}
	}
	return n
}
