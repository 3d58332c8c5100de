package containerd

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

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
