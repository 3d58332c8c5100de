//go:build integration

package containerd

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"

	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
)

// BenchmarkCreateStart measures CreateContainer + StartContainer until the container is
// observed running, for a busybox sleep. Removal happens outside the timer.
func BenchmarkCreateStart(b *testing.B) {
	r := newTestRuntime(b)
	pullBusybox(b, r)
	ctx := context.Background()
	logDir := b.TempDir()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("bench-%d", i)
		cfg := runtime.ContainerConfig{
			ID: id, Image: testenv.BusyboxImage(), Command: []string{"sleep", "1000"},
			LogPath: filepath.Join(logDir, id+".log"),
		}
		if err := r.CreateContainer(ctx, cfg); err != nil {
			b.Fatal(err)
		}
		if err := r.StartContainer(ctx, id); err != nil {
			b.Fatal(err)
		}
		if st, err := r.InspectContainer(ctx, id); err != nil || st.Status != runtime.StatusRunning {
			b.Fatalf("not running: %+v, %v", st, err)
		}
		b.StopTimer()
		if err := r.RemoveContainer(ctx, id); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkRawContainerdCreateStart is the baseline: the least a client can do with
// containerd for the same container (image config spec, new snapshot, log file, start).
func BenchmarkRawContainerdCreateStart(b *testing.B) {
	r := newTestRuntime(b)
	pullBusybox(b, r)
	ctx := r.withNS(context.Background())
	c := r.client
	img, err := c.GetImage(ctx, testenv.BusyboxImage())
	if err != nil {
		b.Fatal(err)
	}
	logDir := b.TempDir()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("raw-%d", i)
		ctr, err := c.NewContainer(ctx, id,
			client.WithSnapshotter(DefaultSnapshotter),
			client.WithNewSnapshot(id, img),
			client.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs("sleep", "1000")),
		)
		if err != nil {
			b.Fatal(err)
		}
		task, err := ctr.NewTask(ctx, cio.LogFile(filepath.Join(logDir, id+".log")))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := task.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		if err := task.Start(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := task.Delete(ctx, client.WithProcessKill); err != nil {
			b.Fatal(err)
		}
		if err := ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkStartLogIO measures what logging through ecsd-logger adds to a container's
// create+start compared with the shim's own file copy (cio.LogFile). Each round starts
// one container of each kind, in alternating order, so both see the same machine load;
// it reports each kind's p50 and the p50 of the per-round difference.
func BenchmarkStartLogIO(b *testing.B) {
	kinds := []struct {
		name string
		r    *Runtime
		took []time.Duration
	}{
		{name: "logfile", r: newTestRuntime(b, WithLogBinary("", 0))},
		{name: "logger", r: newTestRuntime(b)},
	}
	for _, k := range kinds {
		pullBusybox(b, k.r)
	}
	ctx := context.Background()
	logDir := b.TempDir()
	var diffs []time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		var took [2]time.Duration
		for j := range kinds {
			k := &kinds[(i+j)%2]
			id := fmt.Sprintf("%s-%d", k.name, i)
			cfg := runtime.ContainerConfig{ID: id, Image: testenv.BusyboxImage(), Command: []string{"sleep", "1000"},
				LogPath: filepath.Join(logDir, id+".log")}
			b.StartTimer()
			t0 := time.Now()
			if err := k.r.CreateContainer(ctx, cfg); err != nil {
				b.Fatal(err)
			}
			if err := k.r.StartContainer(ctx, id); err != nil {
				b.Fatal(err)
			}
			d := time.Since(t0)
			b.StopTimer()
			k.took = append(k.took, d)
			took[(i+j)%2] = d
			if err := k.r.RemoveContainer(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
		diffs = append(diffs, took[1]-took[0])
		b.StartTimer()
	}
	for _, k := range kinds {
		b.ReportMetric(float64(p50(k.took).Microseconds())/1000, k.name+"-p50-ms")
	}
	b.ReportMetric(float64(p50(diffs).Microseconds())/1000, "added-p50-ms")
}

func p50(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
