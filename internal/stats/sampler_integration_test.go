//go:build integration

package stats

import (
	"context"
	"path/filepath"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	clocktesting "k8s.io/utils/clock/testing"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/containerd"
)

// TestSamplerContainerd samples a real busy container through the containerd runtime: a
// shell spinning in a loop after building an 8 MB string must show a non-zero CPU set and
// memory above zero in the TCS window, a document with precpu, and the same figures in
// the snapshot, all from the same passes.
func TestSamplerContainerd(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireContainerd(t)
	testenv.RequireRegistries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rt, err := containerd.New(ctx, testenv.ContainerdAddress(), testenv.UniqueName(t, "ecsdt-"),
		containerd.WithLogDir(t.TempDir()), containerd.WithLogger(testr.New(t)))
	if err != nil {
		t.Fatalf("containerd: %v", err)
	}
	t.Cleanup(func() {
		pctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := rt.Purge(pctx); err != nil {
			t.Errorf("purge: %v", err)
		}
		if err := rt.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if _, err := rt.PullImage(ctx, testenv.BusyboxImage(), nil); err != nil {
		t.Fatalf("pull: %v", err)
	}
	id := testenv.UniqueName(t, "c-")
	cfg := runtime.ContainerConfig{
		ID:      id,
		Image:   testenv.BusyboxImage(),
		Command: []string{"sh", "-c", `x=$(head -c 8000000 /dev/zero | tr '\0' a); while :; do :; done`},
		LogPath: filepath.Join(t.TempDir(), id+".log"),
	}
	if err := rt.CreateContainer(ctx, cfg); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := rt.StartContainer(ctx, cfg.ID); err != nil {
		t.Fatalf("start: %v", err)
	}

	r := newReader(t, activeTask("t1", "app"), ctr("t1", "app", id, api.ContainerStatusRunning, false))
	clock := clocktesting.NewFakeClock(time.Now())
	s, err := New(Options{Reader: r, Runtime: rt, Interval: time.Second, Clock: clock, Logger: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	// Four passes 200 ms apart (the fake clock makes each one due): three CPU samples,
	// each over enough wall time for the spinning shell to accumulate CPU time.
	for i := range 4 {
		if i > 0 {
			select {
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
			clock.Step(time.Second)
		}
		if err := s.Sample(ctx); err != nil {
			t.Fatalf("sample: %v", err)
		}
	}
	doc, ok := s.ContainerStats(id, false)
	if !ok {
		t.Fatal("no document")
	}
	d := doc.(Stats)
	if d.ID != id || d.PreRead.IsZero() || d.CPUStats.CPUUsage.TotalUsage <= d.PreCPUStats.CPUUsage.TotalUsage || d.MemoryStats.Usage == 0 {
		t.Errorf("document read %v preread %v cpu %+v precpu %+v memory %+v", d.Read, d.PreRead, d.CPUStats, d.PreCPUStats, d.MemoryStats)
	}
	snap := s.Snapshot()
	if len(snap) != 1 || snap[0].CPUUsageNanos != d.CPUStats.CPUUsage.TotalUsage || snap[0].MemoryUsageBytes != d.MemoryStats.Usage {
		t.Errorf("snapshot %+v disagrees with the document", snap)
	}

	tasks, idle := s.Flush()
	if idle || len(tasks) != 1 || len(tasks[0].Containers) != 1 {
		t.Fatalf("Flush = %+v idle=%v, want the busy container", tasks, idle)
	}
	m := tasks[0].Containers[0]
	cpu, mem := m.CPU, m.Memory
	t.Logf("cpu %+v memory %+v (%d CPUs)", *cpu, *mem, goruntime.NumCPU())
	// The percentage is of the whole instance, so never above 100 (plus slack for the
	// runtime stamping a reading after the RPC rather than when the shim took it); the
	// spinning loop keeps every sample above zero.
	if cpu.Count != 3 || cpu.Min <= 0 || cpu.Sum <= 0 || cpu.Max > 110 {
		t.Errorf("cpu set %+v, want three samples in (0, 100]", *cpu)
	}
	if mem.Count != 4 || mem.Max <= 0 || mem.Sum <= 0 {
		t.Errorf("memory set %+v, want four samples above 0 MiB", *mem)
	}
}
