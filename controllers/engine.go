package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// taskIndex is the cache index of Containers by owning task name.
const taskIndex = "spec.taskName"

// Engine wires the reconcilers to the store and the runtime. It holds no task state of its
// own: everything lives in objects.
type Engine struct {
	// direct reads and writes the store with no cache lag; cached reads from informers.
	direct client.Client
	cached client.Client
	cache  cache.Cache
	rt     runtime.Runtime
	s      Settings
	clk    clock.WithTicker
	log    logr.Logger
	// adopter gives runtime containers without objects their objects back before the
	// orphan sweep may look at them.
	adopter *Adopter

	mu     sync.Mutex
	queues []workqueue.TypedRateLimitingInterface[reconcile.Request]
	pulls  singleflight.Group
	// imageMu serialises Image object bookkeeping.
	imageMu sync.Mutex
	// ns keeps the shared namespaces of pidMode/ipcMode "task" tasks.
	ns *TaskNamespaces
}

// New returns an engine; Run starts it.
func New(direct, cached client.Client, c cache.Cache, rt runtime.Runtime, s Settings, log logr.Logger) *Engine {
	return &Engine{direct: direct, cached: cached, cache: c, rt: rt, s: s, clk: s.clock(), log: log,
		adopter: NewAdopter(direct, rt, s, log.WithName("adopt")),
		ns:      NewTaskNamespaces(rt, s.HostFS, s.HolderBinary, s.DataDir, log.WithName("task-namespaces"))}
}

// phase is one container reconciler: the step it owns and when a container is its business.
type phase struct {
	name    string
	workers int
	inPhase func(*api.Container) bool
	r       reconcile.Func
}

// Run builds every controller and runs them until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.cache.IndexField(ctx, &api.Container{}, taskIndex, func(o client.Object) []string {
		return []string{o.(*api.Container).Spec.TaskName}
	}); err != nil {
		return fmt.Errorf("index containers by task: %w", err)
	}
	if err := e.cache.IndexField(ctx, &api.Container{}, runtimeIDIndex, indexRuntimeID); err != nil {
		return fmt.Errorf("index containers by runtime ID: %w", err)
	}
	var ctrls []controller.TypedController[reconcile.Request]

	taskCtrl, err := e.newController("task", 4, reconcile.Func(e.reconcileTask))
	if err != nil {
		return err
	}
	if err := taskCtrl.Watch(source.Kind(e.cache, &api.Task{}, &handler.TypedEnqueueRequestForObject[*api.Task]{})); err != nil {
		return err
	}
	if err := taskCtrl.Watch(source.Kind(e.cache, &api.Container{}, handler.TypedEnqueueRequestsFromMapFunc(
		func(_ context.Context, c *api.Container) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: c.Namespace, Name: c.Spec.TaskName}}}
		}))); err != nil {
		return err
	}
	ctrls = append(ctrls, taskCtrl)

	for _, p := range e.phases() {
		c, err := e.newController(p.name, p.workers, p.r)
		if err != nil {
			return err
		}
		if err := e.watchContainers(c, p.inPhase); err != nil {
			return err
		}
		ctrls = append(ctrls, c)
	}

	if e.s.Network != nil {
		netCtrl, err := e.newController("task-network", 2, reconcile.Func(e.reconcileTaskNetwork))
		if err != nil {
			return err
		}
		if err := netCtrl.Watch(source.Kind(e.cache, &api.Task{}, &handler.TypedEnqueueRequestForObject[*api.Task]{})); err != nil {
			return err
		}
		if err := netCtrl.Watch(source.Kind(e.cache, &api.Container{}, handler.TypedEnqueueRequestsFromMapFunc(
			func(_ context.Context, c *api.Container) []reconcile.Request {
				return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: c.Namespace, Name: c.Spec.TaskName}}}
			}))); err != nil {
			return err
		}
		ctrls = append(ctrls, netCtrl)
	}

	nsCtrl, err := e.newController("task-namespaces", 2, reconcile.Func(e.reconcileTaskNamespaces))
	if err != nil {
		return err
	}
	if err := nsCtrl.Watch(source.Kind(e.cache, &api.Task{}, &handler.TypedEnqueueRequestForObject[*api.Task]{})); err != nil {
		return err
	}
	ctrls = append(ctrls, nsCtrl)

	cleanupCtrl, err := e.newController("cleanup", 2, reconcile.Func(e.reconcileCleanup))
	if err != nil {
		return err
	}
	if err := cleanupCtrl.Watch(source.Kind(e.cache, &api.Task{}, &handler.TypedEnqueueRequestForObject[*api.Task]{})); err != nil {
		return err
	}
	ctrls = append(ctrls, cleanupCtrl)

	g, gctx := errgroup.WithContext(ctx)
	for _, c := range ctrls {
		g.Go(func() error { return c.Start(gctx) })
	}
	g.Go(func() error { return e.runRuntimeEvents(gctx) })
	g.Go(func() error { return e.runRelist(gctx) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		// Stopping: controller-runtime may report the interruption as a failed cache
		// sync rather than as a cancellation.
		return nil
	}
	return err
}

func (e *Engine) phases() []phase {
	return []phase{
		{name: "pull", workers: 8, inPhase: needsPull, r: reconcile.Func(e.reconcilePull)},
		{name: "create", workers: 8, inPhase: needsCreate, r: reconcile.Func(e.reconcileCreate)},
		{name: "start", workers: 16, inPhase: needsStart, r: reconcile.Func(e.reconcileStart)},
		{name: "stop", workers: 16, inPhase: needsStop, r: reconcile.Func(e.reconcileStop)},
		{name: "release", workers: 4, inPhase: needsRelease, r: reconcile.Func(e.reconcileRelease)},
	}
}

func (e *Engine) newController(name string, workers int, r reconcile.Reconciler) (controller.TypedController[reconcile.Request], error) {
	c, err := controller.NewTypedUnmanaged(name, controller.TypedOptions[reconcile.Request]{
		Reconciler:              r,
		MaxConcurrentReconciles: workers,
		// Level-triggered retries should come back fast: 100 ms doubling to 30 s, not the
		// default 1000 s ceiling, and no global token bucket throttling a burst of tasks.
		RateLimiter:        workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](100*time.Millisecond, 30*time.Second),
		SkipNameValidation: ptr.To(true),
		UsePriorityQueue:   ptr.To(false),
		NeedLeaderElection: ptr.To(false),
		Logger:             e.log.WithName(name),
		NewQueue: func(name string, rl workqueue.TypedRateLimiter[reconcile.Request]) workqueue.TypedRateLimitingInterface[reconcile.Request] {
			q := workqueue.NewTypedRateLimitingQueueWithConfig(rl, workqueue.TypedRateLimitingQueueConfig[reconcile.Request]{Name: name})
			e.mu.Lock()
			e.queues = append(e.queues, q)
			e.mu.Unlock()
			return q
		},
	})
	if err != nil {
		return nil, fmt.Errorf("controller %s: %w", name, err)
	}
	return c, nil
}

// watchContainers enqueues a container when it, a sibling or its task changes, as long as
// the container is in the controller's phase: dependsOn and shutdown order make siblings'
// changes matter.
func (e *Engine) watchContainers(c controller.TypedController[reconcile.Request], inPhase func(*api.Container) bool) error {
	siblingsInPhase := func(ctx context.Context, ns, task string) []reconcile.Request {
		var list api.ContainerList
		if err := e.cached.List(ctx, &list, client.InNamespace(ns), client.MatchingFields{taskIndex: task}); err != nil {
			e.log.Error(err, "list containers of task", "task", task)
			return nil
		}
		var out []reconcile.Request
		for i := range list.Items {
			if inPhase(&list.Items[i]) {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
			}
		}
		return out
	}
	if err := c.Watch(source.Kind(e.cache, &api.Container{}, handler.TypedEnqueueRequestsFromMapFunc(
		func(ctx context.Context, o *api.Container) []reconcile.Request {
			return siblingsInPhase(ctx, o.Namespace, o.Spec.TaskName)
		}))); err != nil {
		return err
	}
	return c.Watch(source.Kind(e.cache, &api.Task{}, handler.TypedEnqueueRequestsFromMapFunc(
		func(ctx context.Context, t *api.Task) []reconcile.Request {
			return siblingsInPhase(ctx, t.Namespace, t.Name)
		})))
}

// enqueueAll adds a container key to every controller queue; each reconciler ignores what
// is not its business.
func (e *Engine) enqueueAll(key types.NamespacedName) {
	e.mu.Lock()
	qs := append([]workqueue.TypedRateLimitingInterface[reconcile.Request](nil), e.queues...)
	e.mu.Unlock()
	for _, q := range qs {
		q.Add(reconcile.Request{NamespacedName: key})
	}
}

// runRuntimeEvents turns containerd events into reconcile requests, finding the container
// by its recorded runtime ID in the cache's index (one map lookup per event). An event for
// an ID no object has recorded yet (the create event before the create step's status
// write) is dropped: that status write enqueues the container itself.
func (e *Engine) runRuntimeEvents(ctx context.Context) error {
	eventStream{
		subscribe: e.rt.Events,
		handle: func(ctx context.Context, ev runtime.Event) {
			if key, ok := e.containerByRuntimeID(ctx, ev.ContainerID); ok {
				e.enqueueAll(key)
			}
		},
		backoff: eventsBackoff,
		clock:   e.clk,
		log:     e.log,
	}.run(ctx)
	return nil
}

// runRelist re-enqueues every container and task periodically so a lost event can only
// delay a step, never lose it. The sweeps (adoption first) also run once at the start, so
// a task whose objects were lost is back at once.
func (e *Engine) runRelist(ctx context.Context) error {
	interval := e.s.RelistInterval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	t := e.clk.NewTicker(interval)
	defer t.Stop()
	e.sweepOrphans(ctx)
	e.sweepNetworks(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
		var list api.ContainerList
		if err := e.cached.List(ctx, &list); err != nil {
			e.log.Error(err, "relist containers")
			continue
		}
		for i := range list.Items {
			e.enqueueAll(client.ObjectKeyFromObject(&list.Items[i]))
		}
		var tasks api.TaskList
		if err := e.cached.List(ctx, &tasks); err != nil {
			e.log.Error(err, "relist tasks")
			continue
		}
		for i := range tasks.Items {
			e.enqueueAll(client.ObjectKeyFromObject(&tasks.Items[i]))
		}
		e.sweepOrphans(ctx)
		e.sweepNetworks(ctx)
		e.sweepNamespaceHolders(ctx)
	}
}

// sweepOrphans first gives runtime containers whose objects were lost (a damaged
// checkpoint, a quarantined record) their objects back (Adopter), then removes runtime
// containers of the agent's namespace that no object owns and none can be made for (no ECS
// labels) and that are not running. A running orphan is left alone and reported, as the
// reference agent leaves containers it does not track; killing a workload on a guess is
// worse than leaking one. A container that can be adopted is never removed here.
func (e *Engine) sweepOrphans(ctx context.Context) {
	res, err := e.adopter.Adopt(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Error(err, "adoption pass failed; skipping the orphan sweep")
		}
		return
	}
	for _, rc := range res.Orphans {
		if rc.Status == runtime.StatusRunning {
			e.log.Info("runtime container has no object and is left running", "container", rc.ID)
			continue
		}
		if err := e.rt.RemoveContainer(ctx, rc.ID); err != nil {
			e.log.Error(err, "remove orphaned runtime container", "container", rc.ID)
			continue
		}
		e.log.Info("removed orphaned runtime container", "container", rc.ID)
	}
}
