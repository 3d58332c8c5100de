package logship

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/backoff"
	"github.com/ecsd/ecsd/internal/containerlog"
)

// fakeSender records what it is sent; while down it fails every send.
type fakeSender struct {
	mu    sync.Mutex
	down  bool
	sends int
	got   []Message
}

func (f *fakeSender) Send(_ context.Context, batch []Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends++
	if f.down {
		return errors.New("receiver down")
	}
	f.got = append(f.got, batch...)
	return nil
}

func (f *fakeSender) Close() error { return nil }

// up brings the receiver back.
func (f *fakeSender) up() {
	f.mu.Lock()
	f.down = false
	f.mu.Unlock()
}

func (f *fakeSender) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.got {
		out = append(out, fmt.Sprintf("%s:%s:%v", m.Stream, m.Line, m.Partial))
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var fastBackoff = backoff.Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond, Factor: 2}

// Lines are cut at line ends per stream, in order; an unfinished line is sent when the
// sink closes; a line longer than MaxLine goes in pieces marked partial.
func TestLines(t *testing.T) {
	f := &fakeSender{}
	s, err := New(Config{Driver: "test", Sender: f, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Write(containerlog.Stdout, []byte("a\nb"))
	_, _ = s.Write(containerlog.Stderr, []byte("e1\n"))
	_, _ = s.Write(containerlog.Stdout, []byte("c\n\n"))
	_, _ = s.Write(containerlog.Logger, []byte("marker\n")) // the logger's own lines are not shipped
	long := strings.Repeat("x", MaxLine+10)
	_, _ = s.Write(containerlog.Stdout, []byte(long+"\nrest"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"stdout:a:false", "stderr:e1:false", "stdout:bc:false", "stdout::false",
		"stdout:" + strings.Repeat("x", MaxLine) + ":true", "stdout:xxxxxxxxxx:false", "stdout:rest:false"}
	if got := f.lines(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %d messages %.200q\nwant %.200q", len(got), got, want)
	}
	if st := s.ShipStatus(); st.ShippedEvents != int64(len(want)) || st.DroppedEvents != 0 {
		t.Errorf("status %+v", st)
	}
}

// While the receiver is down a non-blocking sink queues up to MaxBuffer, then drops and
// counts with the sender's error as the reason; Write never waits. Once the receiver is
// back, what was queued is sent in order and the drop episode ends.
func TestNonBlockingDropsAndRecovers(t *testing.T) {
	f := &fakeSender{down: true}
	var mu sync.Mutex
	var reports []string
	s, err := New(Config{Driver: "test", Sender: f, MaxBuffer: 10 * (messageOverhead + 8), Backoff: fastBackoff,
		Errorf: func(format string, a ...any) {
			mu.Lock()
			reports = append(reports, fmt.Sprintf(format, a...))
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a failed send", func() bool {
		_, _ = s.Write(containerlog.Stdout, []byte("line-000\n"))
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.sends > 0
	})
	start := time.Now()
	for i := range 1000 {
		_, _ = s.Write(containerlog.Stdout, fmt.Appendf(nil, "line-%03d\n", i%1000))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("1000 writes took %s with the receiver down", d)
	}
	st := s.ShipStatus()
	if !st.Dropping || st.DroppedEvents < 900 || st.Episodes != 1 || st.Reason != "receiver down" {
		t.Errorf("status while down %+v", st)
	}
	f.up()
	waitFor(t, "the queue sent", func() bool { return s.ShipStatus().ShippedEvents >= 10 })
	_, _ = s.Write(containerlog.Stdout, []byte("after\n"))
	_ = s.Close()
	got := f.lines()
	if len(got) < 10 || got[len(got)-1] != "stdout:after:false" {
		t.Errorf("sent %q", got)
	}
	if st := s.ShipStatus(); st.Dropping || st.DroppedEvents+st.ShippedEvents < 1000 {
		t.Errorf("status after %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(strings.Join(reports, "\n"), "dropping messages") {
		t.Errorf("reports %q", reports)
	}
}

// In blocking mode a write waits for room while the receiver is down, and StopBlocking
// releases it.
func TestBlocking(t *testing.T) {
	f := &fakeSender{down: true}
	s, err := New(Config{Driver: "test", Sender: f, Blocking: true, MaxBuffer: 2 * (messageOverhead + 4), Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		for range 10 {
			_, _ = s.Write(containerlog.Stdout, []byte("abc\n"))
		}
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("blocking writes did not wait for room")
	case <-time.After(200 * time.Millisecond):
	}
	s.StopBlocking()
	<-done
	_ = s.Close()
	if st := s.ShipStatus(); st.DroppedEvents == 0 {
		t.Errorf("status %+v", st)
	}
}

// MaxRetries drops a batch that keeps failing, so later output is not held up; the
// MaxMessages bound counts messages.
func TestMaxRetriesAndMaxMessages(t *testing.T) {
	f := &fakeSender{down: true}
	s, err := New(Config{Driver: "test", Sender: f, MaxRetries: 2, MaxMessages: 3, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_, _ = s.Write(containerlog.Stdout, []byte("m\n"))
	}
	if st := s.ShipStatus(); st.DroppedEvents < 2 {
		t.Errorf("MaxMessages 3: status %+v", st)
	}
	waitFor(t, "the batch given up", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.sends >= 3
	})
	waitFor(t, "the queue emptied", func() bool { return s.ShipStatus().DroppedEvents == 5 })
	_ = s.Close()
}
