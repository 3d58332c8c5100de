package spotdrain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/ecsd/ecsd/internal/imdsget"
)

// reply is one answer of the fake IMDS.
type reply struct {
	body string
	err  error
}

// script answers the polls in order, repeating the last answer.
type script struct {
	mu      sync.Mutex
	replies []reply
	polls   int
}

func (s *script) Get(_ context.Context, path string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if path != Path {
		return "", errors.New("unexpected path " + path)
	}
	r := s.replies[min(s.polls, len(s.replies)-1)]
	s.polls++
	return r.body, r.err
}

// logLines records what was logged.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.lines = append(l.lines, args)
	}, funcr.Options{})
}

func (l *logLines) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

const notice = `{"action":"terminate","time":"2026-12-07T10:02:00Z"}`

// TestRunDrainsOnceAfterNotice: 404s are quiet, a failing IMDS is logged once however long
// it fails, an unusable notice is logged and ignored, a failed drain is retried one
// interval later, and Run ends after the first successful drain.
func TestRunDrainsOnceAfterNotice(t *testing.T) {
	notFound := fmtNotFound()
	imds := &script{replies: []reply{
		{err: notFound}, {err: notFound},
		{err: &imdsget.StatusError{Code: 500}}, {err: &imdsget.StatusError{Code: 500}}, {err: &imdsget.StatusError{Code: 500}},
		{err: notFound},
		{body: `{"action":"reboot"}`}, {body: `{"action":"reboot"}`},
		{body: notice},
	}}
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	var drains int
	var mu sync.Mutex
	logs := &logLines{}
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Options{Metadata: imds, Clock: clk, Log: logs.logger(),
			Drain: func(context.Context) error {
				mu.Lock()
				defer mu.Unlock()
				drains++
				if drains == 1 {
					return errors.New("ThrottlingException")
				}
				return nil
			}})
	}()
	steps := 0
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if drains != 2 {
				t.Errorf("%d drain calls, want 2 (one failed, one retried)", drains)
			}
			if imds.polls != 10 {
				t.Errorf("%d polls, want 10", imds.polls)
			}
			if steps != 9 {
				t.Errorf("%d intervals elapsed, want 9: a poll per interval", steps)
			}
			for s, want := range map[string]int{
				"cannot read the Spot instance action":       1,
				"answers again":                              1,
				"ignoring the Spot instance action":          1,
				"Spot interruption notice:":                  1,
				"cannot set the container instance DRAINING": 1,
				"set to DRAINING for the Spot interruption":  1,
			} {
				if got := logs.count(s); got != want {
					t.Errorf("logged %q %d times, want %d", s, got, want)
				}
			}
			return
		default:
		}
		if clk.HasWaiters() {
			clk.Step(DefaultInterval)
			steps++
			continue
		}
		time.Sleep(time.Millisecond)
		if steps > 100 {
			t.Fatal("Run never drained")
		}
	}
}

// TestRunStopsWithContext: without a notice Run polls until its context ends.
func TestRunStopsWithContext(t *testing.T) {
	imds := &script{replies: []reply{{err: fmtNotFound()}}}
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Metadata: imds, Clock: clk, Log: logr.Discard(),
			Drain: func(context.Context) error { t.Error("drained without a notice"); return nil }})
	}()
	for i := 0; i < 5; {
		if clk.HasWaiters() {
			clk.Step(DefaultInterval)
			i++
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
}

func TestParseNotice(t *testing.T) {
	for body, ok := range map[string]bool{
		notice: true,
		`{"action":"stop","time":"2026-12-07T10:02:00Z"}`: true,
		`{"action":"hibernate"}`:                          true,
		`{"action":"reboot"}`:                             false,
		`{}`:                                              false,
		`not json`:                                        false,
	} {
		if _, err := ParseNotice(body); (err == nil) != ok {
			t.Errorf("ParseNotice(%s) = %v, want ok %v", body, err, ok)
		}
	}
}

// fmtNotFound is a 404 as imdsget.Client reports it.
func fmtNotFound() error { return fmt.Errorf("%s: %w", Path, imdsget.ErrNotFound) }
