package controllers

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/ecsd/ecsd/internal/backoff"
	"github.com/ecsd/ecsd/runtime"
)

// While the runtime is down, the event stream is resubscribed with backoff and each attempt
// logs once: over a 10-minute outage, about 25 lines instead of 600. Once the runtime is
// back, events flow and a later outage starts again from the shortest wait.
func TestEventStreamBacksOffDuringOutage(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	var mu sync.Mutex
	var lines []string
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, args)
	}, funcr.Options{})
	var down atomic.Bool
	down.Store(true)
	subscribed := make(chan struct{}, 100)
	handled := make(chan runtime.Event, 10)
	s := eventStream{
		subscribe: func(ctx context.Context) (<-chan runtime.Event, <-chan error) {
			evs, errs := make(chan runtime.Event, 1), make(chan error, 1)
			if down.Load() {
				errs <- errors.New("connection refused")
			} else {
				evs <- runtime.Event{Type: runtime.EventExit, ContainerID: "c1"}
				close(evs)
			}
			subscribed <- struct{}{}
			return evs, errs
		},
		handle:  func(_ context.Context, ev runtime.Event) { handled <- ev },
		backoff: backoff.Backoff{Min: time.Second, Max: 30 * time.Second, Factor: 2},
		clock:   clk,
		log:     log,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.run(ctx)

	// Ten minutes of outage, stepped one wait at a time.
	elapsed := time.Duration(0)
	attempts := 0
	for elapsed < 10*time.Minute {
		<-subscribed
		attempts++
		waitForWaiter(t, clk)
		d := s.backoff.Delay(attempts - 1)
		clk.Step(d)
		elapsed += d
	}
	<-subscribed
	waitForWaiter(t, clk)
	mu.Lock()
	errLines := 0
	for _, l := range lines {
		if strings.Contains(l, "runtime event stream broke") {
			errLines++
		}
	}
	mu.Unlock()
	if errLines > 30 || errLines < 20 {
		t.Fatalf("%d error lines over a 10-minute outage (%d attempts), want one per backoff step (20–30)", errLines, attempts)
	}
	if !strings.Contains(lines[len(lines)-1], `"retryIn"="30s"`) {
		t.Fatalf("last line %s: want the 30 s cap", lines[len(lines)-1])
	}

	// Back: the stream delivers, and the next failure waits the minimum again.
	down.Store(false)
	clk.Step(30 * time.Second)
	<-subscribed
	if ev := <-handled; ev.ContainerID != "c1" {
		t.Fatalf("event %+v", ev)
	}
	waitForWaiter(t, clk)
	mu.Lock()
	last := lines[len(lines)-1]
	mu.Unlock()
	if !strings.Contains(last, `"retryIn"="1s"`) {
		t.Fatalf("after a stream that delivered, %s: want the backoff reset to 1s", last)
	}
}

func waitForWaiter(t *testing.T, clk *clocktesting.FakeClock) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !clk.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("the stream never waited")
		}
		time.Sleep(time.Millisecond)
	}
}
