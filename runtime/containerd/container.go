package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	ptypes "github.com/containerd/containerd/v2/pkg/protobuf/types"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/typeurl/v2"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecsd/ecsd/runtime"
)

// cleanupTimeout bounds the undo work after a failed create, which must run even when the
// caller's context is already done.
const cleanupTimeout = 30 * time.Second

// CreateContainer creates the container record, its writable snapshot (key = cfg.ID) and
// its OCI spec. It never leaves a half-created container behind: if anything fails after
// the snapshot exists, the snapshot is removed again.
func (r *Runtime) CreateContainer(ctx context.Context, cfg runtime.ContainerConfig) (retErr error) {
	if cfg.ID == "" || (cfg.Image == "") == (cfg.RootFS == "") {
		return wrapErr(fmt.Errorf("container ID and either an image or a root file system are required: %w", errdefs.ErrInvalidArgument), "create container")
	}
	if len(cfg.Record) > runtime.MaxRecordSize {
		return wrapErr(fmt.Errorf("record of %d bytes is larger than %d: %w", len(cfg.Record), runtime.MaxRecordSize, errdefs.ErrInvalidArgument), "create container %s", cfg.ID)
	}
	ctx = r.withNS(ctx)
	log := r.log.WithValues("container", cfg.ID)

	if _, err := r.client.LoadContainer(ctx, cfg.ID); err == nil {
		return newErr(runtime.ErrAlreadyExists, "create container %s", cfg.ID)
	} else if !errdefs.IsNotFound(err) {
		return wrapErr(err, "create container %s", cfg.ID)
	}

	if cfg.RootFS != "" {
		return r.createOnDirectory(ctx, cfg)
	}
	name, err := NormalizeRef(cfg.Image)
	if err != nil {
		return wrapErr(err, "create container %s", cfg.ID)
	}
	stored, err := r.client.GetImage(ctx, name)
	if err != nil {
		return wrapErr(err, "create container %s: image %s", cfg.ID, name)
	}
	meta, err := r.meta(ctx, stored)
	if err != nil {
		return wrapErr(err, "create container %s: image config", cfg.ID)
	}
	img := cachedImage{Image: stored, m: meta}
	imgSpec, err := meta.spec()
	if err != nil {
		return wrapErr(err, "create container %s", cfg.ID)
	}
	specOpts, err := r.specOpts(cfg, img, imgSpec.Config)
	if err != nil {
		return wrapErr(err, "create container %s", cfg.ID)
	}

	labels, logPath, err := r.containerLabels(cfg)
	if err != nil {
		return err
	}

	sn := r.client.SnapshotService(r.opts.snapshotter)
	// NewContainer holds its own lease over the snapshot and the record. The image was
	// unpacked when it was pulled, so that is assumed; only if the parent snapshot is
	// missing (imported image, other snapshotter, GC) is it unpacked, under a lease, and
	// the create tried once more. This keeps a lease and a snapshot walk off every create.
	copts := []client.NewContainerOpts{
		client.WithSnapshotter(r.opts.snapshotter),
		client.WithNewSnapshot(cfg.ID, img),
		client.WithRuntime(r.opts.runtime, nil),
		client.WithContainerLabels(labels),
		client.WithNewSpec(specOpts...),
	}
	if cfg.Record != nil {
		copts = append(copts, withRecord(cfg.Record))
	}
	newContainer := func(ctx context.Context) error {
		_, err := r.client.NewContainer(ctx, cfg.ID, copts...)
		return err
	}
	err = newContainer(ctx)
	if errdefs.IsAlreadyExists(err) {
		// The container record was absent above, so a snapshot with our key is debris from
		// a create that crashed half-way: the key is ours, so reclaim it and try again
		// instead of failing forever. (Checked here, on failure, to keep a snapshot stat
		// off every create.)
		switch _, serr := sn.Stat(ctx, cfg.ID); {
		case serr == nil:
			if _, lerr := r.client.LoadContainer(ctx, cfg.ID); errdefs.IsNotFound(lerr) {
				log.Info("removing orphaned snapshot from an interrupted create")
				if rerr := sn.Remove(ctx, cfg.ID); rerr != nil && !errdefs.IsNotFound(rerr) {
					return wrapErr(rerr, "create container %s: remove orphaned snapshot", cfg.ID)
				}
				err = newContainer(ctx)
			}
		case errdefs.IsNotFound(serr):
			// The orphan was there when the create failed on it and is gone now: containerd's
			// garbage collector took it. Nothing is in the way any more.
			err = newContainer(ctx)
		}
	}
	if errdefs.IsNotFound(err) {
		lctx, done, lerr := r.client.WithLease(ctx)
		if lerr != nil {
			return wrapErr(lerr, "create container %s: lease", cfg.ID)
		}
		defer func() { _ = done(context.WithoutCancel(lctx)) }()
		if uerr := r.ensureUnpacked(lctx, stored); uerr != nil {
			return wrapErr(uerr, "create container %s: unpack %s", cfg.ID, name)
		}
		err = newContainer(lctx)
	}
	if err != nil {
		if errdefs.IsAlreadyExists(err) {
			// Lost a race with a concurrent create of the same ID: the other one owns
			// the snapshot and the record, so do not clean up.
			return wrapErr(err, "create container %s", cfg.ID)
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		// A create cut short by the caller (cancelled, timed out) may still have been
		// carried out by containerd: then the record exists and uses the snapshot, and
		// removing it would leave a container that can never start. So the snapshot goes
		// only when the record is known to be absent; the next create adopts a record, or
		// reclaims a snapshot left without one.
		if _, lerr := r.client.LoadContainer(cctx, cfg.ID); !errdefs.IsNotFound(lerr) {
			return wrapErr(err, "create container %s", cfg.ID)
		}
		if rerr := sn.Remove(cctx, cfg.ID); rerr != nil && !errdefs.IsNotFound(rerr) {
			log.Error(rerr, "removing snapshot after failed create")
		}
		return wrapErr(err, "create container %s", cfg.ID)
	}
	log.V(1).Info("created container", "image", name, "log", logPath)
	return nil
}

// containerLabels are the labels a new container gets (cfg's, ecsd's marker, its log file
// and, when they differ from the defaults, its log settings for the task's logger), and
// the log file, whose directory it creates.
func (r *Runtime) containerLabels(cfg runtime.ContainerConfig) (map[string]string, string, error) {
	logPath := cfg.LogPath
	if logPath == "" {
		logPath = filepath.Join(r.opts.logDir, cfg.ID+".log")
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, "", wrapErr(err, "create container %s: log directory", cfg.ID)
	}
	labels := make(map[string]string, len(cfg.Labels)+3)
	maps.Copy(labels, cfg.Labels)
	labels[LabelManaged] = "true"
	labels[labelLogPath] = logPath
	if cfg.SELinuxMountLabel != "" {
		labels[labelMountLabel] = cfg.SELinuxMountLabel
	}
	if len(cfg.Logging.LoggerArgs) > 0 && r.opts.logBinary == "" {
		// Only tests run a runtime without the logger; the agent always has one.
		r.log.V(1).Info("no logger (WithLogBinary): rotation and shipping settings do not apply", "container", cfg.ID)
	}
	if cfg.Logging.Discard || len(cfg.Logging.LoggerArgs) > 0 {
		b, err := json.Marshal(cfg.Logging)
		if err != nil {
			return nil, "", wrapErr(err, "create container %s: log settings", cfg.ID)
		}
		if len(b) > maxLabelSize-len(labelLogSettings) {
			return nil, "", fmt.Errorf("create container %s: log settings of %d bytes exceed a label's %d", cfg.ID, len(b), maxLabelSize)
		}
		labels[labelLogSettings] = string(b)
	}
	return labels, logPath, nil
}

// createOnDirectory creates a container whose root file system is the host directory
// cfg.RootFS (read-only): no image, no snapshot, so nothing to clean up if it fails.
func (r *Runtime) createOnDirectory(ctx context.Context, cfg runtime.ContainerConfig) error {
	if !filepath.IsAbs(cfg.RootFS) {
		return wrapErr(fmt.Errorf("root file system %q must be an absolute path: %w", cfg.RootFS, errdefs.ErrInvalidArgument), "create container %s", cfg.ID)
	}
	specOpts, err := r.specOpts(cfg, nil, ocispec.ImageConfig{})
	if err != nil {
		return wrapErr(err, "create container %s", cfg.ID)
	}
	labels, _, err := r.containerLabels(cfg)
	if err != nil {
		return err
	}
	copts := []client.NewContainerOpts{
		client.WithRuntime(r.opts.runtime, nil),
		client.WithContainerLabels(labels),
		client.WithNewSpec(specOpts...),
	}
	if cfg.Record != nil {
		copts = append(copts, withRecord(cfg.Record))
	}
	if _, err := r.client.NewContainer(ctx, cfg.ID, copts...); err != nil {
		return wrapErr(err, "create container %s", cfg.ID)
	}
	r.log.V(1).Info("created container on a directory", "container", cfg.ID, "rootfs", cfg.RootFS)
	return nil
}

// withRecord stores the agent's record as a container extension.
func withRecord(record []byte) client.NewContainerOpts {
	return func(_ context.Context, _ *client.Client, c *containers.Container) error {
		if c.Extensions == nil {
			c.Extensions = map[string]typeurl.Any{}
		}
		c.Extensions[recordExtension] = &ptypes.Any{TypeUrl: recordTypeURL, Value: record}
		return nil
	}
}

// ContainerRecord returns the record stored with the container at create, nil if none.
func (r *Runtime) ContainerRecord(ctx context.Context, id string) ([]byte, error) {
	ctx = r.withNS(ctx)
	info, err := r.client.ContainerService().Get(ctx, id)
	if err != nil {
		return nil, wrapErr(err, "container record %s", id)
	}
	ext, ok := info.Extensions[recordExtension]
	if !ok || ext == nil {
		return nil, nil
	}
	if got := ext.GetTypeUrl(); got != recordTypeURL {
		return nil, wrapErr(fmt.Errorf("record has type %q, want %q: %w", got, recordTypeURL, errdefs.ErrInvalidArgument), "container record %s", id)
	}
	return ext.GetValue(), nil
}

// ensureUnpacked unpacks img for our snapshotter if needed (e.g. it was imported, or
// pulled for another snapshotter).
func (r *Runtime) ensureUnpacked(ctx context.Context, img client.Image) error {
	ok, err := img.IsUnpacked(ctx, r.opts.snapshotter)
	if err != nil || ok {
		return err
	}
	return img.Unpack(ctx, r.opts.snapshotter)
}

// InspectContainer returns the container's metadata and the state of its task.
func (r *Runtime) InspectContainer(ctx context.Context, id string) (runtime.ContainerState, error) {
	ctx = r.withNS(ctx)
	info, err := r.client.ContainerService().Get(ctx, id)
	if err != nil {
		return runtime.ContainerState{}, wrapErr(err, "inspect container %s", id)
	}
	var proc *tasktypes.Process
	resp, err := r.client.TaskService().Get(ctx, &tasksapi.GetRequest{ContainerID: id})
	if err != nil {
		if err = errgrpc.ToNative(err); !errdefs.IsNotFound(err) {
			return runtime.ContainerState{}, wrapErr(err, "inspect container %s: task", id)
		}
	} else {
		proc = resp.Process
	}
	st := r.state(ctx, info, proc)
	st.StartError = startError(st, info.Labels[labelLogPath])
	return st, nil
}

// ListContainers lists the containers carrying LabelManaged, with their task state, in two
// calls (containers, tasks) however many there are.
func (r *Runtime) ListContainers(ctx context.Context) ([]runtime.ContainerState, error) {
	ctx = r.withNS(ctx)
	ctrs, err := r.client.ContainerService().List(ctx, managedFilter)
	if err != nil {
		return nil, wrapErr(err, "list containers")
	}
	resp, err := r.client.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
	if err != nil {
		return nil, wrapErr(errgrpc.ToNative(err), "list tasks")
	}
	procs := make(map[string]*tasktypes.Process, len(resp.Tasks))
	for _, p := range resp.Tasks {
		// The tasks API names an init process by its container ID in ID; ContainerID is
		// only filled for exec processes.
		id := p.ContainerID
		if id == "" {
			id = p.ID
		}
		procs[id] = p
	}
	out := make([]runtime.ContainerState, 0, len(ctrs))
	for _, c := range ctrs {
		out = append(out, r.state(ctx, c, procs[c.ID]))
	}
	return out, nil
}

// lostExitCode is reported for a container that was started but whose task vanished
// (host reboot, containerd state wiped): Docker reports 255 in the same situation.
const lostExitCode = 255

// state combines the container record with its task (nil when there is none).
func (r *Runtime) state(ctx context.Context, info containers.Container, proc *tasktypes.Process) runtime.ContainerState {
	st := runtime.ContainerState{
		ID:        info.ID,
		Labels:    info.Labels,
		Image:     info.Image,
		Status:    runtime.StatusCreated,
		CreatedAt: info.CreatedAt,
		OOMKilled: info.Labels[labelOOMKilled] == "true",
	}
	if v := info.Labels[labelStartedAt]; v != "" {
		st.StartedAt, _ = time.Parse(time.RFC3339Nano, v)
	}
	if v, ok := r.startedAt.Load(info.ID); ok {
		// This process's own start is never older than the label (which may still be
		// being written).
		st.StartedAt = v.(time.Time)
	}
	if proc == nil {
		if !st.StartedAt.IsZero() {
			st.Status = runtime.StatusStopped
			st.ExitCode = lostExitCode
		}
		return st
	}
	switch proc.Status {
	case tasktypes.Status_CREATED:
		st.Status = runtime.StatusCreated
		st.Pid = proc.Pid
	case tasktypes.Status_RUNNING, tasktypes.Status_PAUSED, tasktypes.Status_PAUSING:
		st.Status = runtime.StatusRunning
		st.Pid = proc.Pid
	case tasktypes.Status_STOPPED:
		st.Status = runtime.StatusStopped
		st.ExitCode = int32(proc.ExitStatus)
		if proc.ExitedAt != nil {
			st.FinishedAt = proc.ExitedAt.AsTime()
		}
		if !st.OOMKilled && st.ExitCode == 128+9 {
			st.OOMKilled = r.oomKilled(ctx, info.ID)
		}
	default:
		st.Status = runtime.StatusUnknown
	}
	return st
}

// RemoveContainer kills what is left of the task (the caller should have stopped it),
// deletes the task, the container and its snapshot. The log file is left for the cleanup
// controller. Absent is success.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	ctx = r.withNS(ctx)
	c, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		r.startedAt.Delete(id)
		return nil
	} else if err != nil {
		return wrapErr(err, "remove container %s", id)
	}
	if err := deleteTask(ctx, c); err != nil {
		return wrapErr(err, "remove container %s: delete task", id)
	}
	if err := c.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return wrapErr(err, "remove container %s", id)
	}
	r.startedAt.Delete(id)
	r.log.V(1).Info("removed container", "container", id)
	return nil
}

// deleteTask SIGKILLs the task if it still runs, waits for it and deletes it. No task is
// success.
func deleteTask(ctx context.Context, c client.Container) error {
	t, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if _, err := t.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	return nil
}
