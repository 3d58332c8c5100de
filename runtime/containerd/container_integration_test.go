//go:build integration

package containerd

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"

	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
)

func TestRunEcho(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	pullBusybox(t, r)
	cfg := busybox(t, "echo", "hi")
	before := time.Now()
	run(t, r, cfg)
	st := waitExit(t, r, cfg.ID, 10*time.Second)

	if st.Status != runtime.StatusStopped || st.ExitCode != 0 {
		t.Fatalf("state = %+v, want stopped with 0", st)
	}
	if st.CreatedAt.Before(before.Add(-time.Second)) || st.StartedAt.Before(st.CreatedAt) || st.FinishedAt.Before(st.StartedAt) {
		t.Errorf("times created %v started %v finished %v", st.CreatedAt, st.StartedAt, st.FinishedAt)
	}
	if st.Labels["test"] != t.Name() || st.Labels[LabelManaged] != "true" || st.Image != testenv.BusyboxImage() {
		t.Errorf("labels %v image %q", st.Labels, st.Image)
	}

	// ListContainers sees ours and ignores a container someone else made in the namespace.
	ctx := r.withNS(testCtx(t))
	img, err := r.client.GetImage(ctx, testenv.BusyboxImage())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.NewContainer(ctx, "foreign", client.WithImage(img), client.WithNewSpec(oci.WithProcessArgs("true"))); err != nil {
		t.Fatal(err)
	}
	list, err := r.ListContainers(ctx)
	if err != nil || len(list) != 1 || list[0].ID != cfg.ID || list[0].Status != runtime.StatusStopped {
		t.Fatalf("ListContainers = %+v, %v; want only %s, stopped", list, err, cfg.ID)
	}
	if got := finalLog(t, r, cfg); got != "hi\n" {
		t.Errorf("log = %q, want %q", got, "hi\n")
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	pullBusybox(t, r)
	// The pause lets the shim copy both streams before they close: containerd's runc shim
	// (v2.4.2 and 1.6) closes the shared log file when stdout ends even if stderr still has
	// unread bytes (copyPipes hands stdout the raw file, not the counting wrapper), so
	// output written in the last instant before exit can be lost from cio.LogFile.
	cfg := busybox(t, "sh", "-c", "echo out; echo err >&2; sleep 0.2; exit 3")
	run(t, r, cfg)
	if st := waitExit(t, r, cfg.ID, 10*time.Second); st.ExitCode != 3 || st.Status != runtime.StatusStopped {
		t.Fatalf("state = %+v, want stopped with 3", st)
	}
	if got := finalLog(t, r, cfg); !strings.Contains(got, "out\n") || !strings.Contains(got, "err\n") {
		t.Errorf("log %q should hold stdout and stderr", got)
	}
}

func TestSignal(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	pullBusybox(t, r)
	cfg := busybox(t, "sh", "-c", `trap "" TERM; echo ready; sleep 1000`)
	run(t, r, cfg)
	ctx := testCtx(t)

	if err := r.Signal(ctx, cfg.ID, syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	// It ignores TERM: it must still be running a moment later.
	wctx, cancel := context.WithTimeout(r.withNS(ctx), time.Second)
	defer cancel()
	c, _ := r.client.LoadContainer(wctx, cfg.ID)
	task, err := c.Task(wctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	exitC, _ := task.Wait(wctx)
	select {
	case st := <-exitC:
		if st.Error() == nil {
			t.Fatalf("container exited on SIGTERM with %d", st.ExitCode())
		}
	case <-wctx.Done():
	}
	if st, err := r.InspectContainer(ctx, cfg.ID); err != nil || st.Status != runtime.StatusRunning || st.Pid == 0 {
		t.Fatalf("after SIGTERM: %+v, %v", st, err)
	}
	// ListContainers agrees with InspectContainer about a running container.
	if list, err := r.ListContainers(ctx); err != nil || len(list) != 1 || list[0].Status != runtime.StatusRunning || list[0].Pid == 0 {
		t.Fatalf("ListContainers of a running container = %+v, %v", list, err)
	}

	if err := r.Signal(ctx, cfg.ID, syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	if st := waitExit(t, r, cfg.ID, 10*time.Second); st.ExitCode != 137 || st.OOMKilled {
		t.Fatalf("after SIGKILL: %+v, want exit 137 and not OOM", st)
	}
	if err := r.Signal(ctx, cfg.ID, syscall.SIGTERM); err != nil {
		t.Errorf("signal to a stopped container: %v", err)
	}
	wantErrIs(t, r.Signal(ctx, "no-such-container", syscall.SIGTERM), runtime.ErrNotFound)
}

func TestStartIdempotentAndRestart(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	pullBusybox(t, r)
	ctx := testCtx(t)

	sleeper := busybox(t, "sleep", "1000")
	run(t, r, sleeper)
	first, _ := r.InspectContainer(ctx, sleeper.ID)
	if err := r.StartContainer(ctx, sleeper.ID); err != nil {
		t.Fatalf("second StartContainer: %v", err)
	}
	if again, _ := r.InspectContainer(ctx, sleeper.ID); again.Pid != first.Pid || again.Status != runtime.StatusRunning {
		t.Fatalf("restarted a running container: %+v vs %+v", again, first)
	}

	// A stopped container starts again in place, appending to the same log.
	once := busybox(t, "sh", "-c", "echo run")
	run(t, r, once)
	st1 := waitExit(t, r, once.ID, 10*time.Second)
	if err := r.StartContainer(ctx, once.ID); err != nil {
		t.Fatalf("restart: %v", err)
	}
	st2 := waitExit(t, r, once.ID, 10*time.Second)
	if got := finalLog(t, r, once); got != "run\nrun\n" {
		t.Errorf("log after restart = %q", got)
	}
	if !st2.StartedAt.After(st1.StartedAt) {
		t.Errorf("StartedAt not updated: %v then %v", st1.StartedAt, st2.StartedAt)
	}
	wantErrIs(t, r.StartContainer(ctx, "no-such-container"), runtime.ErrNotFound)
}

func TestCreateFailuresLeaveNothing(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	ctx := testCtx(t)
	sn := r.client.SnapshotService(r.opts.snapshotter)
	noSnapshot := func(id string) {
		t.Helper()
		if _, err := sn.Stat(r.withNS(ctx), id); !errdefs.IsNotFound(err) {
			t.Errorf("snapshot %s left behind (stat err %v)", id, err)
		}
		_, err := r.InspectContainer(ctx, id)
		wantErrIs(t, err, runtime.ErrNotFound)
	}

	// Image never pulled.
	cfg := busybox(t, "true")
	wantErrIs(t, r.CreateContainer(ctx, cfg), runtime.ErrNotFound)
	noSnapshot(cfg.ID)

	// Failure after the snapshot exists: a user the image does not have.
	pullBusybox(t, r)
	cfg = busybox(t, "true")
	cfg.User = "no-such-user"
	if err := r.CreateContainer(ctx, cfg); err == nil {
		t.Fatal("create with an unknown user succeeded")
	}
	noSnapshot(cfg.ID)

	// An orphaned snapshot from an interrupted create does not block the ID.
	cfg = busybox(t, "true")
	img, _ := r.client.GetImage(r.withNS(ctx), testenv.BusyboxImage())
	if _, err := r.client.NewContainer(r.withNS(ctx), "tmp", client.WithSnapshotter(r.opts.snapshotter),
		client.WithNewSnapshot(cfg.ID, img), client.WithNewSpec()); err != nil {
		t.Fatal(err)
	}
	if err := r.client.ContainerService().Delete(r.withNS(ctx), "tmp"); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateContainer(ctx, cfg); err != nil {
		t.Fatalf("create over an orphaned snapshot: %v", err)
	}

	// The same ID twice.
	err := r.CreateContainer(ctx, cfg)
	wantErrIs(t, err, runtime.ErrAlreadyExists)
	if st, ierr := r.InspectContainer(ctx, cfg.ID); ierr != nil || st.Status != runtime.StatusCreated {
		t.Errorf("existing container disturbed: %+v, %v", st, ierr)
	}
}

func TestRemoveContainer(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	pullBusybox(t, r)
	ctx := testCtx(t)
	cfg := busybox(t, "sleep", "1000")
	run(t, r, cfg)

	// Still running: Remove kills it.
	if err := r.RemoveContainer(ctx, cfg.ID); err != nil {
		t.Fatalf("RemoveContainer: %v", err)
	}
	if err := r.RemoveContainer(ctx, cfg.ID); err != nil {
		t.Fatalf("second RemoveContainer: %v", err)
	}
	_, err := r.InspectContainer(ctx, cfg.ID)
	wantErrIs(t, err, runtime.ErrNotFound)
	if _, err := r.client.SnapshotService(r.opts.snapshotter).Stat(r.withNS(ctx), cfg.ID); !errdefs.IsNotFound(err) {
		t.Errorf("snapshot left: %v", err)
	}
	if _, err := os.Stat(cfg.LogPath); err != nil {
		t.Errorf("log file should be left for the cleanup controller: %v", err)
	}

	// Created but never started.
	cfg = busybox(t, "true")
	if err := r.CreateContainer(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveContainer(ctx, cfg.ID); err != nil {
		t.Fatalf("remove created: %v", err)
	}
}

func TestExec(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	pullBusybox(t, r)
	cfg := busybox(t, "sleep", "1000")
	cfg.Env = []string{"FROM_CFG=yes"}
	run(t, r, cfg)
	ctx := testCtx(t)

	code, out, err := r.Exec(ctx, cfg.ID, []string{"sh", "-c", "echo out; echo err >&2; echo $FROM_CFG; exit 7"})
	if err != nil || code != 7 {
		t.Fatalf("Exec = %d, %v", code, err)
	}
	for _, want := range []string{"out\n", "err\n", "yes\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}

	// Only the tail of a large output is kept.
	_, out, err = r.Exec(ctx, cfg.ID, []string{"sh", "-c", "head -c 10000 /dev/zero | tr '\\0' a; echo END"})
	if err != nil || len(out) != execOutputLimit || !strings.HasSuffix(out, "aEND\n") {
		t.Errorf("large output: len %d, err %v, tail %q", len(out), err, out[max(0, len(out)-10):])
	}

	// The context bounds the exec; the process is killed and the call returns promptly.
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err = r.Exec(tctx, cfg.ID, []string{"sleep", "99"})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("timed-out exec: err %v after %v", err, time.Since(start))
	}
	// The kill is asynchronous for the kernel: on a loaded machine the process can take a
	// moment to disappear from the process table.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got := execOK(t, r, cfg.ID, "sh", "-c", "ps | grep -c '[s]leep 99' || true")
		if got == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("timed-out exec still running: %q", got)
			break
		}
	}

	_, _, err = r.Exec(ctx, "no-such-container", []string{"true"})
	wantErrIs(t, err, runtime.ErrNotFound)
	if st, _ := r.InspectContainer(ctx, cfg.ID); st.Status != runtime.StatusRunning {
		t.Errorf("container disturbed by execs: %+v", st)
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	pullBusybox(t, r)
	ctx, cancel := context.WithCancel(testCtx(t))
	evC, errC := r.Events(ctx)

	cfg := busybox(t, "sleep", "1000")
	run(t, r, cfg)
	// An exec's exit must not look like the container's.
	execOK(t, r, cfg.ID, "true")
	if err := r.Signal(ctx, cfg.ID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	want := []runtime.Event{
		{Type: runtime.EventCreate, ContainerID: cfg.ID},
		{Type: runtime.EventStart, ContainerID: cfg.ID},
		{Type: runtime.EventExit, ContainerID: cfg.ID, ExitCode: 137},
	}
	next := func() runtime.Event {
		t.Helper()
		select {
		case ev := <-evC:
			return ev
		case err := <-errC:
			t.Fatalf("event stream error: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("no event within 10s")
		}
		return runtime.Event{}
	}
	for _, w := range want {
		ev := next()
		if ev.Type != w.Type || ev.ContainerID != w.ContainerID || ev.ExitCode != w.ExitCode || ev.Time.IsZero() {
			t.Fatalf("event = %+v, want %+v", ev, w)
		}
	}
	waitExit(t, r, cfg.ID, 10*time.Second)
	if err := r.RemoveContainer(ctx, cfg.ID); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Type != runtime.EventDelete || ev.ContainerID != cfg.ID {
		t.Fatalf("event = %+v, want delete of %s", ev, cfg.ID)
	}

	cancel()
	for range evC { // closed once ctx ends
	}
	if err, ok := <-errC; ok {
		t.Errorf("error after cancel: %v", err)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	pullBusybox(t, r)
	cfg := busybox(t, "sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 1000")
	cfg.MemoryLimit = 64 << 20
	run(t, r, cfg)
	ctx := testCtx(t)
	execOK(t, r, cfg.ID, "true") // some work inside the cgroup
	s, err := r.Stats(ctx, cfg.ID)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if s.MemoryUsage == 0 || s.CPUUsageNanos == 0 || s.Pids == 0 || s.MemoryLimit != 64<<20 || s.Time.IsZero() {
		t.Errorf("Stats = %+v", s)
	}
	_, err = r.Stats(ctx, "no-such-container")
	wantErrIs(t, err, runtime.ErrNotFound)
}

func TestOOMKilled(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	pullBusybox(t, r)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	evC, _ := r.Events(ctx)
	cfg := busybox(t, "tail", "/dev/zero") // buffers forever looking for a newline
	cfg.MemoryLimit = 16 << 20
	run(t, r, cfg)
	st := waitExit(t, r, cfg.ID, 20*time.Second)
	if st.ExitCode != 137 || !st.OOMKilled {
		t.Fatalf("state = %+v, want exit 137 and OOMKilled", st)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-evC:
			if ev.Type == runtime.EventOOM && ev.ContainerID == cfg.ID {
				return
			}
		case <-deadline:
			t.Fatal("no OOM event")
		}
	}
}

func TestStartFailure(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	pullBusybox(t, r)
	ctx := testCtx(t)
	cfg := busybox(t, "/no/such/binary")
	if err := r.CreateContainer(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a retry fails the same way instead of tripping over debris
		err := r.StartContainer(ctx, cfg.ID)
		if err == nil || !strings.Contains(err.Error(), "/no/such/binary") {
			t.Fatalf("StartContainer = %v, want an error naming the binary", err)
		}
	}
	if st, err := r.InspectContainer(ctx, cfg.ID); err != nil || st.Status != runtime.StatusCreated || !st.StartedAt.IsZero() {
		t.Errorf("after failed start: %+v, %v", st, err)
	}
}

// TestCreateUnpacksWhenNeeded: create assumes the pull unpacked the image, and must still
// work when it was not unpacked for this snapshotter (here: pulled through overlayfs,
// created with the native snapshotter).
func TestCreateUnpacksWhenNeeded(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	pullBusybox(t, r)
	native, err := New(testCtx(t), testenv.ContainerdAddress(), r.namespace, WithSnapshotter("native"))
	if err != nil {
		t.Fatal(err)
	}
	defer native.Close()
	cfg := busybox(t, "echo", "unpacked")
	ctx := testCtx(t)
	if err := native.CreateContainer(ctx, cfg); err != nil {
		t.Fatalf("CreateContainer with an image not unpacked for the snapshotter: %v", err)
	}
	if err := native.StartContainer(ctx, cfg.ID); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = native.RemoveContainer(cctx, cfg.ID)
		// The native snapshotter's unpacked layers are removed with the image by the
		// namespace cleanup's GC.
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := native.InspectContainer(ctx, cfg.ID)
		if err == nil && st.Status == runtime.StatusStopped {
			if st.ExitCode != 0 {
				t.Fatalf("exit code %d", st.ExitCode)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container did not run to completion: %+v %v", st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestContainerRecord: the record given at create comes back for as long as the container
// exists, beyond the 4 KiB a label could hold; a container created without one has none; an
// oversized one is refused before anything is created.
func TestContainerRecord(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	pullBusybox(t, r)
	ctx := testCtx(t)
	cfg := busybox(t, "true")
	record := []byte(`{"task":"` + strings.Repeat("x", 100<<10) + `"}`)
	cfg.Record = record
	if err := r.CreateContainer(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	got, err := r.ContainerRecord(ctx, cfg.ID)
	if err != nil || string(got) != string(record) {
		t.Fatalf("ContainerRecord = %d bytes, %v; want the %d bytes stored", len(got), err, len(record))
	}

	plain := busybox(t, "true")
	plain.ID += "-plain"
	if err := r.CreateContainer(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if got, err := r.ContainerRecord(ctx, plain.ID); err != nil || got != nil {
		t.Fatalf("ContainerRecord of a container without one = %q, %v; want nil", got, err)
	}
	_, err = r.ContainerRecord(ctx, "no-such-container")
	wantErrIs(t, err, runtime.ErrNotFound)

	big := busybox(t, "true")
	big.ID += "-big"
	big.Record = make([]byte, runtime.MaxRecordSize+1)
	if err := r.CreateContainer(ctx, big); err == nil {
		t.Fatal("created a container with an oversized record")
	}
	if _, err := r.InspectContainer(ctx, big.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("the refused container exists: %v", err)
	}
}
