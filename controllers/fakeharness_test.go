package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/fake"
	"github.com/ecsd/ecsd/store"
)

// fakeHarness runs a real engine on an in-memory store and the in-memory runtime: no root,
// no containerd, no registry. It is the unit-test counterpart of harness (integration).
//
// Clock: the engine (Deps.Clock) and the fake runtime share one clock. It is the real clock
// unless a scenario asks for a fake one (fakeClock): then grace periods, health intervals,
// restart periods, startTimeouts and cleanup waits pass when the test steps it (advance),
// not in real time.
type fakeHarness struct {
	t    *testing.T
	ctx  context.Context
	st   *store.Store
	rt   *fake.Runtime
	eng  *Engine
	opts Options
	deps Deps
	stop func()
	// clk is the fake clock, when the scenario runs on one; nil is the real clock.
	clk *clocktesting.FakeClock

	// cleaned receives the ARN of every task the engine cleaned up (Deps.TaskCleaned).
	cleaned chan string
	// net is the fake network layer, when the scenario has one.
	net *fake.Network
	// host is the fake host filesystem: /dev/shm mounts, ENIs found by MAC.
	host *fake.HostFS
	// onCheck is a scenario's own hook between its script and its check.
	onCheck func()

	mu sync.Mutex
	// atCreate and atSignal record, at each CreateContainer and Signal call, the runtime
	// state of every container then, by container name: what ordering rules are checked on.
	atCreate map[string]map[string]runtime.ContainerState
	atSignal []signalRecord
}

type signalRecord struct {
	call   fake.Call
	name   string
	states map[string]runtime.ContainerState
}

// fhImage is the image every scenario container uses unless it says otherwise.
const fhImage = "registry.test/ecsd/app:1"

// newFakeHarness starts an engine with unit-test options and fakes, changed by mutate; with
// a fake clock (fakeClock true) the engine and the runtime read testutil.Clock().
func newFakeHarness(t *testing.T, fakeClock bool, mutate func(*Options, *Deps)) *fakeHarness {
	t.Helper()
	// clk is what both the engine (tickers) and the fake runtime (scripted exits) need.
	var clk interface {
		clock.WithTicker
		clock.WithDelayedExecution
	} = clock.RealClock{}
	h := &fakeHarness{t: t, atCreate: map[string]map[string]runtime.ContainerState{},
		cleaned: make(chan string, 16), host: &fake.HostFS{}}
	if fakeClock {
		h.clk = testutil.Clock()
		clk = h.clk
	}
	h.rt = fake.New(clk)
	h.opts = DefaultOptions()
	h.opts.DataDir = t.TempDir()
	h.opts.Create.TaskCgroups = false
	h.opts.Namespaces.HolderBinary = ""
	h.opts.Task.CleanupWait = time.Hour
	h.opts.Task.CleanupJitter = 0
	// Events alone must drive every scenario; the relist is the safety net real engines
	// have, and a test that only passed thanks to it would hide a lost event.
	h.opts.Relist.Interval = time.Hour
	h.opts.Pull.RetryDelay = 10 * time.Millisecond
	h.opts.Start.Timeout = 5 * time.Second
	h.opts.Create.Timeout = 5 * time.Second
	h.deps = Deps{Runtime: h.rt, Cgroups: &fake.Cgroups{}, HostFS: h.host, Clock: clk,
		TaskCleaned: func(arn string) {
			select {
			case h.cleaned <- arn:
			default:
			}
		}}
	if mutate != nil {
		mutate(&h.opts, &h.deps)
	}
	h.rt.AddImage(runtime.ImageInfo{Ref: fhImage, Digest: digestOf(fhImage), ID: "sha256:cfg-" + fhImage, Size: 1 << 20}, nil)
	h.rt.SetHook(fake.MethodCreateContainer, func(_ context.Context, c fake.Call) error {
		h.record(c)
		return nil
	})
	h.rt.SetHook(fake.MethodSignal, func(_ context.Context, c fake.Call) error {
		h.record(c)
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h.ctx = ctx
	h.start(testutil.Store(t))
	return h
}

func digestOf(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// record notes the runtime state of every container at a create or signal call.
func (h *fakeHarness) record(c fake.Call) {
	states := map[string]runtime.ContainerState{}
	for _, st := range h.rt.States() {
		states[st.Labels[api.LabelContainerName]] = st
	}
	name := ""
	if cfg, ok := h.rt.Config(c.Subject); ok {
		name = cfg.Labels[api.LabelContainerName]
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch c.Method {
	case fake.MethodCreateContainer:
		h.atCreate[c.Subject] = states
	case fake.MethodSignal:
		h.atSignal = append(h.atSignal, signalRecord{call: c, name: name, states: states})
	}
}

// statesAtAppCreate returns what the runtime looked like when container "app" of the
// scenario's task was created; ok is false if it never was.
func (h *fakeHarness) statesAtAppCreate() (map[string]runtime.ContainerState, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.atCreate[h.runtimeID("app")]
	return s, ok
}

// signals returns the Signal calls made to the container name, in order.
func (h *fakeHarness) signals(name string) []signalRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []signalRecord
	for _, s := range h.atSignal {
		if s.name == name {
			out = append(out, s)
		}
	}
	return out
}

// start runs an engine on st.
func (h *fakeHarness) start(st *store.Store) {
	h.t.Helper()
	h.st = st
	ctx, cancel := context.WithCancel(h.ctx)
	eng := New(st.DirectClient(), st.Client(), st.Cache(), h.deps, h.opts, testutil.Logger(h.t))
	h.eng = eng
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	h.stop = func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			h.t.Errorf("engine stopped with %v", err)
		}
	}
	h.t.Cleanup(func() {
		if h.stop != nil {
			h.stop()
			h.stop = nil
		}
	})
}

// advance steps the fake clock by d and has every reconciler look at every object again:
// their RequeueAfter waits are controller-runtime's real-time ones, so without this a grace
// period that has passed on the fake clock would only be noticed when the real one has.
func (h *fakeHarness) advance(d time.Duration) {
	h.t.Helper()
	if h.clk == nil {
		h.t.Fatal("advance needs a scenario with fakeClock")
	}
	h.clk.Step(d)
	var tasks api.TaskList
	var ctrs api.ContainerList
	if err := h.st.DirectClient().List(h.ctx, &tasks); err != nil {
		h.t.Fatal(err)
	}
	if err := h.st.DirectClient().List(h.ctx, &ctrs); err != nil {
		h.t.Fatal(err)
	}
	for i := range tasks.Items {
		h.eng.enqueueAll(client.ObjectKeyFromObject(&tasks.Items[i]))
	}
	for i := range ctrs.Items {
		h.eng.enqueueAll(client.ObjectKeyFromObject(&ctrs.Items[i]))
	}
}

// restart stops the engine and starts a new one on a new store holding a copy of every
// object, as an agent restart with its checkpoint does. lose drops all objects instead, as
// a lost checkpoint would.
func (h *fakeHarness) restart(lose bool) { h.restartWith(lose, nil) }

// restartWith is restart with meanwhile run while no engine runs.
func (h *fakeHarness) restartWith(lose bool, meanwhile func()) {
	h.t.Helper()
	h.stop()
	h.stop = nil
	if meanwhile != nil {
		meanwhile()
	}
	var objs []client.Object
	if !lose {
		var tasks api.TaskList
		var ctrs api.ContainerList
		var imgs api.ImageList
		for _, l := range []client.ObjectList{&tasks, &ctrs, &imgs} {
			if err := h.st.DirectClient().List(h.ctx, l); err != nil {
				h.t.Fatal(err)
			}
		}
		for i := range tasks.Items {
			objs = append(objs, &tasks.Items[i])
		}
		for i := range ctrs.Items {
			objs = append(objs, &ctrs.Items[i])
		}
		for i := range imgs.Items {
			objs = append(objs, &imgs.Items[i])
		}
		for _, o := range objs {
			o.SetResourceVersion("")
			o.SetUID("")
		}
	}
	h.start(testutil.Store(h.t, objs...))
}

// fhTask returns a task and its containers as the ECS side writes them.
func fhTask(id string, containers ...api.ContainerSpec) (*api.Task, []*api.Container) {
	t := &api.Task{
		ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: id},
		Spec: api.TaskSpec{
			ARN:           "arn:aws:ecs:us-west-2:111122223333:task/test/" + id,
			Family:        "test",
			Version:       "1",
			DesiredStatus: api.TaskStatusRunning,
			NetworkMode:   "host",
		},
	}
	var cs []*api.Container
	for _, spec := range containers {
		spec.TaskName = id
		t.Spec.Containers = append(t.Spec.Containers, spec.Name)
		cs = append(cs, &api.Container{
			ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: api.ContainerName(id, spec.Name),
				Labels: map[string]string{api.LabelTaskName: id}},
			Spec: spec,
		})
	}
	return t, cs
}

// ctr is an essential container of fhImage.
func ctr(name string) api.ContainerSpec {
	return api.ContainerSpec{Name: name, Image: fhImage, Essential: true}
}

// sidecar is a non-essential container of fhImage.
func sidecar(name string) api.ContainerSpec {
	c := ctr(name)
	c.Essential = false
	return c
}

func arnOf(task string) string { return "arn:aws:ecs:us-west-2:111122223333:task/test/" + task }

// runtimeID is the runtime ID the engine gives container name of the scenario's task.
func (h *fakeHarness) runtimeID(name string) string { return api.RuntimeID(arnOf(tid), name) }

// script sets what container name of the scenario's task does once started.
func (h *fakeHarness) script(name string, p fake.Process) {
	h.rt.ScriptContainer(h.runtimeID(name), p)
}

func (h *fakeHarness) run(t *api.Task, cs []*api.Container) {
	h.t.Helper()
	objs := []client.Object{t}
	for _, c := range cs {
		objs = append(objs, c)
	}
	if err := h.st.CreateOrUpdateAll(h.ctx, objs...); err != nil {
		h.t.Fatalf("write task: %v", err)
	}
}

// stopTask sets the scenario task's desired status to STOPPED, as a StopTask from ECS does.
func (h *fakeHarness) stopTask() {
	h.t.Helper()
	err := store.RetryOnConflict(func() error {
		t := h.task()
		t.Spec.DesiredStatus = api.TaskStatusStopped
		return h.st.DirectClient().Update(h.ctx, t)
	})
	if err != nil {
		h.t.Fatalf("stop task: %v", err)
	}
}

// task is the scenario's task as stored now.
func (h *fakeHarness) task() *api.Task {
	id := tid
	h.t.Helper()
	t := &api.Task{}
	if err := h.st.DirectClient().Get(h.ctx, types.NamespacedName{Namespace: api.Namespace, Name: id}, t); err != nil {
		h.t.Fatalf("get task %s: %v", id, err)
	}
	return t
}

func (h *fakeHarness) container(task, name string) *api.Container {
	h.t.Helper()
	c := &api.Container{}
	if err := h.st.DirectClient().Get(h.ctx, types.NamespacedName{Namespace: api.Namespace, Name: api.ContainerName(task, name)}, c); err != nil {
		h.t.Fatalf("get container %s/%s: %v", task, name, err)
	}
	return c
}

// waitTask waits until cond holds for the task and returns it; on a timeout the failure
// shows the task's last state.
func (h *fakeHarness) waitTask(id, what string, cond func(*api.Task) bool) *api.Task {
	h.t.Helper()
	var last *api.Task
	defer func() {
		if h.t.Failed() {
			h.t.Logf("task %s last seen: %s", id, fhDescribe(last))
		}
	}()
	testutil.Eventually(h.t, fmt.Sprintf("task %s: %s", id, what), func() bool {
		t := &api.Task{}
		if err := h.st.DirectClient().Get(h.ctx, types.NamespacedName{Namespace: api.Namespace, Name: id}, t); err != nil {
			return false
		}
		last = t
		return cond(t)
	})
	return last
}

// waitContainer waits until cond holds for container name of the scenario's task.
func (h *fakeHarness) waitContainer(name, what string, cond func(*api.Container) bool) *api.Container {
	h.t.Helper()
	task := tid
	var last *api.Container
	defer func() {
		if h.t.Failed() && last != nil {
			h.t.Logf("container %s/%s last seen: %+v", task, name, last.Status)
		}
	}()
	testutil.Eventually(h.t, fmt.Sprintf("container %s/%s: %s", task, name, what), func() bool {
		c := &api.Container{}
		if err := h.st.DirectClient().Get(h.ctx, types.NamespacedName{Namespace: api.Namespace, Name: api.ContainerName(task, name)}, c); err != nil {
			return false
		}
		last = c
		return cond(c)
	})
	return last
}

// waitGone waits until the task object is deleted.
func (h *fakeHarness) waitGone(id string) {
	h.t.Helper()
	testutil.Eventually(h.t, "task "+id+" cleaned up", func() bool {
		err := h.st.DirectClient().Get(h.ctx, types.NamespacedName{Namespace: api.Namespace, Name: id}, &api.Task{})
		return client.IgnoreNotFound(err) == nil && err != nil
	})
}

func fhDescribe(t *api.Task) string {
	if t == nil {
		return "<none>"
	}
	return fmt.Sprintf("known=%s desired=%s/%s reason=%q", t.Status.KnownStatus, t.Spec.DesiredStatus, t.Status.DesiredStatus, t.Status.StoppedReason)
}

func taskKnown(s api.TaskState) func(*api.Task) bool {
	return func(t *api.Task) bool { return t.Status.KnownStatus == s }
}

func ctrKnown(s api.ContainerState) func(*api.Container) bool {
	return func(c *api.Container) bool { return c.Status.KnownStatus == s }
}

func healthIs(s api.HealthState) func(*api.Container) bool {
	return func(c *api.Container) bool { return c.Status.Health != nil && c.Status.Health.Status == s }
}

// assertForwardOnly checks the rule that known statuses never move backward (§6.2), on the
// task's and every container's recorded history.
func (h *fakeHarness) assertForwardOnly(task string) {
	h.t.Helper()
	t := &api.Task{}
	if err := h.st.DirectClient().Get(h.ctx, clientKey(task), t); err != nil {
		return // cleaned up: nothing left to check
	}
	taskOrder := []api.TaskState{api.TaskStatusNone, api.TaskStatusManifestPulled, api.TaskStatusCreated, api.TaskStatusRunning, api.TaskStatusStopped}
	check := func(who string, hist []api.Transition, rank func(string) int) {
		for _, tr := range hist {
			if strings.HasPrefix(tr.From, "health:") || tr.From == tr.To {
				continue
			}
			if rank(tr.From) >= rank(tr.To) {
				h.t.Errorf("%s moved backward: %s → %s (%q)", who, tr.From, tr.To, tr.Reason)
			}
		}
	}
	check("task "+task, t.Status.History, func(s string) int { return slices.Index(taskOrder, api.TaskState(s)) })
	for _, name := range t.Spec.Containers {
		c := h.container(task, name)
		check("container "+name, c.Status.History, func(s string) int {
			st := api.ContainerState(s)
			n := 0
			for _, o := range []api.ContainerState{api.ContainerStatusNone, api.ContainerStatusManifestPulled, api.ContainerStatusPulled,
				api.ContainerStatusCreated, api.ContainerStatusRunning, api.ContainerStatusResourcesProvisioned, api.ContainerStatusStopped} {
				if o == st {
					return n
				}
				n++
			}
			return -1
		})
	}
}

func exitCode(c *api.Container) string {
	if c.Status.ExitCode == nil {
		return "<nil>"
	}
	return fmt.Sprint(*c.Status.ExitCode)
}

func clientKey(name string) types.NamespacedName {
	return types.NamespacedName{Namespace: api.Namespace, Name: name}
}

// dataPath is a path under the engine's data directory.
func (h *fakeHarness) dataPath(elem ...string) string {
	return filepath.Join(append([]string{h.opts.DataDir}, elem...)...)
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// tornDown reports whether the fake network layer was asked to tear down id.
func (h *fakeHarness) tornDown(id string) bool {
	return h.net.Called("teardown " + id)
}

// fakeInputs serves secrets and environment files from maps; err fails every read.
type fakeInputs struct {
	secrets map[string]string
	err     error
}

func (f fakeInputs) ContainerEnv(context.Context, string, map[string][]api.SecretRef, string) (map[string]string, error) {
	return f.secrets, f.err
}

func (f fakeInputs) EnvFiles(_ context.Context, _ string, files []api.EnvironmentFile) ([]map[string]string, error) {
	if f.err != nil {
		return nil, f.err
	}
	return make([]map[string]string, len(files)), nil
}
