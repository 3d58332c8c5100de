package watchdog

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/ecsd/ecsd/internal/testutil"
)

func TestTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want time.Duration
		ok   bool
		err  bool
	}{
		{name: "no watchdog", env: map[string]string{}},
		{name: "for this process", env: map[string]string{"WATCHDOG_USEC": "120000000", "WATCHDOG_PID": "42"}, want: 2 * time.Minute, ok: true},
		{name: "no PID: for whoever reads it", env: map[string]string{"WATCHDOG_USEC": "500000"}, want: 500 * time.Millisecond, ok: true},
		{name: "for another process", env: map[string]string{"WATCHDOG_USEC": "120000000", "WATCHDOG_PID": "7"}},
		{name: "not a number", env: map[string]string{"WATCHDOG_USEC": "2min"}, err: true},
		{name: "zero", env: map[string]string{"WATCHDOG_USEC": "0"}, err: true},
		{name: "bad PID", env: map[string]string{"WATCHDOG_USEC": "1000", "WATCHDOG_PID": "x"}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, ok, err := Timeout(func(k string) string { return tc.env[k] }, 42)
			if d != tc.want || ok != tc.ok || (err != nil) != tc.err {
				t.Errorf("Timeout = %v, %v, %v; want %v, %v, error %v", d, ok, err, tc.want, tc.ok, tc.err)
			}
		})
	}
}

// outcome is what the loop did with one check.
type outcome struct {
	err           error
	pinged, stale bool
}

// harness runs Run with a fake clock, a check the test answers one call at a time, and a
// notify that counts.
type harness struct {
	t        *testing.T
	clk      *clocktesting.FakeClock
	checks   chan chan error // each check hands the test a channel to answer on
	outcomes chan outcome
	mu       sync.Mutex
	pings    int
}

// timeout is the watchdog timeout the harness runs with: a check every 30 s.
const timeout = time.Minute

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, clk: clocktesting.NewFakeClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)),
		checks: make(chan chan error, 8), outcomes: make(chan outcome, 8)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Timeout: timeout, Clock: h.clk, Log: testr.New(t),
			Check: func(ctx context.Context) error {
				answer := make(chan error, 1)
				h.checks <- answer
				select {
				case err := <-answer:
					return err
				case <-ctx.Done():
					// A wedged check ignores its context: it answers only when the test says.
					return <-answer
				}
			},
			Notify: func(state string) error {
				if state != Ping {
					t.Errorf("notified %q", state)
				}
				h.mu.Lock()
				h.pings++
				h.mu.Unlock()
				return nil
			},
			handled: func(err error, pinged, stale bool) { h.outcomes <- outcome{err, pinged, stale} },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	testutil.Eventually(t, "the period's ticker", func() bool { return h.clk.HasWaiters() })
	return h
}

// check waits for the next check and returns its answer channel.
func (h *harness) check() chan error {
	h.t.Helper()
	select {
	case a := <-h.checks:
		return a
	case <-time.After(10 * time.Second):
		h.t.Fatal("no check started")
		return nil
	}
}

// noCheck: the fake clock fires tickers within Step, so a check started by a tick would
// already be on its way.
func (h *harness) noCheck() {
	h.t.Helper()
	select {
	case <-h.checks:
		h.t.Fatal("a check started before its period")
	default:
	}
}

// outcome waits until the loop has dealt with the next outcome and checks it and the
// pings so far.
func (h *harness) outcome(want outcome, pings int) {
	h.t.Helper()
	select {
	case got := <-h.outcomes:
		if !errors.Is(got.err, want.err) || got.pinged != want.pinged || got.stale != want.stale {
			h.t.Fatalf("outcome %+v, want %+v", got, want)
		}
	case <-time.After(10 * time.Second):
		h.t.Fatalf("no outcome; want %+v", want)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pings != pings {
		h.t.Fatalf("%d pings, want %d", h.pings, pings)
	}
}

// TestRunPingsEveryHalfTimeoutWhileHealthy: a check at once, then one per half timeout
// (not before), each passing one followed by a ping; a failing check, or one still
// running when the next period starts, sends nothing, and its late answer neither.
func TestRunPingsEveryHalfTimeoutWhileHealthy(t *testing.T) {
	h := newHarness(t)
	h.check() <- nil
	h.outcome(outcome{pinged: true}, 1)

	h.clk.Step(30*time.Second - time.Millisecond)
	h.noCheck()
	h.clk.Step(time.Millisecond)
	h.check() <- nil
	h.outcome(outcome{pinged: true}, 2)

	// Unhealthy: no ping for that period.
	wedged := errors.New("store wedged")
	h.clk.Step(30 * time.Second)
	h.check() <- wedged
	h.outcome(outcome{err: wedged}, 2)

	// Healthy again.
	h.clk.Step(30 * time.Second)
	h.check() <- nil
	h.outcome(outcome{pinged: true}, 3)

	// A check that hangs through its period: the next tick starts none and pings none,
	// and its answer, when it finally comes, is stale.
	h.clk.Step(30 * time.Second)
	hung := h.check()
	h.clk.Step(30 * time.Second)
	h.outcome(outcome{err: ErrStillRunning}, 3)
	h.noCheck()
	hung <- nil
	h.outcome(outcome{stale: true}, 3)
	h.clk.Step(30 * time.Second)
	h.check() <- nil
	h.outcome(outcome{pinged: true}, 4)
}
