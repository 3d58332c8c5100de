//go:build integration

package controllers

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime/cgroups"
	"github.com/ecsd/ecsd/runtime/containerd"
	"github.com/ecsd/ecsd/runtime/hostfs"
	"github.com/ecsd/ecsd/store"
)

// harness runs a real engine: the store with a bbolt checkpoint, real containerd and runc,
// images from the local registry. Each harness gets its own containerd namespace and data
// directory and removes everything it created.
type harness struct {
	t    *testing.T
	ctx  context.Context
	st   *store.Store
	rt   *containerd.Runtime
	eng  *Engine
	ns   string
	dir  string
	opts Options
	deps Deps
	stop func()
}

func newHarness(t *testing.T, mutate func(*Options, *Deps)) *harness {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireContainerd(t)
	h := &harness{t: t, ns: testenv.UniqueName(t, "eng"), dir: t.TempDir()}
	h.opts = DefaultOptions()
	h.opts.DataDir = h.dir
	h.opts.Task.CleanupWait = time.Hour
	h.opts.Relist.Interval = 2 * time.Second
	h.opts.Pull.RetryDelay = 20 * time.Millisecond
	h.deps.Cgroups = cgroups.Manager{Mount: cgroups.DefaultMount, Root: cgroups.DefaultRoot}
	h.deps.HostFS = hostfs.Host{}
	if mutate != nil {
		mutate(&h.opts, &h.deps)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h.ctx = ctx
	rt, err := containerd.New(ctx, testenv.ContainerdAddress(), h.ns)
	if err != nil {
		t.Fatalf("containerd: %v", err)
	}
	h.rt = rt
	h.deps.Runtime = rt
	t.Cleanup(func() { h.purge() })
	h.start()
	return h
}

// start opens the store on the harness's checkpoint and runs the engine.
func (h *harness) start() {
	h.t.Helper()
	scheme := k8sruntime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		h.t.Fatal(err)
	}
	st, err := store.New(h.ctx, scheme, store.WithCheckpoint(h.dir+"/ecsd.db"), store.WithLogger(testr.New(h.t)))
	if err != nil {
		h.t.Fatalf("store: %v", err)
	}
	h.st = st
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 2)
	go func() { done <- st.Cache().Start(ctx) }()
	h.eng = New(st.DirectClient(), st.Client(), st.Cache(), h.deps, h.opts, testr.NewWithOptions(h.t, testr.Options{Verbosity: 0}))
	go func() { done <- h.eng.Run(ctx) }()
	if !st.Cache().WaitForCacheSync(ctx) {
		h.t.Fatal("cache did not sync")
	}
	h.stop = func() {
		cancel()
		for i := 0; i < 2; i++ {
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				h.t.Errorf("engine stopped with %v", err)
			}
		}
		st.Close()
	}
	h.t.Cleanup(func() {
		if h.stop != nil {
			h.stop()
			h.stop = nil
		}
	})
}

// restart stops the engine and starts a new one on the same checkpoint, as an agent
// restart would.
func (h *harness) restart() {
	h.stop()
	h.stop = nil
	h.start()
}

// purge removes every container and image the test created in its namespace.
func (h *harness) purge() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.rt.Purge(ctx); err != nil {
		h.t.Errorf("purge namespace %s: %v", h.ns, err)
	}
}

// newTask is fhTask (the fake harness's, untagged): one builder of tasks for both harnesses.
func newTask(id string, containers ...api.ContainerSpec) (*api.Task, []*api.Container) {
	return fhTask(id, containers...)
}

func (h *harness) run(t *api.Task, cs []*api.Container) {
	h.t.Helper()
	objs := []client.Object{t}
	for _, c := range cs {
		objs = append(objs, c)
	}
	if err := h.st.CreateOrUpdateAll(h.ctx, objs...); err != nil {
		h.t.Fatalf("write task: %v", err)
	}
}

// stopTask sets the task's desired status to STOPPED, as a StopTask from ECS does.
func (h *harness) stopTask(id string) {
	h.t.Helper()
	t := h.task(id)
	t.Spec.DesiredStatus = api.TaskStatusStopped
	if err := h.st.DirectClient().Update(h.ctx, t); err != nil {
		h.t.Fatalf("stop task: %v", err)
	}
}

func (h *harness) task(id string) *api.Task {
	h.t.Helper()
	t := &api.Task{}
	if err := h.st.DirectClient().Get(h.ctx, types.NamespacedName{Namespace: api.Namespace, Name: id}, t); err != nil {
		h.t.Fatalf("get task %s: %v", id, err)
	}
	return t
}

func (h *harness) container(task, name string) *api.Container {
	h.t.Helper()
	c := &api.Container{}
	if err := h.st.DirectClient().Get(h.ctx, types.NamespacedName{Namespace: api.Namespace, Name: api.ContainerName(task, name)}, c); err != nil {
		h.t.Fatalf("get container %s/%s: %v", task, name, err)
	}
	return c
}

// waitTask polls until cond holds for the task, failing with the last seen state.
func (h *harness) waitTask(id string, timeout time.Duration, what string, cond func(*api.Task) bool) *api.Task {
	h.t.Helper()
	var last *api.Task
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		t := &api.Task{}
		if err := h.st.DirectClient().Get(h.ctx, types.NamespacedName{Namespace: api.Namespace, Name: id}, t); err == nil {
			last = t
			if cond(t) {
				return t
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("task %s: timed out waiting for %s; last status: %s", id, what, describe(last))
	return nil
}

func (h *harness) waitContainer(task, name string, timeout time.Duration, what string, cond func(*api.Container) bool) *api.Container {
	h.t.Helper()
	var last *api.Container
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c := &api.Container{}
		if err := h.st.DirectClient().Get(h.ctx, types.NamespacedName{Namespace: api.Namespace, Name: api.ContainerName(task, name)}, c); err == nil {
			last = c
			if cond(c) {
				return c
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("container %s/%s: timed out waiting for %s; last status: %+v", task, name, what, last)
	return nil
}

func describe(t *api.Task) string {
	if t == nil {
		return "<none>"
	}
	return fmt.Sprintf("known=%s desired=%s/%s reason=%q", t.Status.KnownStatus, t.Spec.DesiredStatus, t.Status.DesiredStatus, t.Status.StoppedReason)
}

func known(s api.TaskState) func(*api.Task) bool {
	return func(t *api.Task) bool { return t.Status.KnownStatus == s }
}
