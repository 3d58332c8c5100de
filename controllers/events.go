package controllers

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	"github.com/ecsd/ecsd/internal/backoff"
	"github.com/ecsd/ecsd/runtime"
)

// eventsBackoff paces resubscribing to the runtime's event stream. While containerd is down
// every attempt fails at once; each failure is logged, so the log gets one line per step
// (1 s, 2 s, 4 s … 30 s) rather than one a second for the whole outage.
var eventsBackoff = backoff.Backoff{Min: time.Second, Max: 30 * time.Second, Factor: 2, Jitter: 0.1}

// eventsHealthy is how long a stream must have stayed up for its end to count as a new
// outage (the backoff starts again from its minimum).
const eventsHealthy = time.Minute

// eventStream keeps a subscription to the runtime's container events and hands each event to
// handle. Anything missed while the stream is down is caught by the relist.
type eventStream struct {
	subscribe func(context.Context) (<-chan runtime.Event, <-chan error)
	handle    func(context.Context, runtime.Event)
	backoff   backoff.Backoff
	clock     clock.Clock
	log       logr.Logger
}

// run subscribes, and after each broken stream resubscribes with backoff, until ctx ends.
func (s eventStream) run(ctx context.Context) {
	failures := 0
	for {
		start := s.clock.Now()
		delivered, err := s.serve(ctx)
		if ctx.Err() != nil {
			return
		}
		if delivered || s.clock.Since(start) >= eventsHealthy {
			failures = 0
		}
		wait := s.backoff.Delay(failures)
		failures++
		if err != nil {
			s.log.Error(err, "runtime event stream broke; resubscribing", "retryIn", wait.Round(time.Millisecond).String(), "attempt", failures)
		} else {
			s.log.Info("runtime event stream ended; resubscribing", "retryIn", wait.Round(time.Millisecond).String())
		}
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(wait):
		}
	}
}

// serve consumes one subscription until it ends; it reports whether it delivered any event
// and the error that ended it.
func (s eventStream) serve(ctx context.Context) (bool, error) {
	evs, errs := s.subscribe(ctx)
	delivered := false
	for {
		select {
		case <-ctx.Done():
			return delivered, nil
		case ev, ok := <-evs:
			if !ok {
				return delivered, nil
			}
			if !delivered {
				delivered = true
				s.log.V(1).Info("runtime event stream up")
			}
			s.handle(ctx, ev)
		case err, ok := <-errs:
			if !ok {
				return delivered, nil
			}
			return delivered, err
		}
	}
}
