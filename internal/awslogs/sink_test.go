package awslogs

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/ecsd/ecsd/internal/backoff"
	"github.com/ecsd/ecsd/internal/containerlog"
	"github.com/ecsd/ecsd/internal/testenv"
)

// fakeAPI records PutLogEvents batches, checks them against CloudWatch's rules, and
// fails while fail is set.
type fakeAPI struct {
	t       *testing.T
	mu      sync.Mutex
	batches [][]types.InputLogEvent
	fail    error
	groups  map[string]bool
	streams map[string]bool
	lastTS  int64
}

func newFake(t *testing.T) *fakeAPI {
	t.Helper()
	return &fakeAPI{t: t, groups: map[string]bool{"g": true}, streams: map[string]bool{}}
}

func (f *fakeAPI) PutLogEvents(_ context.Context, in *cwl.PutLogEventsInput, _ ...func(*cwl.Options)) (*cwl.PutLogEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	if !f.streams[*in.LogGroupName+"/"+*in.LogStreamName] {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no stream")}
	}
	size := 0
	first := *in.LogEvents[0].Timestamp
	if len(in.LogEvents) > MaxBatchEvents {
		f.t.Errorf("batch of %d events", len(in.LogEvents))
	}
	for _, e := range in.LogEvents {
		m := *e.Message
		if m == "" || len(m) > MaxEventBytes {
			f.t.Errorf("event of %d bytes", len(m))
		}
		size += len(m) + EventOverhead
		if *e.Timestamp < f.lastTS {
			f.t.Errorf("event at %d after one at %d: not in order", *e.Timestamp, f.lastTS)
		}
		if *e.Timestamp-first >= MaxBatchSpanMs {
			f.t.Errorf("batch spans more than 24 h")
		}
		f.lastTS = *e.Timestamp
	}
	if size > MaxBatchBytes {
		f.t.Errorf("batch of %d bytes", size)
	}
	f.batches = append(f.batches, in.LogEvents)
	return &cwl.PutLogEventsOutput{}, nil
}

func (f *fakeAPI) CreateLogStream(_ context.Context, in *cwl.CreateLogStreamInput, _ ...func(*cwl.Options)) (*cwl.CreateLogStreamOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	if !f.groups[*in.LogGroupName] {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no group")}
	}
	k := *in.LogGroupName + "/" + *in.LogStreamName
	if f.streams[k] {
		return nil, &types.ResourceAlreadyExistsException{Message: aws.String("exists")}
	}
	f.streams[k] = true
	return &cwl.CreateLogStreamOutput{}, nil
}

func (f *fakeAPI) CreateLogGroup(_ context.Context, in *cwl.CreateLogGroupInput, _ ...func(*cwl.Options)) (*cwl.CreateLogGroupOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.groups[*in.LogGroupName] {
		return nil, &types.ResourceAlreadyExistsException{Message: aws.String("exists")}
	}
	f.groups[*in.LogGroupName] = true
	return &cwl.CreateLogGroupOutput{}, nil
}

func (f *fakeAPI) setFail(err error) {
	f.mu.Lock()
	f.fail = err
	f.mu.Unlock()
}

// messages are all shipped messages in order.
func (f *fakeAPI) messages() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, b := range f.batches {
		for _, e := range b {
			out = append(out, *e.Message)
		}
	}
	return out
}

func (f *fakeAPI) nBatches() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.batches)
}

func newSink(t *testing.T, f *fakeAPI, mod func(*Config)) *Sink {
	t.Helper()
	cfg := Config{API: f, Group: "g", Stream: "s", FlushInterval: 20 * time.Millisecond,
		Backoff: backoff.Backoff{Min: time.Millisecond, Max: 10 * time.Millisecond, Factor: 2}}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func write(t *testing.T, s *Sink, st containerlog.Stream, p string) {
	t.Helper()
	if n, err := s.Write(st, []byte(p)); err != nil || n != len(p) {
		t.Fatalf("Write = %d, %v", n, err)
	}
}

func TestLinesInOrderWithinLimits(t *testing.T) {
	f := newFake(t)
	s := newSink(t, f, func(c *Config) { c.MaxBuffer = 64 << 20; c.Blocking = true })
	// 25,000 lines of 100 bytes: more events than one batch takes, and 2.5 MB, more than
	// one batch's MiB. Written in uneven chunks, so lines span writes.
	var all strings.Builder
	for i := range 25000 {
		fmt.Fprintf(&all, "%06d %s\n", i, strings.Repeat("x", 93))
	}
	b := all.String()
	for len(b) > 0 {
		k := min(len(b), 7777)
		write(t, s, containerlog.Stdout, b[:k])
		b = b[k:]
	}
	// A line longer than an event may be: split.
	write(t, s, containerlog.Stderr, strings.Repeat("é", MaxEventBytes)+"x\n")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got := f.messages()
	if len(got) != 25000+3 {
		t.Fatalf("%d events, want 25003", len(got))
	}
	for i := range 25000 {
		if want := fmt.Sprintf("%06d ", i); !strings.HasPrefix(got[i], want) || len(got[i]) != 100 {
			t.Fatalf("event %d = %.20q…, want %q…", i, got[i], want)
		}
	}
	long := strings.Join(got[25000:], "")
	if long != strings.Repeat("é", MaxEventBytes)+"x" {
		t.Errorf("long line not rebuilt from its parts (%d bytes)", len(long))
	}
	if f.nBatches() < 4 {
		t.Errorf("%d batches, want at least 4 (10,000 events or 1 MiB each)", f.nBatches())
	}
	if st := s.ShipStatus(); st.ShippedEvents != 25003 || st.DroppedEvents != 0 {
		t.Errorf("status %+v", st)
	}
}

func TestCreatesGroupAndStream(t *testing.T) {
	f := newFake(t)
	s := newSink(t, f, func(c *Config) { c.Group = "new"; c.CreateGroup = true })
	write(t, s, containerlog.Stdout, "hello\n")
	testenv.WaitFor(t, "the event shipped", func() bool { return len(f.messages()) == 1 })
	if !f.streams["new/s"] {
		t.Error("stream not created")
	}
}

func TestWithoutCreateGroupAMissingGroupIsRetried(t *testing.T) {
	f := newFake(t)
	var errs []string
	var mu sync.Mutex
	s := newSink(t, f, func(c *Config) {
		c.Group = "missing"
		c.Errorf = func(format string, a ...any) { mu.Lock(); errs = append(errs, fmt.Sprintf(format, a...)); mu.Unlock() }
	})
	write(t, s, containerlog.Stdout, "hello\n")
	testenv.WaitFor(t, "the failure reported", func() bool { mu.Lock(); defer mu.Unlock(); return len(errs) > 0 })
	if f.groups["missing"] {
		t.Fatal("group created without awslogs-create-group")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(errs[0], "CreateLogStream missing/s") {
		t.Errorf("error %q", errs[0])
	}
}

func TestMultiline(t *testing.T) {
	f := newFake(t)
	s := newSink(t, f, func(c *Config) { c.Multiline = regexp.MustCompile(`^\d{4}-`) })
	write(t, s, containerlog.Stdout, "2026-01-01 panic\n  at a\n  at b\n2026-01-02 next\nstray")
	write(t, s, containerlog.Stdout, " tail\n2026-01-03 last\n")
	testenv.WaitFor(t, "all events", func() bool { return len(f.messages()) == 3 })
	got := f.messages()
	want := []string{"2026-01-01 panic\n  at a\n  at b", "2026-01-02 next\nstray tail", "2026-01-03 last"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestDatetimePattern(t *testing.T) {
	p, err := DatetimePattern("%Y-%m-%dT%H:%M:%S%L")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(p)
	if !re.MatchString("2026-12-06T10:00:00.123 hello") || re.MatchString("x 2026-12-06T10:00:00.123") {
		t.Errorf("%s", p)
	}
	if _, err := DatetimePattern("%Q"); err == nil {
		t.Error("%Q accepted")
	}
}

// Non-blocking: while CloudWatch fails, Write never waits; events beyond the buffer are
// dropped and counted with the failure as the reason, and shipping resumes afterwards.
func TestNonBlockingDropsWhileDown(t *testing.T) {
	f := newFake(t)
	f.setFail(errors.New("dial tcp 127.0.0.1:9: connect: connection refused"))
	s := newSink(t, f, func(c *Config) { c.MaxBuffer = 4096 })
	start := time.Now()
	for i := range 1000 {
		write(t, s, containerlog.Stdout, fmt.Sprintf("line %d\n", i))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("writes took %s", d)
	}
	testenv.WaitFor(t, "the failure in the drop reason", func() bool {
		st := s.ShipStatus()
		return st.Dropping && strings.Contains(st.Reason, "connection refused")
	})
	st := s.ShipStatus()
	if st.DroppedEvents < 800 || st.Episodes != 1 {
		t.Fatalf("status %+v", st)
	}
	f.setFail(nil)
	testenv.WaitFor(t, "the queued events shipped", func() bool { return s.ShipStatus().ShippedEvents > 0 })
	write(t, s, containerlog.Stdout, "after\n")
	testenv.WaitFor(t, "shipping again", func() bool {
		m := f.messages()
		return len(m) > 0 && m[len(m)-1] == "after"
	})
	if st := s.ShipStatus(); st.Dropping || int(st.ShippedEvents)+int(st.DroppedEvents) != 1001 {
		t.Errorf("status %+v", st)
	}
	// What was shipped is a prefix of the lines, in order, then "after".
	for i, m := range f.messages()[:len(f.messages())-1] {
		if m != fmt.Sprintf("line %d", i) {
			t.Fatalf("event %d = %q", i, m)
		}
	}
}

// Blocking: Write waits for room while CloudWatch fails, and nothing is dropped.
func TestBlockingWaits(t *testing.T) {
	f := newFake(t)
	f.setFail(errors.New("down"))
	s := newSink(t, f, func(c *Config) { c.MaxBuffer = 100; c.Blocking = true })
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20 {
			_, _ = s.Write(containerlog.Stdout, []byte(fmt.Sprintf("line %02d\n", i)))
		}
	}()
	select {
	case <-done:
		t.Fatal("20 writes into a 100-byte queue did not wait")
	case <-time.After(200 * time.Millisecond):
	}
	f.setFail(nil)
	<-done
	_ = s.Close()
	if got := len(f.messages()); got != 20 {
		t.Errorf("%d events shipped, want 20", got)
	}
	if st := s.ShipStatus(); st.DroppedEvents != 0 {
		t.Errorf("dropped %d", st.DroppedEvents)
	}
}
