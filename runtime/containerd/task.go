package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/ecsd/ecsd/internal/containerlog"
	"github.com/ecsd/ecsd/runtime"
)

// StartContainer starts the container's task with stdout and stderr going to its log file
// through the shim (logIO), so logging survives agent restarts. It is idempotent: a
// running task is success, a created-but-not-started task is started, and a stopped task
// is deleted and replaced (restart in place).
func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	ctx = r.withNS(ctx)
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return wrapErr(err, "start container %s", id)
	}
	t, err := c.Task(ctx, nil)
	switch {
	case err == nil:
		st, err := t.Status(ctx)
		if err != nil && !errdefs.IsNotFound(err) {
			return wrapErr(err, "start container %s: task status", id)
		}
		switch st.Status {
		case client.Running, client.Paused, client.Pausing:
			return nil
		case client.Created:
			return r.startTask(ctx, c, t)
		default: // stopped, unknown (dead shim) or vanished meanwhile
			if _, err := t.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				return wrapErr(err, "start container %s: delete previous task", id)
			}
		}
	case !errdefs.IsNotFound(err):
		return wrapErr(err, "start container %s: load task", id)
	}

	// LoadContainer just fetched the record; no need to ask again.
	info, err := c.Info(ctx, client.WithoutRefreshedMetadata)
	if err != nil {
		return wrapErr(err, "start container %s", id)
	}
	logPath := info.Labels[labelLogPath]
	if logPath == "" {
		logPath = filepath.Join(r.opts.logDir, id+".log")
	}
	var logging runtime.LogSettings
	if v := info.Labels[labelLogSettings]; v != "" {
		if err := json.Unmarshal([]byte(v), &logging); err != nil {
			return fmt.Errorf("start container %s: log settings label: %w", id, err)
		}
	}
	taskOpts, err := r.rootFSOpts(ctx, info)
	if err != nil {
		return wrapErr(err, "start container %s", id)
	}
	if logging.Discard {
		t, err = c.NewTask(ctx, cio.NullIO, taskOpts...)
		if err != nil {
			if errdefs.IsAlreadyExists(err) {
				return nil
			}
			return wrapErr(err, "start container %s: create task", id)
		}
		return r.startTask(ctx, c, t)
	}
	// The directory may have been cleaned since create; the shim will not create it. The
	// file is made here, so it exists once the container runs (readers of its output find
	// it), while the logger tells the shim it is ready before it does any file work.
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return wrapErr(err, "start container %s: log directory", id)
	}
	if f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640); err == nil {
		_ = f.Close()
	}
	t, err = c.NewTask(ctx, r.logIO(logPath, logging.LoggerArgs), taskOpts...)
	if err != nil {
		if errdefs.IsAlreadyExists(err) {
			// A concurrent start won; its outcome is ours.
			return nil
		}
		if r.recoverInterruptedCreate(ctx, c, err) {
			// A create of this task by a client that was killed left state behind; it is
			// cleared now and the next attempt can succeed.
			return &rtError{msg: fmt.Sprintf("start container %s: create task", id), kind: runtime.ErrTransient, err: err}
		}
		return wrapErr(err, "start container %s: create task", id)
	}
	return r.startTask(ctx, c, t)
}

// logIO is how the shim takes the container's output to logPath: ecsd-logger, run by the
// shim through containerd's binary logging (the "binary" scheme, which containerd 1.6
// shims speak too), when the runtime has one; else the shim's own file copy.
// Without the logger, further logger arguments (rotation, shipping) cannot take effect.
func (r *Runtime) logIO(logPath string, loggerArgs map[string]string) cio.Creator {
	if r.opts.logBinary == "" {
		return cio.LogFile(logPath)
	}
	return cio.BinaryIO(r.opts.logBinary, containerlog.Args(logPath, r.opts.logBuffer, loggerArgs))
}

// bundleExists matches containerd refusing a task because its bundle directory is left
// from an earlier create.
var bundleExists = regexp.MustCompile(`mkdir (/\S+): file exists`)

// recoverInterruptedCreate clears what a task create interrupted by the death of its
// client (an agent killed with SIGKILL) leaves behind in containerd 2.x: the task's bundle
// directory, perhaps with its rootfs still mounted, and runc's state for the ID. containerd
// itself only clears these when it restarts, so without this a container whose start was
// interrupted could never start again. It acts only when the container has no task, and
// only on paths that name this namespace and container. It reports whether it found
// something to clear.
func (r *Runtime) recoverInterruptedCreate(ctx context.Context, c client.Container, cause error) bool {
	if _, err := c.Task(ctx, nil); !errdefs.IsNotFound(err) {
		return false
	}
	id := c.ID()
	msg := cause.Error()
	if m := bundleExists.FindStringSubmatch(msg); m != nil {
		dir := m[1]
		if filepath.Base(dir) != id || filepath.Base(filepath.Dir(dir)) != r.namespace {
			return false
		}
		_ = unix.Unmount(filepath.Join(dir, "rootfs"), unix.MNT_DETACH)
		if err := os.RemoveAll(dir); err != nil {
			r.log.Error(err, "removing stale task bundle", "container", id, "bundle", dir)
			return false
		}
		r.log.Info("removed the task bundle an interrupted start left behind", "container", id, "bundle", dir)
		return true
	}
	if strings.Contains(msg, "container with given ID already exists") {
		root := filepath.Join(runcRoot, r.namespace)
		out, err := exec.CommandContext(ctx, "runc", "--root", root, "delete", "--force", id).CombinedOutput()
		if err != nil {
			r.log.Error(err, "removing stale runc state", "container", id, "output", string(out))
			return false
		}
		r.log.Info("removed the runc state an interrupted start left behind", "container", id)
		return true
	}
	// The shim of the interrupted create may still be tearing its bundle down.
	return strings.Contains(msg, "failed to start shim")
}

// runcRoot is the runc state root the io.containerd.runc.v2 shim uses by default.
const runcRoot = "/run/containerd/runc"

// startTask registers the exit watcher before Start, so even an immediate exit is seen,
// then starts the task. On failure the task is deleted so a retry starts clean; the
// container itself is kept (it is the record that the start failed).
func (r *Runtime) startTask(ctx context.Context, c client.Container, t client.Task) error {
	id := c.ID()
	wctx, wcancel := context.WithCancel(r.root)
	exitC, err := t.Wait(wctx)
	if err != nil {
		wcancel()
		r.discardTask(ctx, t)
		return wrapErr(err, "start container %s: wait", id)
	}
	// Taken before Start so that StartedAt never comes after an immediate exit's time.
	started := time.Now().UTC()
	if err := t.Start(ctx); err != nil {
		wcancel()
		r.discardTask(ctx, t)
		return wrapErr(err, "start container %s", id)
	}
	// One update records this run's start and clears the previous run's OOM verdict. It is
	// a metadata write (an fsync inside containerd), so it happens off the start path: the
	// agent's own status already has the start time, the label only serves rebuilding
	// state from containerd after an agent restart. The in-memory time stays until the
	// container is removed: dropping it when the label lands would let a read that loaded
	// the record before the write see neither.
	r.startedAt.Store(id, started)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if _, err := c.SetLabels(lctx, map[string]string{
			labelStartedAt: started.Format(time.RFC3339Nano),
			labelOOMKilled: "false",
		}); err != nil {
			// Not fatal: the container runs; StartedAt is merely unknown.
			r.log.Error(err, "recording start time", "container", id)
		}
	}()
	r.wg.Add(1)
	go r.watchExit(wctx, wcancel, id, t.Pid(), exitC)
	r.log.V(1).Info("started container", "container", id, "pid", t.Pid())
	return nil
}

// discardTask deletes a task whose start failed; errors are only logged because the
// start error is the one worth returning.
func (r *Runtime) discardTask(ctx context.Context, t client.Task) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, err := t.Delete(cctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
		r.log.Error(err, "deleting task after failed start", "container", t.ID())
	}
}

// watchExit waits for the task's exit and, when it was a SIGKILL, asks the cgroup whether
// the OOM killer did it while the task (and so its cgroup) still exists, recording the
// answer on the container. It is best effort: an agent restart loses the watcher, and
// the /tasks/oom event and InspectContainer's own check cover that.
func (r *Runtime) watchExit(ctx context.Context, cancel context.CancelFunc, id string, pid uint32, exitC <-chan client.ExitStatus) {
	defer r.wg.Done()
	defer cancel()
	var st client.ExitStatus
	select {
	case st = <-exitC:
	case <-ctx.Done():
		return
	}
	if st.Error() != nil {
		return // the wait itself failed (context cancelled, containerd gone)
	}
	r.log.V(1).Info("container exited", "container", id, "pid", pid, "exitCode", st.ExitCode())
	if st.ExitCode() != 128+uint32(syscall.SIGKILL) {
		return
	}
	if r.oomKilled(ctx, id) {
		r.markOOM(ctx, id)
	}
}

// markOOM records an OOM kill on the container so InspectContainer reports it after the
// task (and its cgroup counters) are gone.
func (r *Runtime) markOOM(ctx context.Context, id string) {
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return
	}
	if _, err := c.SetLabels(ctx, map[string]string{labelOOMKilled: "true"}); err != nil {
		r.log.Error(err, "recording OOM kill", "container", id)
	}
}

// Signal sends sig to the container's init process. A container without a running task is
// success (there is nothing left to signal); a container that does not exist is
// runtime.ErrNotFound.
func (r *Runtime) Signal(ctx context.Context, id string, sig syscall.Signal) error {
	ctx = r.withNS(ctx)
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return wrapErr(err, "signal container %s", id)
	}
	t, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	} else if err != nil {
		return wrapErr(err, "signal container %s: load task", id)
	}
	if err := t.Kill(ctx, sig); err != nil {
		// Already exited (or never started): the signal has nothing to act on.
		if errdefs.IsNotFound(err) || errdefs.IsFailedPrecondition(err) {
			return nil
		}
		return wrapErr(err, "signal container %s with %s", id, sig)
	}
	return nil
}

// errNotRunning is returned by operations that need a live task.
func errNotRunning(id string) error {
	return newErr(runtime.ErrNotFound, "container %s has no running task", id)
}

// rootFSOpts mounts the root file system of a container with an SELinux mount label with
// that label (context=), as Docker does, so that its confined process may use its own
// files; other containers get containerd's mounts unchanged (no options).
func (r *Runtime) rootFSOpts(ctx context.Context, info containers.Container) ([]client.NewTaskOpts, error) {
	label := info.Labels[labelMountLabel]
	if label == "" || info.SnapshotKey == "" {
		return nil, nil
	}
	mounts, err := r.client.SnapshotService(info.Snapshotter).Mounts(ctx, info.SnapshotKey)
	if err != nil {
		return nil, fmt.Errorf("root file system mounts: %w", err)
	}
	return []client.NewTaskOpts{client.WithRootFS(withMountLabel(mounts, label))}, nil
}

// withMountLabel adds context="label" to every mount's options.
func withMountLabel(mounts []mount.Mount, label string) []mount.Mount {
	out := make([]mount.Mount, len(mounts))
	for i, m := range mounts {
		m.Options = append(slices.Clone(m.Options), fmt.Sprintf("context=%q", label))
		out[i] = m
	}
	return out
}
