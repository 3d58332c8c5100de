package containerd

import (
	"context"
	"fmt"
	"sync"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"golang.org/x/sys/unix"

	"github.com/ecsd/ecsd/runtime"
)

// Plugin types whose exported root directories hold image data.
const (
	contentPluginType     = "io.containerd.content.v1"
	snapshotterPluginType = "io.containerd.snapshotter.v1"
)

// imageDirs caches the directories containerd keeps content blobs and this runtime's
// snapshots in: they are fixed for a daemon's life, so they are asked for once (and again
// only after a failed attempt).
type imageDirs struct {
	mu   sync.Mutex
	dirs []string
}

// ImageFilesystems statfs's the content store's and the snapshotter's root directories, as
// containerd's introspection service exports them, and reports each distinct file system
// once. It needs the agent to see the daemon's directories (same host, same mount
// namespace), as it does to read container logs.
func (r *Runtime) ImageFilesystems(ctx context.Context) ([]runtime.FilesystemUsage, error) {
	dirs, err := r.imageDirectories(ctx)
	if err != nil {
		return nil, err
	}
	var out []runtime.FilesystemUsage
	seen := map[uint64]bool{}
	for _, dir := range dirs {
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			return nil, fmt.Errorf("image file system %s: %w", dir, err)
		}
		if seen[st.Dev] {
			continue
		}
		seen[st.Dev] = true
		var fs unix.Statfs_t
		if err := unix.Statfs(dir, &fs); err != nil {
			return nil, fmt.Errorf("image file system %s: %w", dir, err)
		}
		bsize := uint64(fs.Bsize)
		out = append(out, runtime.FilesystemUsage{
			Path:      dir,
			Used:      (fs.Blocks - fs.Bfree) * bsize,
			Available: fs.Bavail * bsize,
		})
	}
	return out, nil
}

// imageDirectories returns the content store's root and the snapshotter's root.
func (r *Runtime) imageDirectories(ctx context.Context) ([]string, error) {
	r.dirs.mu.Lock()
	defer r.dirs.mu.Unlock()
	if r.dirs.dirs != nil {
		return r.dirs.dirs, nil
	}
	resp, err := r.client.IntrospectionService().Plugins(r.withNS(ctx))
	if err != nil {
		return nil, wrapErr(errgrpc.ToNative(err), "image file systems: introspection")
	}
	var dirs []string
	for _, p := range resp.Plugins {
		if (p.Type == contentPluginType || (p.Type == snapshotterPluginType && p.ID == r.opts.snapshotter)) && p.Exports["root"] != "" {
			dirs = append(dirs, p.Exports["root"])
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("image file systems: containerd exports no root directory for its content store or the %s snapshotter", r.opts.snapshotter)
	}
	r.dirs.dirs = dirs
	return dirs, nil
}

// ListUnmanagedContainers lists the containers in the namespace without LabelManaged (made
// by ctr, nerdctl or a script), with their task state.
func (r *Runtime) ListUnmanagedContainers(ctx context.Context) ([]runtime.ContainerState, error) {
	ctx = r.withNS(ctx)
	ctrs, err := r.client.ContainerService().List(ctx)
	if err != nil {
		return nil, wrapErr(err, "list containers")
	}
	resp, err := r.client.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
	if err != nil {
		return nil, wrapErr(errgrpc.ToNative(err), "list tasks")
	}
	procs := make(map[string]*tasktypes.Process, len(resp.Tasks))
	for _, p := range resp.Tasks {
		id := p.ContainerID
		if id == "" {
			id = p.ID
		}
		procs[id] = p
	}
	var out []runtime.ContainerState
	for _, c := range ctrs {
		if c.Labels[LabelManaged] == "true" {
			continue
		}
		st := r.state(ctx, c, procs[c.ID])
		if st.FinishedAt.IsZero() && st.Status != runtime.StatusRunning {
			// No task, or one that never ran: the record's last change is when it was
			// last touched.
			st.FinishedAt = c.UpdatedAt
		}
		out = append(out, st)
	}
	return out, nil
}
