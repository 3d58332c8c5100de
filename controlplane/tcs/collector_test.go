package tcs

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

func TestCollectorStatsSets(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	addTask(t, st, "t1", api.TaskStatusRunning,
		testCtr{name: "app", restart: true},
		testCtr{name: "init", status: api.ContainerStatusCreated, noRuntime: true})
	// A task not RUNNING yet: its running container is not sampled.
	addTask(t, st, "t3", api.TaskStatusCreated, testCtr{name: "app"})

	// app: cumulative CPU 0, 1, 3, 4 s at 5 s steps on 2 CPUs = 10 %, 20 %, 10 %;
	// memory 100, 120, 110, 130 MiB minus 20 MiB of cache.
	cpu := []uint64{0, 1e9, 3e9, 4e9, 5e9, 6e9, 7e9}
	mem := []uint64{100, 120, 110, 130, 100, 100, 100}
	stats := newFakeStats(func(id string, n int) (runtime.Stats, error) {
		if id == rid("t2", "web") {
			return steadyStats(id, n)
		}
		return runtime.Stats{Time: epoch.Add(time.Duration(n) * 5 * time.Second), CPUUsageNanos: cpu[n],
			MemoryUsage: mem[n] * mib, MemoryCache: 20 * mib}, nil
	})
	c, err := NewCollector(CollectorOptions{Reader: st.DirectClient(), Stats: stats, NumCPU: 2, Logger: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	if tasks, idle := c.Flush(); idle || tasks != nil {
		t.Fatalf("before any sample: %v idle=%v, want nothing (not even idle)", tasks, idle)
	}
	for range 4 {
		if err := c.Sample(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tasks, idle := c.Flush()
	if idle || len(tasks) != 1 {
		t.Fatalf("Flush = %+v idle=%v, want t1", tasks, idle)
	}
	tm := tasks[0]
	if tm.TaskArn != taskARN("t1") || tm.TaskDefinitionFamily != "web" || tm.TaskDefinitionVersion != "3" || len(tm.ContainerMetrics) != 1 {
		t.Fatalf("task metric %+v", tm)
	}
	cm := tm.ContainerMetrics[0]
	wantCPU := CWStatsSet{Min: 10, Max: 20, SampleCount: 3, Sum: 40}
	wantMem := CWStatsSet{Min: 80, Max: 110, SampleCount: 4, Sum: 380}
	if cm.ContainerName != "app" || *cm.CPUStatsSet != wantCPU || *cm.MemoryStatsSet != wantMem {
		t.Errorf("app: cpu %+v mem %+v, want %+v %+v", cm.CPUStatsSet, cm.MemoryStatsSet, wantCPU, wantMem)
	}
	if cm.RestartStatsSet == nil || cm.RestartStatsSet.RestartCount != 0 {
		t.Errorf("restart set %+v, want 0", cm.RestartStatsSet)
	}
	for _, id := range []string{rid("t1", "init"), rid("t3", "app")} {
		if n := stats.count(id); n != 0 {
			t.Errorf("%s sampled %d times; it is not running", id, n)
		}
	}

	// A new task and one more sample: t1 has one unsent CPU sample, t2 none; both wait.
	addTask(t, st, "t2", api.TaskStatusRunning, testCtr{name: "web"})
	if err := c.Sample(ctx); err != nil {
		t.Fatal(err)
	}
	if tasks, idle := c.Flush(); idle || len(tasks) != 0 {
		t.Fatalf("with one sample: %+v idle=%v, want nothing and not idle", tasks, idle)
	}
	// The samples held back are kept: t1 now has two, t2 one. Two restarts happened.
	setRestarts(t, st, "t1-app", 2)
	if err := c.Sample(ctx); err != nil {
		t.Fatal(err)
	}
	tasks, _ = c.Flush()
	if len(tasks) != 1 || tasks[0].TaskArn != taskARN("t1") {
		t.Fatalf("Flush = %+v, want only t1", tasks)
	}
	cm = tasks[0].ContainerMetrics[0]
	if want := (CWStatsSet{Min: 10, Max: 10, SampleCount: 2, Sum: 20}); *cm.CPUStatsSet != want {
		t.Errorf("cpu %+v, want %+v", cm.CPUStatsSet, want)
	}
	if cm.RestartStatsSet == nil || cm.RestartStatsSet.RestartCount != 2 {
		t.Errorf("restart set %+v, want 2 (restarts since the last publish)", cm.RestartStatsSet)
	}

	// t1 stops: it is forgotten; t2 alone stays tracked, and has no restart policy.
	setTaskStatus(t, st, "t1", api.TaskStatusStopped)
	if err := c.Sample(ctx); err != nil {
		t.Fatal(err)
	}
	if n := c.Tracked(); n != 1 {
		t.Errorf("tracked %d containers, want 1", n)
	}
	tasks, _ = c.Flush()
	if len(tasks) != 1 || tasks[0].TaskArn != taskARN("t2") || tasks[0].ContainerMetrics[0].RestartStatsSet != nil {
		t.Fatalf("Flush = %+v, want t2 without restart set", tasks)
	}
	setTaskStatus(t, st, "t2", api.TaskStatusStopped)
	if err := c.Sample(ctx); err != nil {
		t.Fatal(err)
	}
	if _, idle := c.Flush(); !idle {
		t.Error("no running task, but not idle")
	}
}

func TestCollectorCounterResetAndErrors(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	addTask(t, st, "t1", api.TaskStatusRunning, testCtr{name: "app"}, testCtr{name: "gone"})
	// The CPU counter goes back after the second reading (the task was replaced): that
	// reading only rebases. "gone" has already stopped in the runtime.
	cpu := []uint64{10e9, 11e9, 1e9, 2e9, 3e9}
	stats := newFakeStats(func(id string, n int) (runtime.Stats, error) {
		if id == rid("t1", "gone") {
			return runtime.Stats{}, fmt.Errorf("stats: %w", runtime.ErrNotFound)
		}
		return runtime.Stats{Time: epoch.Add(time.Duration(n) * 5 * time.Second), CPUUsageNanos: cpu[n], MemoryUsage: 10 * mib}, nil
	})
	c, err := NewCollector(CollectorOptions{Reader: st.DirectClient(), Stats: stats, NumCPU: 1, Logger: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := c.Sample(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tasks, _ := c.Flush()
	if len(tasks) != 1 || len(tasks[0].ContainerMetrics) != 1 {
		t.Fatalf("Flush = %+v, want app only", tasks)
	}
	// 1 s per 5 s on 1 CPU = 20 %, three times (the reset reading gives no sample).
	if got, want := *tasks[0].ContainerMetrics[0].CPUStatsSet, (CWStatsSet{Min: 20, Max: 20, SampleCount: 3, Sum: 60}); got != want {
		t.Errorf("cpu %+v, want %+v", got, want)
	}
	if err := (&Collector{}).Sample(ctx); err == nil {
		t.Error("Sample without a stats source succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Sample(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Sample with a cancelled context: %v", err)
	}
}

// TestCollectorWindow: while nothing is published, the sets restart once their first
// sample is older than TCS accepts, instead of aggregating the whole outage.
func TestCollectorWindow(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	addTask(t, st, "t1", api.TaskStatusRunning, testCtr{name: "app"})
	clock := &fakeClock{now: epoch}
	stats := newFakeStats(func(id string, n int) (runtime.Stats, error) {
		s, _ := steadyStats(id, n)
		s.Time = time.Time{} // no runtime clock: the collector's is used
		return s, nil
	})
	c, err := NewCollector(CollectorOptions{Reader: st.DirectClient(), Stats: stats, NumCPU: 2, Now: clock.Now, Logger: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	for range 70 { // 70 × 5 s > 5 min
		if err := c.Sample(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Add(5 * time.Second)
	}
	tasks, _ := c.Flush()
	if len(tasks) != 1 {
		t.Fatalf("Flush = %+v", tasks)
	}
	set := tasks[0].ContainerMetrics[0].CPUStatsSet
	if set.SampleCount < 2 || set.SampleCount > int64(maxWindow/(5*time.Second))+1 || set.Min != 10 || set.Max != 10 {
		t.Errorf("cpu set %+v spans more than the window", set)
	}
}

func TestCollectorHealth(t *testing.T) {
	st := newStore(t)
	since := metav1.NewTime(epoch.Add(-time.Minute))
	addTask(t, st, "t1", api.TaskStatusRunning,
		testCtr{name: "a", checked: true, health: &api.Health{Status: api.HealthHealthy, Since: &since, Output: "ok"}},
		testCtr{name: "b", checked: true},
		testCtr{name: "c"},
		testCtr{name: "d", checked: true, status: api.ContainerStatusStopped, health: &api.Health{Status: api.HealthUnhealthy}})
	addTask(t, st, "t2", api.TaskStatusRunning, testCtr{name: "plain"})
	addTask(t, st, "t3", api.TaskStatusStopped, testCtr{name: "a", checked: true, status: api.ContainerStatusStopped})
	clock := &fakeClock{now: epoch}
	c, err := NewCollector(CollectorOptions{Reader: st.DirectClient(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []TaskHealth{{TaskArn: taskARN("t1"), TaskDefinitionFamily: "web", TaskDefinitionVersion: "3", Containers: []ContainerHealth{
		{ContainerName: "a", HealthStatus: HealthHealthy, StatusSince: At(since.Time), StatusMessage: "ok"},
		{ContainerName: "b", HealthStatus: HealthUnknown, StatusSince: At(epoch)},
	}}}
	if g, w := jsonOf(t, got), jsonOf(t, want); g != w {
		t.Errorf("Health =\n%s\nwant\n%s", g, w)
	}
	if s := truncate("héllo", 2); s != "h" {
		t.Errorf("truncate split a rune: %q", s)
	}
}
