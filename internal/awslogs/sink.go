package awslogs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"k8s.io/utils/clock"

	"github.com/ecsd/ecsd/internal/backoff"
	"github.com/ecsd/ecsd/internal/containerlog"
)

// API is the part of the CloudWatch Logs client the sink uses (*cloudwatchlogs.Client).
type API interface {
	PutLogEvents(ctx context.Context, in *cwl.PutLogEventsInput, opts ...func(*cwl.Options)) (*cwl.PutLogEventsOutput, error)
	CreateLogStream(ctx context.Context, in *cwl.CreateLogStreamInput, opts ...func(*cwl.Options)) (*cwl.CreateLogStreamOutput, error)
	CreateLogGroup(ctx context.Context, in *cwl.CreateLogGroupInput, opts ...func(*cwl.Options)) (*cwl.CreateLogGroupOutput, error)
}

// Config is one sink's set-up.
type Config struct {
	API         API
	Group       string
	Stream      string
	CreateGroup bool
	// Multiline, when set, starts an event at each line it matches; other lines are
	// added to the event before them.
	Multiline *regexp.Regexp
	// Blocking makes Write wait for room in the queue instead of dropping.
	Blocking bool
	// MaxBuffer bounds the queued events' bytes (DefaultMaxBuffer when <= 0).
	MaxBuffer int
	// FlushInterval is how long events wait for a fuller batch, and an unfinished line or
	// multiline event for its end, before they are shipped (DefaultFlushInterval).
	FlushInterval time.Duration
	// CloseTimeout bounds shipping what is queued when the sink is closed.
	CloseTimeout time.Duration
	// RequestTimeout bounds one CloudWatch request.
	RequestTimeout time.Duration
	Backoff        backoff.Backoff
	Clock          clock.Clock
	// Errorf reports trouble, once per episode; nil discards it.
	Errorf func(format string, args ...any)
}

// Defaults of Config.
const (
	DefaultFlushInterval  = time.Second
	DefaultCloseTimeout   = 5 * time.Second
	DefaultRequestTimeout = 30 * time.Second
)

// DefaultBackoff is the retry backoff of failed requests.
func DefaultBackoff() backoff.Backoff {
	return backoff.Backoff{Min: 250 * time.Millisecond, Max: 30 * time.Second, Factor: 2, Jitter: 0.2}
}

// reasonQueueFull explains events dropped while CloudWatch accepted nothing for no
// reported reason (the sink was merely slower than the container).
const reasonQueueFull = "the CloudWatch Logs queue was full"

type event struct {
	msg string
	ts  int64 // ms since the epoch
}

// pending is an event still being built on one stream: an unfinished line, or a
// multiline event waiting for the line that starts the next.
type pending struct {
	buf   []byte
	since time.Time // when its first bytes came
	lines int       // complete lines in buf (multiline)
}

// Sink ships a container's output to one log stream. Write is called by the logger's
// writer goroutine; one goroutine of its own ships.
type Sink struct {
	cfg  Config
	stop chan struct{} // closed by Close
	done chan struct{} // closed when the shipper has ended

	mu      sync.Mutex
	room    *sync.Cond // signalled when queued events were shipped or dropped
	q       []event
	qBytes  int
	lastTS  int64
	partial [2]pending // per stream: stdout, stderr
	closing bool
	lastErr string // the last failed request, for the drop reason
	st      containerlog.ShipStatus
	wake    chan struct{}
}

// New starts a sink; Close ships what is left and stops it.
func New(cfg Config) (*Sink, error) {
	if cfg.API == nil || cfg.Group == "" || cfg.Stream == "" {
		return nil, errors.New("awslogs: API, Group and Stream are required")
	}
	if cfg.MaxBuffer <= 0 {
		cfg.MaxBuffer = DefaultMaxBuffer
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = DefaultCloseTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
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
	go s.ship()
	return s, nil
}

// Write cuts p, output of stream st, into events and queues them. It never fails; in
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
		if i < 0 {
			s.addPartial(pd, p, now)
			break
		}
		s.addPartial(pd, p[:i], now)
		s.endLine(pd, now)
		p = p[i+1:]
	}
	return n, nil
}

// addPartial adds bytes of an unfinished line, emitting what reaches the event size.
func (s *Sink) addPartial(pd *pending, p []byte, now time.Time) {
	if len(pd.buf) == 0 {
		pd.since = now
	}
	pd.buf = append(pd.buf, p...)
	for len(pd.buf) > MaxEventBytes {
		k := splitAt(pd.buf, MaxEventBytes)
		msg := string(pd.buf[:k])
		pd.buf = append(pd.buf[:0], pd.buf[k:]...)
		pd.lines = 0
		pd.since = now
		s.emit(msg, now) // pd is consistent: emit may wait, and others run meanwhile
	}
}

// endLine ends the line being built in pd.
func (s *Sink) endLine(pd *pending, now time.Time) {
	re := s.cfg.Multiline
	if re == nil {
		s.emitPending(pd, now)
		return
	}
	// The line just ended is buf[start:]; buf[:start] are earlier lines of the event.
	start := 0
	if pd.lines > 0 {
		start = bytes.LastIndexByte(pd.buf, '\n') + 1
	}
	if pd.lines > 0 && re.Match(pd.buf[start:]) {
		// It starts a new event: ship the one before it.
		prev := string(pd.buf[:start-1])
		pd.buf = append(pd.buf[:0], pd.buf[start:]...)
		pd.lines = 0
		pd.since = now
		if prev != "" {
			s.emit(prev, now)
		}
	}
	pd.lines++
	pd.buf = append(pd.buf, '\n')
}

// emitPending emits pd's event (without a final line end) and resets it.
func (s *Sink) emitPending(pd *pending, now time.Time) {
	msg := string(bytes.TrimSuffix(pd.buf, []byte{'\n'}))
	pd.buf, pd.lines = pd.buf[:0], 0
	if msg != "" {
		s.emit(msg, now)
	}
}

// hasRoom reports whether an event of n bytes fits in the queue now.
func (s *Sink) hasRoom(n int) bool {
	return s.qBytes == 0 || s.qBytes+n+EventOverhead <= s.cfg.MaxBuffer
}

// emit queues one event (at most MaxEventBytes), or drops it. In blocking mode it waits
// for room, releasing the lock: callers leave their state consistent first.
func (s *Sink) emit(msg string, now time.Time) {
	size := len(msg) + EventOverhead
	for !s.hasRoom(len(msg)) && s.cfg.Blocking && !s.closing {
		s.room.Wait()
	}
	ts := max(now.UnixMilli(), s.lastTS) // in order, as PutLogEvents needs them
	if !s.hasRoom(len(msg)) {
		s.dropLocked(1, int64(len(msg)), now)
		return
	}
	if s.st.Dropping {
		s.cfg.Errorf("awslogs: shipping again after dropping %d events (%d bytes) since %s: %s",
			s.st.DroppedEvents, s.st.DroppedBytes, s.st.Since.UTC().Format(time.RFC3339), s.st.Reason)
		s.st.Dropping, s.st.Since, s.st.Reason = false, time.Time{}, ""
	}
	s.lastTS = ts
	s.q = append(s.q, event{msg: msg, ts: ts})
	s.qBytes += size
	if len(s.q) >= MaxBatchEvents || s.qBytes >= MaxBatchBytes {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (s *Sink) dropLocked(events, nbytes int64, now time.Time) {
	if !s.st.Dropping {
		reason := reasonQueueFull
		if s.lastErr != "" {
			reason = s.lastErr
		}
		s.st.Dropping, s.st.Since, s.st.Reason = true, now, reason
		s.st.Episodes++
		s.cfg.Errorf("awslogs: dropping events, the queue of %d bytes is full: %s", s.cfg.MaxBuffer, reason)
	}
	s.st.DroppedEvents += events
	s.st.DroppedBytes += nbytes
}

// ShipStatus is the sink's account for the logger's status file.
func (s *Sink) ShipStatus() containerlog.ShipStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Close ships what is queued, for at most CloseTimeout, drops the rest and stops.
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
		s.endPartial(&s.partial[i], now)
	}
	s.room.Broadcast()
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	return nil
}

// endPartial emits whatever pd holds.
func (s *Sink) endPartial(pd *pending, now time.Time) {
	if len(pd.buf) > 0 {
		s.emitPending(pd, now)
	}
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

// ship is the shipping goroutine. Once the sink is closed it ships what is queued for at
// most CloseTimeout, then counts the rest as dropped and ends.
func (s *Sink) ship() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := (<-chan struct{})(s.stop) // nil once the close deadline runs
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
	stream := false // the stream is known to exist
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
			err := s.put(ctx, &stream, batch)
			if err == nil {
				s.shipped(len(batch), nbytes)
				attempt = 0
				continue
			}
			if ctx.Err() != nil {
				break
			}
			s.failed(err)
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

// flushOld emits unfinished lines and multiline events that waited a flush interval.
func (s *Sink) flushOld() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Clock.Now()
	for i := range s.partial {
		// The shipper must not wait for room it alone makes: a blocking sink leaves the
		// event pending until there is room.
		if pd := &s.partial[i]; len(pd.buf) > 0 && now.Sub(pd.since) >= s.cfg.FlushInterval &&
			(!s.cfg.Blocking || s.hasRoom(len(pd.buf))) {
			s.emitPending(pd, now)
		}
	}
}

// batch is the longest run at the queue's head within CloudWatch's limits.
func (s *Sink) batch() ([]types.InputLogEvent, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, size := 0, 0
	for n < len(s.q) && n < MaxBatchEvents {
		e := s.q[n]
		if size+len(e.msg)+EventOverhead > MaxBatchBytes || e.ts-s.q[0].ts >= MaxBatchSpanMs {
			break
		}
		size += len(e.msg) + EventOverhead
		n++
	}
	out := make([]types.InputLogEvent, n)
	for i, e := range s.q[:n] {
		out[i] = types.InputLogEvent{Message: aws.String(e.msg), Timestamp: aws.Int64(e.ts)}
	}
	return out, size
}

// shipped takes a shipped batch off the queue.
func (s *Sink) shipped(n, nbytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.q = s.q[n:]
	if len(s.q) == 0 {
		s.q = nil // let the backing array go
	}
	s.qBytes -= nbytes
	s.st.ShippedEvents += int64(n)
	if s.lastErr != "" {
		s.cfg.Errorf("awslogs: PutLogEvents works again")
		s.lastErr = ""
	}
	s.room.Broadcast()
}

func (s *Sink) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := err.Error()
	if s.lastErr == "" {
		s.cfg.Errorf("awslogs: %s (retrying)", msg)
	}
	s.lastErr = msg
	if s.st.Dropping {
		s.st.Reason = msg
	}
}

// dropRest counts what could not be shipped before the sink stopped.
func (s *Sink) dropRest() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var nbytes int64
	for _, e := range s.q {
		nbytes += int64(len(e.msg))
	}
	if len(s.q) > 0 {
		s.dropLocked(int64(len(s.q)), nbytes, s.cfg.Clock.Now())
		s.cfg.Errorf("awslogs: %d events not shipped before the logger stopped", len(s.q))
	}
	s.q, s.qBytes = nil, 0
	s.room.Broadcast()
}

// put ships one batch, creating the stream (and the group, when asked) first.
func (s *Sink) put(ctx context.Context, stream *bool, batch []types.InputLogEvent) error {
	if !*stream {
		if err := s.createStream(ctx); err != nil {
			return err
		}
		*stream = true
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	out, err := s.cfg.API.PutLogEvents(rctx, &cwl.PutLogEventsInput{
		LogGroupName: aws.String(s.cfg.Group), LogStreamName: aws.String(s.cfg.Stream), LogEvents: batch,
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			*stream = false // deleted meanwhile: create it again
		}
		return fmt.Errorf("PutLogEvents to %s/%s: %w", s.cfg.Group, s.cfg.Stream, err)
	}
	if r := out.RejectedLogEventsInfo; r != nil {
		s.cfg.Errorf("awslogs: CloudWatch rejected events of a batch (too old before index %d, too new from %d, expired before %d)",
			aws.ToInt32(r.TooOldLogEventEndIndex), aws.ToInt32(r.TooNewLogEventStartIndex), aws.ToInt32(r.ExpiredLogEventEndIndex))
	}
	return nil
}

func (s *Sink) createStream(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	var exists *types.ResourceAlreadyExistsException
	if s.cfg.CreateGroup {
		_, err := s.cfg.API.CreateLogGroup(rctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(s.cfg.Group)})
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("CreateLogGroup %s: %w", s.cfg.Group, err)
		}
	}
	_, err := s.cfg.API.CreateLogStream(rctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String(s.cfg.Group), LogStreamName: aws.String(s.cfg.Stream)})
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("CreateLogStream %s/%s: %w", s.cfg.Group, s.cfg.Stream, err)
	}
	return nil
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
