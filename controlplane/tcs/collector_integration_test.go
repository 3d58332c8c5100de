//go:build integration

package tcs

import (
	"context"
	"path/filepath"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/containerd"
)

// TestCollectorContainerd samples a real busy container through the containerd runtime:
// a shell spinning in a loop after building an 8 MB string must show a non-zero CPU set
// and memory above zero.
func TestCollectorContainerd(t *testing.T) {
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

	st := newStore(t)
	addTask(t, st, "t1", api.TaskStatusRunning, testCtr{name: "app"})
	c := &api.Container{}
	if err := st.Get(ctx, keyOf("t1-app"), c); err != nil {
		t.Fatal(err)
	}
	c.Status.RuntimeID = id
	if err := st.UpdateStatus(ctx, c); err != nil {
		t.Fatal(err)
	}

	col, err := NewCollector(CollectorOptions{Reader: st.DirectClient(), Stats: rt, Logger: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	// Four samples 200 ms apart: three CPU samples, each over enough wall time for the
	// spinning shell to accumulate CPU time.
	for i := range 4 {
		if i > 0 {
			select {
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
		if err := col.Sample(ctx); err != nil {
			t.Fatalf("sample: %v", err)
		}
	}
	tasks, idle := col.Flush()
	if idle || len(tasks) != 1 || len(tasks[0].ContainerMetrics) != 1 {
		t.Fatalf("Flush = %+v idle=%v, want the busy container", tasks, idle)
	}
	m := tasks[0].ContainerMetrics[0]
	cpu, mem := m.CPUStatsSet, m.MemoryStatsSet
	t.Logf("cpu %+v memory %+v (%d CPUs)", *cpu, *mem, goruntime.NumCPU())
	// The percentage is of the whole instance, so never above 100 (plus slack for the
	// runtime stamping a reading after the RPC rather than when the shim took it); the
	// spinning loop keeps every sample above zero.
	if cpu.SampleCount != 3 || cpu.Min <= 0 || cpu.Sum <= 0 || cpu.Max > 110 {
		t.Errorf("cpu set %+v, want three samples in (0, 100]", *cpu)
	}
	if mem.SampleCount != 4 || mem.Max <= 0 || mem.Sum <= 0 {
		t.Errorf("memory set %+v, want four samples above 0 MiB", *mem)
	}
}
