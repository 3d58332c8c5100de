package stats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/runtime"
)

const mib = 1 << 20

// activeTask is a task with known status RUNNING, family web, revision 3.
func activeTask(name string, containers ...string) *api.Task {
	t := task(name, "bridge", containers...)
	t.Spec.Family, t.Spec.Version = "web", "3"
	t.Status.KnownStatus = api.TaskStatusRunning
	return t
}

func setTaskStatus(t *testing.T, r client.Client, name string, st api.TaskState) {
	t.Helper()
	ctx := context.Background()
	var task api.Task
	if err := r.Get(ctx, client.ObjectKey{Namespace: api.Namespace, Name: name}, &task); err != nil {
		t.Fatal(err)
	}
	task.Status.KnownStatus = st
	if err := r.Update(ctx, &task); err != nil {
		t.Fatal(err)
	}
}

// pass steps the clock by d and samples once.
func pass(t *testing.T, s *Sampler, clock *clocktesting.FakeClock, d time.Duration) {
	t.Helper()
	clock.Step(d)
	if err := s.Sample(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// steady is a container using 1 s of CPU every 5 s (10 % of 2 CPUs) and 80 MiB of memory
// (100 MiB minus 20 MiB of cache).
func steady(_ string, n int) (runtime.Stats, error) {
	return runtime.Stats{Time: t0.Add(time.Duration(n) * 5 * time.Second), CPUUsageNanos: uint64(n) * 1e9,
		MemoryUsage: 100 * mib, MemoryCache: 20 * mib}, nil
}

// TestFlushWindows: TCS's windows hold the containers of RUNNING tasks only, with CPU in
// percent of the instance and memory in MiB of working set; a container is handed over
// once it has two CPU samples, and its window restarts; restarts are counted per window
// for restart-policy containers; a pass that finds nothing TCS reports on makes Flush idle.
func TestFlushWindows(t *testing.T) {
	app := activeTask("t1", "app", "init")
	early := task("t3", "bridge", "app") // not RUNNING yet: documents, but no window
	early.Spec.Family = "web"
	appCtr := ctr("t1", "app", "rid-app", api.ContainerStatusRunning, false)
	appCtr.Spec.RestartPolicy = &api.RestartPolicy{Enabled: true}
	r := newReader(t, app, appCtr, ctr("t1", "init", "", api.ContainerStatusCreated, false),
		early, ctr("t3", "app", "rid-early", api.ContainerStatusRunning, false))
	clock := clocktesting.NewFakeClock(t0)
	s, rt, _ := newTestSampler(t, r, clock, 5*time.Second)
	// app: cumulative CPU 0, 1, 3, 4 s at 5 s steps on 2 CPUs = 10 %, 20 %, 10 %;
	// memory 100, 120, 110, 130 MiB minus 20 MiB of cache; steady afterwards.
	cpu := []uint64{0, 1e9, 3e9, 4e9}
	mem := []uint64{100, 120, 110, 130}
	rt.fn = func(id string, n int) (runtime.Stats, error) {
		if id != "rid-app" {
			return steady(id, n)
		}
		if n >= len(cpu) {
			st, err := steady(id, n)
			st.CPUUsageNanos += 1e9 // continues app's counter at 1 s per 5 s
			return st, err
		}
		return runtime.Stats{Time: t0.Add(time.Duration(n) * 5 * time.Second), CPUUsageNanos: cpu[n],
			MemoryUsage: mem[n] * mib, MemoryCache: 20 * mib}, nil
	}
	if tasks, idle := s.Flush(); idle || tasks != nil {
		t.Fatalf("before any pass: %v idle=%v, want nothing (not even idle)", tasks, idle)
	}
	for i := range 4 {
		pass(t, s, clock, min(time.Duration(i), 1)*5*time.Second)
	}
	tasks, idle := s.Flush()
	if idle || len(tasks) != 1 {
		t.Fatalf("Flush = %+v idle=%v, want t1", tasks, idle)
	}
	tu := tasks[0]
	if tu.Task != (TaskRef{ARN: app.Spec.ARN, Family: "web", Version: "3"}) || len(tu.Containers) != 1 {
		t.Fatalf("task usage %+v", tu)
	}
	cu := tu.Containers[0]
	if want := (Set{Min: 10, Max: 20, Count: 3, Sum: 40}); cu.Name != "app" || cu.CPU == nil || *cu.CPU != want {
		t.Errorf("app cpu %+v, want %+v", cu.CPU, want)
	}
	if want := (Set{Min: 80, Max: 110, Count: 4, Sum: 380}); cu.Memory == nil || *cu.Memory != want {
		t.Errorf("app memory %+v, want %+v", cu.Memory, want)
	}
	if cu.Restarts == nil || *cu.Restarts != 0 {
		t.Errorf("restarts %v, want 0", cu.Restarts)
	}
	// The task that is not RUNNING yet has its documents all the same.
	if _, ok := s.ContainerStats("rid-early", false); !ok {
		t.Error("no document for a running container of a task not RUNNING yet")
	}

	// A new task and one more pass: t1 has one unsent CPU sample, t2 none; both wait.
	r2 := r.(client.Client)
	if err := r2.Create(context.Background(), activeTask("t2", "web")); err != nil {
		t.Fatal(err)
	}
	if err := r2.Create(context.Background(), ctr("t2", "web", "rid-web", api.ContainerStatusRunning, false)); err != nil {
		t.Fatal(err)
	}
	pass(t, s, clock, 5*time.Second)
	if tasks, idle := s.Flush(); idle || len(tasks) != 0 {
		t.Fatalf("with one sample: %+v idle=%v, want nothing and not idle", tasks, idle)
	}
	// The samples held back are kept: t1 now has two, t2 one. Two restarts happened.
	setStatus(t, r2, "t1-app", func(s *api.ContainerStatus) { s.RestartCount = 2 })
	pass(t, s, clock, 5*time.Second)
	tasks, _ = s.Flush()
	if len(tasks) != 1 || tasks[0].Task.ARN != app.Spec.ARN {
		t.Fatalf("Flush = %+v, want only t1", tasks)
	}
	cu = tasks[0].Containers[0]
	if want := (Set{Min: 10, Max: 10, Count: 2, Sum: 20}); *cu.CPU != want {
		t.Errorf("cpu %+v, want %+v", cu.CPU, want)
	}
	if cu.Restarts == nil || *cu.Restarts != 2 {
		t.Errorf("restarts %v, want 2 (since the last Flush)", cu.Restarts)
	}

	// t1 stops (its container lingers): its window closes; t2 alone is reported, without
	// restarts (no restart policy). When t2 stops too, Flush is idle.
	setTaskStatus(t, r2, "t1", api.TaskStatusStopped)
	pass(t, s, clock, 5*time.Second)
	tasks, _ = s.Flush()
	if len(tasks) != 1 || tasks[0].Task.ARN != activeTask("t2").Spec.ARN || tasks[0].Containers[0].Restarts != nil {
		t.Fatalf("Flush = %+v, want t2 without restarts", tasks)
	}
	setTaskStatus(t, r2, "t2", api.TaskStatusStopped)
	pass(t, s, clock, 5*time.Second)
	if _, idle := s.Flush(); !idle {
		t.Error("no running task, but not idle")
	}
}

// TestFlushCounterResetAndErrors: a CPU counter that goes back (the task was replaced in
// place) only rebases; a container the runtime no longer knows is skipped; a cancelled
// pass returns the context's error.
func TestFlushCounterResetAndErrors(t *testing.T) {
	r := newReader(t, activeTask("t1", "app", "gone"),
		ctr("t1", "app", "rid-app", api.ContainerStatusRunning, false),
		ctr("t1", "gone", "rid-gone", api.ContainerStatusRunning, false))
	clock := clocktesting.NewFakeClock(t0)
	s, rt, _ := newTestSampler(t, r, clock, 5*time.Second)
	s.numCPU = 1
	cpu := []uint64{10e9, 11e9, 1e9, 2e9, 3e9}
	rt.fail = map[string]error{"rid-gone": fmt.Errorf("stats: %w", runtime.ErrNotFound)}
	rt.fn = func(_ string, n int) (runtime.Stats, error) {
		return runtime.Stats{Time: t0.Add(time.Duration(n) * 5 * time.Second), CPUUsageNanos: cpu[n], MemoryUsage: 10 * mib}, nil
	}
	for range 5 {
		pass(t, s, clock, 5*time.Second)
	}
	tasks, _ := s.Flush()
	if len(tasks) != 1 || len(tasks[0].Containers) != 1 {
		t.Fatalf("Flush = %+v, want app only", tasks)
	}
	// 1 s per 5 s on 1 CPU = 20 %, three times (the reset reading gives no sample).
	if got, want := *tasks[0].Containers[0].CPU, (Set{Min: 20, Max: 20, Count: 3, Sum: 60}); got != want {
		t.Errorf("cpu %+v, want %+v", got, want)
	}
	clock.Step(5 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Sample(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Sample with a cancelled context: %v", err)
	}
}

// TestFlushWindowBound: while nothing is flushed, a window restarts once its first sample
// is older than TCS accepts, instead of aggregating the whole outage.
func TestFlushWindowBound(t *testing.T) {
	r := newReader(t, activeTask("t1", "app"), ctr("t1", "app", "rid-app", api.ContainerStatusRunning, false))
	clock := clocktesting.NewFakeClock(t0)
	s, rt, _ := newTestSampler(t, r, clock, 5*time.Second)
	rt.fn = func(id string, n int) (runtime.Stats, error) {
		st, _ := steady(id, n)
		st.Time = time.Time{} // no runtime clock: the sampler's is used
		return st, nil
	}
	for range 70 { // 70 × 5 s > 5 min
		pass(t, s, clock, 5*time.Second)
	}
	tasks, _ := s.Flush()
	if len(tasks) != 1 {
		t.Fatalf("Flush = %+v", tasks)
	}
	set := tasks[0].Containers[0].CPU
	if set.Count < 2 || set.Count > int64(maxWindow/(5*time.Second))+1 || set.Min != 10 || set.Max != 10 {
		t.Errorf("cpu set %+v spans more than the window", set)
	}
}

func TestHealth(t *testing.T) {
	since := metav1.NewTime(t0.Add(-time.Minute))
	checked := func(c *api.Container, h *api.Health) *api.Container {
		c.Spec.HealthCheck = &api.HealthCheck{Test: []string{"CMD-SHELL", "true"}}
		c.Status.Health = h
		return c
	}
	disabled := ctr("t1", "e", "rid-e", api.ContainerStatusRunning, false)
	disabled.Spec.HealthCheck = &api.HealthCheck{Test: []string{"NONE"}}
	stopped := activeTask("t3", "a")
	stopped.Status.KnownStatus = api.TaskStatusStopped
	r := newReader(t, activeTask("t1", "a", "b", "c", "d", "e"),
		checked(ctr("t1", "a", "rid-a", api.ContainerStatusRunning, false), &api.Health{Status: api.HealthHealthy, Since: &since, Output: "ok"}),
		checked(ctr("t1", "b", "rid-b", api.ContainerStatusRunning, false), nil),
		ctr("t1", "c", "rid-c", api.ContainerStatusRunning, false),
		checked(ctr("t1", "d", "rid-d", api.ContainerStatusStopped, false), &api.Health{Status: api.HealthUnhealthy}),
		disabled,
		activeTask("t2", "plain"), ctr("t2", "plain", "rid-p", api.ContainerStatusRunning, false),
		stopped, checked(ctr("t3", "a", "rid-3a", api.ContainerStatusStopped, false), nil))
	clock := clocktesting.NewFakeClock(t0)
	s, _, _ := newTestSampler(t, r, clock, 5*time.Second)
	got, err := s.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []TaskHealth{{Task: TaskRef{ARN: activeTask("t1").Spec.ARN, Family: "web", Version: "3"}, Containers: []ContainerHealth{
		{Name: "a", Status: api.HealthHealthy, Since: since.Time, Output: "ok"},
		{Name: "b", Status: api.HealthUnknown, Since: t0},
	}}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Health =\n%+v\nwant\n%+v", got, want)
	}
}

// TestSnapshot: the metrics view has every sampled running container's latest figures,
// sorted, with working set and network totals derived as documented.
func TestSnapshot(t *testing.T) {
	r := newReader(t, activeTask("t1", "app", "side"),
		ctr("t1", "app", "rid-app", api.ContainerStatusRunning, true),
		ctr("t1", "side", "rid-side", api.ContainerStatusRunning, false))
	clock := clocktesting.NewFakeClock(t0)
	s, rt, _ := newTestSampler(t, r, clock, 5*time.Second)
	if snap := s.Snapshot(); len(snap) != 0 {
		t.Fatalf("snapshot before a pass: %+v", snap)
	}
	rt.fn = func(id string, n int) (runtime.Stats, error) {
		st, _ := steady(id, n)
		st.MemoryLimit, st.Pids = 64*mib, 3
		return st, nil
	}
	pass(t, s, clock, 0)
	pass(t, s, clock, 5*time.Second)
	snap := s.Snapshot()
	if len(snap) != 2 || snap[0].Name != "app" || snap[1].Name != "side" {
		t.Fatalf("snapshot %+v", snap)
	}
	app := snap[0]
	want := ContainerSnapshot{RuntimeID: "rid-app", Name: "app", Task: TaskRef{ARN: activeTask("t1").Spec.ARN, Family: "web", Version: "3"},
		At: t0.Add(5 * time.Second), CPUUsageNanos: 1e9, MemoryUsageBytes: 100 * mib, MemoryWorkingSetBytes: 80 * mib,
		MemoryLimitBytes: 64 * mib, Pids: 3, HasNetwork: true, NetworkRxBytes: 2 * rxStep, NetworkTxBytes: 2 * txStep}
	if app != want {
		t.Errorf("app snapshot\n%+v\nwant\n%+v", app, want)
	}
	if snap[1].HasNetwork || snap[1].NetworkRxBytes != 0 {
		t.Errorf("host-network container has network figures: %+v", snap[1])
	}
}

// blockingRuntime holds every Stats call until released, recording how many were in
// flight at once.
type blockingRuntime struct {
	mu       sync.Mutex
	inFlight int
	most     int
	release  chan struct{}
}

func (b *blockingRuntime) Stats(ctx context.Context, _ string) (runtime.Stats, error) {
	b.mu.Lock()
	b.inFlight++
	b.most = max(b.most, b.inFlight)
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.inFlight--
		b.mu.Unlock()
	}()
	select {
	case <-b.release:
		return runtime.Stats{CPUUsageNanos: 1}, nil
	case <-ctx.Done():
		return runtime.Stats{}, ctx.Err()
	}
}

func (b *blockingRuntime) current() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inFlight
}

// TestConcurrencyBound: a pass over six containers keeps at most Concurrency runtime
// reads in flight, and still reads them all.
func TestConcurrencyBound(t *testing.T) {
	objs := []client.Object{activeTask("t1", "a", "b", "c", "d", "e", "f")}
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		objs = append(objs, ctr("t1", n, "rid-"+n, api.ContainerStatusRunning, false))
	}
	rt := &blockingRuntime{release: make(chan struct{})}
	s, err := New(Options{Reader: newReader(t, objs...), Runtime: rt, Concurrency: 2,
		Clock: clocktesting.NewFakeClock(t0), Logger: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	s.hostCPU = func() (uint64, uint32, error) { return 0, 1, nil }
	done := make(chan error, 1)
	go func() { done <- s.Sample(context.Background()) }()
	for left := 6; left > 0; left-- {
		testutil.Eventually(t, "reads in flight", func() bool { return rt.current() == min(left, 2) })
		rt.release <- struct{}{}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rt.most != 2 {
		t.Errorf("%d reads in flight at most, want 2", rt.most)
	}
	if n := len(s.Snapshot()); n != 6 {
		t.Errorf("%d containers sampled, want 6", n)
	}
}
