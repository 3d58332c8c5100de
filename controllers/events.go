package controllers

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/backoff"
	"github.com/ecsd/ecsd/runtime"
)

// RuntimeEvents turns runtime events into reconcile requests, finding the container by its
// recorded runtime ID in the cache's index (one map lookup per event). An event for an ID
// no object has recorded yet (the create event before the create step's status write) is
// dropped: that status write enqueues the container itself.
type RuntimeEvents struct {
	// Cached has the runtimeIDIndex.
	Cached    client.Reader
	Subscribe func(context.Context) (<-chan runtime.Event, <-chan error)
	// Enqueue hands a container to every controller; each ignores what is not its business.
	Enqueue func(types.NamespacedName)
	Clock   clock.Clock
	Log     logr.Logger
}

// Run keeps the subscription until ctx ends.
func (r RuntimeEvents) Run(ctx context.Context) error {
	eventStream{
		subscribe: r.Subscribe,
		handle: func(ctx context.Context, ev runtime.Event) {
			if key, ok := containerByRuntimeID(ctx, r.Cached, r.Log, ev.ContainerID); ok {
				r.Enqueue(key)
			}
		},
		backoff: eventsBackoff,
		clock:   r.Clock,
		log:     r.Log,
	}.run(ctx)
	return nil
}

// containerByRuntimeID returns the key of the Container whose recorded runtime ID is id,
// from the informer cache's index: one map lookup, cheap enough for every containerd event.
// A container whose create has not been recorded yet is not found; its status write
// enqueues it anyway.
func containerByRuntimeID(ctx context.Context, cached client.Reader, log logr.Logger, id string) (types.NamespacedName, bool) {
	var list api.ContainerList
	if err := cached.List(ctx, &list, client.InNamespace(api.Namespace), client.MatchingFields{runtimeIDIndex: id}); err != nil {
		log.Error(err, "look up container by runtime ID", "runtimeID", id)
		return types.NamespacedName{}, false
	}
	if len(list.Items) == 0 {
		return types.NamespacedName{}, false
	}
	return client.ObjectKeyFromObject(&list.Items[0]), true
}

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
