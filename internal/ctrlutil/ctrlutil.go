// Package ctrlutil builds ecsd's controller-runtime controllers one way. The agent runs no
// manager: each controller is unmanaged, needs no leader election and no unique name, and
// retries failed items with a per-item exponential backoff with no global token bucket, so
// a burst of tasks is never throttled behind one failing item.
package ctrlutil

import (
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Queue is a controller's work queue.
type Queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// Options are what differs between ecsd's controllers.
type Options struct {
	// Workers is how many items are reconciled at once; zero is one.
	Workers int
	// RetryMin and RetryMax bound the per-item backoff of failed reconciles.
	RetryMin, RetryMax time.Duration
	Log                logr.Logger
	// OnQueue, when set, is handed the controller's queue once it exists, for callers that
	// enqueue items themselves (runtime events, the relist).
	OnQueue func(Queue)
}

// New returns an unmanaged controller named name over r.
func New(name string, r reconcile.Reconciler, o Options) (controller.TypedController[reconcile.Request], error) {
	opts := controller.TypedOptions[reconcile.Request]{
		Reconciler:              r,
		MaxConcurrentReconciles: max(o.Workers, 1),
		RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](o.RetryMin, o.RetryMax),
		SkipNameValidation:      ptr.To(true),
		UsePriorityQueue:        ptr.To(false),
		NeedLeaderElection:      ptr.To(false),
		Logger:                  o.Log,
	}
	if o.OnQueue != nil {
		opts.NewQueue = func(name string, rl workqueue.TypedRateLimiter[reconcile.Request]) Queue {
			q := workqueue.NewTypedRateLimitingQueueWithConfig(rl, workqueue.TypedRateLimitingQueueConfig[reconcile.Request]{Name: name})
			o.OnQueue(q)
			return q
		}
	}
	c, err := controller.NewTypedUnmanaged(name, opts)
	if err != nil {
		return nil, fmt.Errorf("controller %s: %w", name, err)
	}
	return c, nil
}
