//go:build integration

package containerd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/go-logr/logr/testr"

	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
)

// testTimeout bounds every single runtime call in the tests.
const testTimeout = 30 * time.Second

// newTestRuntime connects to the test containerd in a fresh namespace and registers a
// cleanup that removes every container, image, snapshot and lease in it and then the
// namespace itself, failing the test if anything is left behind.
func newTestRuntime(t testing.TB, opts ...Option) *Runtime {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireContainerd(t)
	testenv.RequireRegistries(t)
	ns := testenv.UniqueName(t, "ecsdt-")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	opts = append([]Option{
		WithLogDir(t.TempDir()),
		WithLogBinary(testLoggerPath, 0),
		WithLogger(testr.NewWithInterface(t, testr.Options{Verbosity: 0})),
	}, opts...)
	r, err := New(ctx, testenv.ContainerdAddress(), ns, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		cleanupNamespace(t, r)
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// cleanupNamespace removes everything the test created and the namespace, failing the
// test with what is left if that is impossible, so leaks are found rather than accumulated.
func cleanupNamespace(t testing.TB, r *Runtime) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.Purge(ctx); err != nil {
		var left []string
		_ = r.client.SnapshotService(r.opts.snapshotter).Walk(r.withNS(ctx), func(_ context.Context, i snapshots.Info) error {
			left = append(left, i.Name)
			return nil
		})
		t.Errorf("cleanup of namespace %s: %v (snapshots left: %v)", r.namespace, err, left)
	}
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// pullBusybox pulls the test image once for this runtime.
func pullBusybox(t testing.TB, r *Runtime) runtime.ImageInfo {
	t.Helper()
	info, err := r.PullImage(testCtx(t), testenv.BusyboxImage(), nil)
	if err != nil {
		t.Fatalf("PullImage: %v", err)
	}
	return info
}

// busybox returns a config for the test image running cmd, logging into the test's dir.
func busybox(t testing.TB, cmd ...string) runtime.ContainerConfig {
	t.Helper()
	id := testenv.UniqueName(t, "c-")
	return runtime.ContainerConfig{
		ID:      id,
		Image:   testenv.BusyboxImage(),
		Command: cmd,
		Labels:  map[string]string{"test": t.Name()},
		LogPath: filepath.Join(t.TempDir(), id+".log"),
	}
}

// run creates and starts cfg.
func run(t testing.TB, r *Runtime, cfg runtime.ContainerConfig) {
	t.Helper()
	ctx := testCtx(t)
	if err := r.CreateContainer(ctx, cfg); err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if err := r.StartContainer(ctx, cfg.ID); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
}

// waitExit blocks until the container's task exits (containerd's Wait, no polling) and
// returns its state.
func waitExit(t testing.TB, r *Runtime, id string, timeout time.Duration) runtime.ContainerState {
	t.Helper()
	ctx, cancel := context.WithTimeout(r.withNS(context.Background()), timeout)
	defer cancel()
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		t.Fatalf("load %s: %v", id, err)
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		t.Fatalf("task %s: %v", id, err)
	}
	ch, err := task.Wait(ctx)
	if err != nil {
		t.Fatalf("wait %s: %v", id, err)
	}
	select {
	case st := <-ch:
		if st.Error() != nil {
			t.Fatalf("wait %s: %v", id, st.Error())
		}
	case <-ctx.Done():
		t.Fatalf("container %s did not exit within %s", id, timeout)
	}
	state, err := r.InspectContainer(testCtx(t), id)
	if err != nil {
		t.Fatalf("InspectContainer: %v", err)
	}
	return state
}

// finalLog deletes the container's task and then reads its log. The shim reports the
// exit before its output copiers have necessarily drained the pipes; deleting the task
// waits for them, so only then is the file complete.
func finalLog(t testing.TB, r *Runtime, cfg runtime.ContainerConfig) string {
	t.Helper()
	ctx := r.withNS(testCtx(t))
	c, err := r.client.LoadContainer(ctx, cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := deleteTask(ctx, c); err != nil {
		t.Fatalf("delete task: %v", err)
	}
	return readLog(t, cfg.LogPath)
}

func readLog(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	return string(b)
}

// execOK runs cmd in id and fails the test unless it exits 0; it returns trimmed output.
func execOK(t testing.TB, r *Runtime, id string, cmd ...string) string {
	t.Helper()
	code, out, err := r.Exec(testCtx(t), id, cmd)
	if err != nil || code != 0 {
		t.Fatalf("exec %q: code %d, err %v, output %q", cmd, code, err, out)
	}
	return strings.TrimSpace(out)
}

func wantErrIs(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want errors.Is(err, %v)", err, target)
	}
}
