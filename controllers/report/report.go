// Package report is the report controller: it tells ECS about every task and container
// state change with SubmitTaskStateChange (spec §5).
//
// It keeps no queue of its own. The outbox is the difference between each object's known
// status and its sent status, both persisted in the checkpoint with the object, and the
// task's recorded transitions; nextEvent derives from them the oldest change ECS has not
// acknowledged. So a change survives an agent restart or a backend outage, and changes
// arrive in order (a task that ran and stopped while ECS was unreachable is reported
// RUNNING, then STOPPED). The cleanup controller keeps a stopped task until its STOPPED
// was acknowledged (Settings.CleanupRequiresReport).
package report

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/ctrlutil"
	"github.com/ecsd/ecsd/store"
)

// Submitter sends task and attachment state changes to ECS; ecsapi.Client implements it.
type Submitter interface {
	SubmitTaskStateChange(ctx context.Context, in *ecs.SubmitTaskStateChangeInput) error
	SubmitAttachmentStateChanges(ctx context.Context, in *ecs.SubmitAttachmentStateChangesInput) error
}

// Options configures the Reporter.
type Options struct {
	// Cluster is used for tasks whose Spec carries no cluster ARN.
	Cluster string
	// FlushDelay batches container-only changes; zero means 2 s. The reference agent
	// flushes every 10–30 s; ECS users watch these, so ecsd is quicker.
	FlushDelay time.Duration
	// Permanent tells whether a submit error will never succeed, so the change is dropped
	// rather than retried forever (ECS's InvalidParameterException).
	Permanent func(error) bool
	// Concurrency bounds simultaneous submissions; zero means 10, the reference's bound.
	Concurrency int
	Logger      logr.Logger
	// Clock dates the changes sent; nil is the real clock.
	Clock clock.PassiveClock
}

// Reporter runs the report controller.
type Reporter struct {
	direct client.Client
	cache  cache.Cache
	sub    Submitter
	o      Options
	log    logr.Logger
}

// New returns a Reporter over the store's direct client and cache.
func New(direct client.Client, c cache.Cache, sub Submitter, o Options) *Reporter {
	if o.FlushDelay == 0 {
		o.FlushDelay = 2 * time.Second
	}
	if o.Concurrency == 0 {
		o.Concurrency = 10
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Permanent == nil {
		o.Permanent = func(error) bool { return false }
	}
	return &Reporter{direct: direct, cache: c, sub: sub, o: o, log: o.Logger}
}

// Run starts the controller and blocks until ctx ends.
func (r *Reporter) Run(ctx context.Context) error {
	// The reference agent retries a submission with 1 s → 30 s backoff, forever.
	c, err := ctrlutil.New("report", r, ctrlutil.Options{Workers: r.o.Concurrency, RetryMin: time.Second, RetryMax: 30 * time.Second, Log: r.log})
	if err != nil {
		return err
	}
	if err := c.Watch(source.Kind(r.cache, &api.Task{}, &handler.TypedEnqueueRequestForObject[*api.Task]{})); err != nil {
		return err
	}
	if err := c.Watch(source.Kind(r.cache, &api.Container{}, handler.TypedEnqueueRequestsFromMapFunc(
		func(_ context.Context, c *api.Container) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: c.Namespace, Name: c.Spec.TaskName}}}
		}))); err != nil {
		return err
	}
	ac, err := r.attachmentController()
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.Start(gctx) })
	g.Go(func() error { return ac.Start(gctx) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return nil
	}
	return err
}

// Reconcile submits the oldest unreported change of one task, records it as sent and
// comes back for the next one.
func (r *Reporter) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	// Direct reads: a cache lagging behind the sent-status write below would make the
	// next pass submit the same change again.
	t := &api.Task{}
	if err := r.direct.Get(ctx, req.NamespacedName, t); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if t.Spec.ARN == "" {
		return reconcile.Result{}, nil
	}
	cs, err := r.containers(ctx, t)
	if err != nil {
		return reconcile.Result{}, err
	}
	ev := nextEvent(t, cs, r.o.Cluster, r.o.Clock.Now(), r.o.FlushDelay)
	if ev == nil {
		return reconcile.Result{}, nil
	}
	if ev.in == nil {
		return reconcile.Result{RequeueAfter: ev.flushWait}, nil
	}
	log := r.log.WithValues("task", t.Spec.ARN, "status", *ev.in.Status, "containers", len(ev.in.Containers))
	if err := r.sub.SubmitTaskStateChange(ctx, ev.in); err != nil {
		if !r.o.Permanent(err) {
			log.V(1).Info("state change not accepted; retrying", "error", err.Error())
			return reconcile.Result{}, err
		}
		log.Error(err, "ECS refused the state change; dropping it")
	} else {
		log.V(1).Info("state change submitted")
	}
	if err := r.markSent(ctx, t, ev); err != nil {
		return reconcile.Result{}, err
	}
	// Status writes re-enqueue the task anyway; this makes the next change go at once.
	return reconcile.Result{Requeue: true}, nil
}

// containers returns the task's Container objects that exist.
func (r *Reporter) containers(ctx context.Context, t *api.Task) ([]*api.Container, error) {
	out := make([]*api.Container, 0, len(t.Spec.Containers))
	for _, name := range t.Spec.Containers {
		c := &api.Container{}
		err := r.direct.Get(ctx, types.NamespacedName{Namespace: t.Namespace, Name: api.ContainerName(t.Name, name)}, c)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// markSent records what ECS acknowledged, containers first: if the agent dies between the
// writes, the task change is sent again (harmless: ECS ignores a repeated status), never
// skipped.
func (r *Reporter) markSent(ctx context.Context, t *api.Task, ev *event) error {
	for name, s := range ev.contSent {
		key := types.NamespacedName{Namespace: t.Namespace, Name: name}
		err := store.RetryOnConflict(func() error {
			c := &api.Container{}
			if err := r.direct.Get(ctx, key, c); err != nil {
				return err
			}
			if !c.Status.SentStatus.OrNone().Before(s) {
				return nil
			}
			c.Status.SentStatus = s
			return r.direct.Status().Update(ctx, c)
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("record sent status of %s: %w", name, err)
		}
	}
	return store.RetryOnConflict(func() error {
		cur := &api.Task{}
		if err := r.direct.Get(ctx, client.ObjectKeyFromObject(t), cur); err != nil {
			return client.IgnoreNotFound(err)
		}
		if !cur.Status.SentStatus.OrNone().Before(ev.taskSent) {
			return nil
		}
		cur.Status.SentStatus = ev.taskSent
		return r.direct.Status().Update(ctx, cur)
	})
}
