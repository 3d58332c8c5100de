package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/ctrlutil"
)

// taskIndex is the cache index of Containers by owning task name.
const taskIndex = "spec.taskName"

// Engine is only wiring: it builds the reconcilers from Options and Deps, puts each behind
// its own controller watching the store, and runs them with the runtime event stream and
// the relist. It holds no task state of its own: everything lives in objects.
type Engine struct {
	cached  client.Client
	cache   cache.Cache
	log     logr.Logger
	adopter *Adopter

	// containers are the container reconcilers with the phase each owns; tasks the task
	// reconcilers. runnables run beside the controllers.
	containers []phase
	tasks      []taskController
	runnables  []func(context.Context) error
	// images reconciles Image objects (image cleanup's status of each image).
	images reconcile.Reconciler

	mu     sync.Mutex
	queues []ctrlutil.Queue
}

// phase is one container reconciler: when a container is its business, and how many
// containers it works on at once.
type phase struct {
	name    string
	workers int
	inPhase func(*api.Container) bool
	r       reconcile.Reconciler
}

// taskController is one task reconciler; withContainers also enqueues a task when one of
// its containers changes.
type taskController struct {
	name           string
	workers        int
	withContainers bool
	r              reconcile.Reconciler
}

// New builds every reconciler over the store's direct client (reads see every write that
// returned), its cached client and cache (watches, indexes); Run starts them.
func New(direct, cached client.Client, c cache.Cache, d Deps, o Options, log logr.Logger) *Engine {
	clk := d.clock()
	ns := NewTaskNamespaces(d.Runtime, d.HostFS, o.Namespaces.HolderBinary, o.DataDir, log.WithName("task-namespaces"))
	vols := NewTaskVolumes(d.Volumes, o.DataDir, o.Volumes, log.WithName("volumes"))
	images := NewImageUsers(direct)
	guard := NewImageGuard()
	imageCleanup := &ImageCleanupReconciler{Client: direct, Runtime: d.Runtime, Guard: guard, Clock: clk,
		Log: log.WithName("image-cleanup"), Options: o.Images}
	e := &Engine{cached: cached, cache: c, log: log,
		adopter: NewAdopter(direct, d.Runtime, d.Network, o.DataDir, o.Network, o.Adopt, clk, log.WithName("adopt"))}
	e.containers = []phase{
		{"pull", 8, needsPull, &PullReconciler{Client: direct, Runtime: d.Runtime, Auth: d.Auth, Images: images,
			Guard: guard, Room: imageCleanup, Clock: clk, Log: log.WithName("pull"), Options: o.Pull}},
		{"create", 8, needsCreate, &CreateReconciler{Client: direct, Cached: cached, Runtime: d.Runtime, Network: d.Network,
			HostFS: d.HostFS, Cgroups: d.Cgroups, Namespaces: ns, Volumes: vols, Inputs: d.Inputs, Security: d.Security, Clock: clk,
			Log: log.WithName("create"), DataDir: o.DataDir, Options: o.Create, NetworkOptions: o.Network, Metadata: o.Metadata}},
		{"start", 16, needsStart, &StartReconciler{Client: direct, Runtime: d.Runtime, Clock: clk, Log: log.WithName("start"),
			DataDir: o.DataDir, Options: o.Start, Metadata: o.Metadata, HealthChecks: !o.Health.Disable}},
		{"stop", 16, needsStop, &StopReconciler{Client: direct, Runtime: d.Runtime, Clock: clk, Options: o.Stop}},
	}
	if !o.Health.Disable {
		e.containers = append(e.containers, phase{"health", 8, needsHealthCheck,
			&HealthReconciler{Client: direct, Runtime: d.Runtime, Clock: clk, Log: log.WithName("health"), Options: o.Health}})
	}
	e.tasks = []taskController{
		{"task", 4, true, &TaskReconciler{Client: direct, Clock: clk, Log: log.WithName("task"), Options: o.Task}},
		{"task-namespaces", 2, false, &TaskNamespacesReconciler{Client: direct, Namespaces: ns}},
		{"cleanup", 2, false, &CleanupReconciler{Client: direct, Runtime: d.Runtime, Namespaces: ns, Volumes: vols, Cgroups: d.Cgroups,
			Images: images, TaskCleaned: d.TaskCleaned, Clock: clk, Log: log.WithName("cleanup"), DataDir: o.DataDir, Options: o.Cleanup}},
	}
	if d.Network != nil {
		e.containers = append(e.containers, phase{"release", 4, needsRelease, &ReleaseReconciler{Client: direct, Network: d.Network, Clock: clk}})
		e.tasks = append(e.tasks, taskController{"task-network", 2, true, &TaskNetworkReconciler{Client: direct, Network: d.Network, Clock: clk}})
	}
	e.images = imageCleanup
	e.runnables = []func(context.Context) error{
		imageCleanup.Run,
		RuntimeEvents{Cached: cached, Subscribe: d.Runtime.Events, Enqueue: e.enqueueAll, Clock: clk, Log: log}.Run,
		Relister{Cached: cached, Enqueue: e.enqueueAll, Clock: clk, Log: log, Options: o.Relist, Sweeps: []Sweep{
			OrphanSweep{Adopter: e.adopter, Runtime: d.Runtime, Log: log},
			NetworkSweep{Client: direct, Network: d.Network, Log: log},
			HolderSweep{Client: direct, Runtime: d.Runtime, Namespaces: ns, Log: log},
		}}.Run,
	}
	return e
}

// Adopt runs one adoption pass (see Adopter): the agent calls it before it talks to ECS,
// so running containers whose objects were lost are reported as its own.
func (e *Engine) Adopt(ctx context.Context) (AdoptResult, error) { return e.adopter.Adopt(ctx) }

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
	for _, t := range e.tasks {
		c, err := e.newController(t.name, t.workers, t.r)
		if err != nil {
			return err
		}
		if err := e.watchTask(c, t.withContainers); err != nil {
			return err
		}
		ctrls = append(ctrls, c)
	}
	for _, p := range e.containers {
		c, err := e.newController(p.name, p.workers, p.r)
		if err != nil {
			return err
		}
		if err := e.watchContainers(c, p.inPhase); err != nil {
			return err
		}
		ctrls = append(ctrls, c)
	}
	ic, err := e.newController("image-cleanup", 1, e.images)
	if err != nil {
		return err
	}
	if err := ic.Watch(source.Kind(e.cache, &api.Image{}, &handler.TypedEnqueueRequestForObject[*api.Image]{})); err != nil {
		return err
	}
	// A container that pulled an image keeps it until the container is deleted: its
	// image's status changes then (and when a pull records a digest), not on the
	// container's other writes.
	if err := ic.Watch(source.Kind(e.cache, &api.Container{}, handler.TypedEnqueueRequestsFromMapFunc(
		func(_ context.Context, c *api.Container) []reconcile.Request {
			if c.Status.ImageDigest == "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: c.Namespace, Name: api.ImageName(c.Status.ImageDigest)}}}
		}), predicate.TypedFuncs[*api.Container]{
		UpdateFunc: func(e event.TypedUpdateEvent[*api.Container]) bool {
			return e.ObjectOld.Status.ImageDigest != e.ObjectNew.Status.ImageDigest
		},
		GenericFunc: func(event.TypedGenericEvent[*api.Container]) bool { return false },
	})); err != nil {
		return err
	}
	ctrls = append(ctrls, ic)
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range ctrls {
		g.Go(func() error { return c.Start(gctx) })
	}
	for _, run := range e.runnables {
		g.Go(func() error { return run(gctx) })
	}
	err = g.Wait()
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		// Stopping: controller-runtime may report the interruption as a failed cache
		// sync rather than as a cancellation.
		return nil
	}
	return err
}

func (e *Engine) newController(name string, workers int, r reconcile.Reconciler) (controller.TypedController[reconcile.Request], error) {
	// Level-triggered retries should come back fast: 100 ms doubling to 30 s, not the
	// default 1000 s ceiling.
	return ctrlutil.New(name, r, ctrlutil.Options{Workers: workers, RetryMin: 100 * time.Millisecond, RetryMax: 30 * time.Second,
		Log: e.log.WithName(name), OnQueue: func(q ctrlutil.Queue) {
			e.mu.Lock()
			e.queues = append(e.queues, q)
			e.mu.Unlock()
		}})
}

// watchTask enqueues a task when it changes and, withContainers, when one of its
// containers does.
func (e *Engine) watchTask(c controller.TypedController[reconcile.Request], withContainers bool) error {
	if err := c.Watch(source.Kind(e.cache, &api.Task{}, &handler.TypedEnqueueRequestForObject[*api.Task]{})); err != nil {
		return err
	}
	if !withContainers {
		return nil
	}
	return c.Watch(source.Kind(e.cache, &api.Container{}, handler.TypedEnqueueRequestsFromMapFunc(
		func(_ context.Context, c *api.Container) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: c.Namespace, Name: c.Spec.TaskName}}}
		})))
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
	qs := append([]ctrlutil.Queue(nil), e.queues...)
	e.mu.Unlock()
	for _, q := range qs {
		q.Add(reconcile.Request{NamespacedName: key})
	}
}
