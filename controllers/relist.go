package controllers

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// Relister re-enqueues every container and task periodically so a lost event can only
// delay a step, never lose it, and runs the sweeps after each pass. The sweeps (adoption
// first) also run once at the start, so a task whose objects were lost is back at once.
type Relister struct {
	Cached  client.Reader
	Enqueue func(types.NamespacedName)
	Sweeps  []Sweep
	Clock   clock.WithTicker
	Log     logr.Logger
	Options RelistOptions
}

// Run relists until ctx ends.
func (r Relister) Run(ctx context.Context) error {
	interval := r.Options.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	t := r.Clock.NewTicker(interval)
	defer t.Stop()
	r.sweep(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
		var list api.ContainerList
		if err := r.Cached.List(ctx, &list); err != nil {
			r.Log.Error(err, "relist containers")
			continue
		}
		for i := range list.Items {
			r.Enqueue(client.ObjectKeyFromObject(&list.Items[i]))
		}
		var tasks api.TaskList
		if err := r.Cached.List(ctx, &tasks); err != nil {
			r.Log.Error(err, "relist tasks")
			continue
		}
		for i := range tasks.Items {
			r.Enqueue(client.ObjectKeyFromObject(&tasks.Items[i]))
		}
		r.sweep(ctx)
	}
}

func (r Relister) sweep(ctx context.Context) {
	for _, s := range r.Sweeps {
		s.Sweep(ctx)
	}
}
