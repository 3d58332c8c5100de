package warmpool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/ecsd/ecsd/internal/imdsget"
)

type reply struct {
	state string
	err   error
}

// script answers reads in order, repeating the last answer.
type script struct {
	mu      sync.Mutex
	replies []reply
	reads   int
}

func (s *script) Get(_ context.Context, path string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if path != Path {
		return "", fmt.Errorf("unexpected path %s", path)
	}
	r := s.replies[min(s.reads, len(s.replies)-1)]
	s.reads++
	return r.state, r.err
}

var (
	notFound = reply{err: fmt.Errorf("%s: %w", Path, imdsget.ErrNotFound)}
	warmed   = reply{state: "Warmed:Running"}
	inSvc    = reply{state: InService}
)

func status(code int) reply { return reply{err: &imdsget.StatusError{Code: code}} }

// run runs Wait on a fake clock, stepping it a poll interval whenever Wait sleeps, and
// returns how far the clock moved and Wait's result.
func run(t *testing.T, imds *script, maxPolls int) (time.Duration, error) {
	t.Helper()
	start := time.Unix(0, 0)
	clk := clocktesting.NewFakeClock(start)
	done := make(chan error, 1)
	go func() {
		done <- Wait(context.Background(), Options{Metadata: imds, Clock: clk, MaxPolls: maxPolls, Log: logr.Discard()})
	}()
	for {
		select {
		case err := <-done:
			return clk.Since(start), err
		default:
		}
		if clk.HasWaiters() {
			clk.Step(DefaultPollInterval)
			continue
		}
		time.Sleep(time.Millisecond)
		if clk.Since(start) > 1000*DefaultPollInterval {
			t.Fatal("Wait never returned")
		}
	}
}

// TestWaitUntilInService: no state yet, then warmed (with throttling and server errors on
// the way, waited out), then InService: Wait returns only then.
func TestWaitUntilInService(t *testing.T) {
	imds := &script{replies: []reply{notFound, notFound, warmed, warmed,
		status(503), status(503), status(503), status(503), status(503), // one read's five attempts
		status(429), warmed, inSvc}}
	elapsed, err := run(t, imds, 0)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if imds.reads != len(imds.replies) {
		t.Errorf("%d reads, want %d", imds.reads, len(imds.replies))
	}
	// Polls: 2 × 404, then 5 polls after the first state (warmed, 5×503, 429+warmed, inService)
	// = 6 intervals, plus 5 retry sleeps stepped as an interval each by the fake.
	if elapsed < 6*DefaultPollInterval {
		t.Errorf("returned after %s of clock time: it did not wait between polls", elapsed)
	}
}

// TestWaitInServiceAtOnce: an instance launched straight into service does not wait.
func TestWaitInServiceAtOnce(t *testing.T) {
	imds := &script{replies: []reply{inSvc}}
	elapsed, err := run(t, imds, 0)
	if err != nil || elapsed != 0 || imds.reads != 1 {
		t.Fatalf("Wait = %v after %s and %d reads, want nil at once after 1", err, elapsed, imds.reads)
	}
}

// TestWaitFailures: the paths that end the wait with an error.
func TestWaitFailures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		replies  []reply
		maxPolls int
		want     func(error) bool
		reads    int
	}{
		{"IMDS errors before any state: five attempts, then an error", []reply{status(500)}, 0,
			func(err error) bool { return imdsget.StatusCode(err) == 500 }, 5},
		{"IMDS unreachable", []reply{{err: errors.New("connection refused")}}, 0,
			func(err error) bool { return err != nil }, 5},
		{"no lifecycle state within MaxPolls", []reply{notFound}, 3,
			func(err error) bool { return errors.Is(err, ErrNoLifecycleState) }, 3},
		{"a non-transient failure once warmed", []reply{warmed, status(403)}, 0,
			func(err error) bool { return imdsget.StatusCode(err) == 403 }, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			imds := &script{replies: tc.replies}
			_, err := run(t, imds, tc.maxPolls)
			if !tc.want(err) {
				t.Errorf("Wait = %v", err)
			}
			if imds.reads != tc.reads {
				t.Errorf("%d reads, want %d", imds.reads, tc.reads)
			}
		})
	}
}

// TestWaitStopsWithContext: the agent stopping while warmed ends the wait.
func TestWaitStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	done := make(chan error, 1)
	go func() {
		done <- Wait(ctx, Options{Metadata: &script{replies: []reply{warmed}}, Clock: clk, Log: logr.Discard()})
	}()
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
}
