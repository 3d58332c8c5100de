package controllers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// holderInitPath is where the holder binary appears in the holder's root file system.
const holderInitPath = "/ecsd-init"

// defaultShmBytes is Docker's /dev/shm size, used for a task's shared /dev/shm unless one of
// its containers asks for more (sharedMemorySize).
const defaultShmBytes = 64 << 20

// namespaceRuntime is what the task-namespace step needs of the runtime.
type namespaceRuntime interface {
	CreateContainer(ctx context.Context, cfg runtime.ContainerConfig) error
	StartContainer(ctx context.Context, id string) error
	InspectContainer(ctx context.Context, id string) (runtime.ContainerState, error)
	RemoveContainer(ctx context.Context, id string) error
}

// taskNamespaces is what a container of a pidMode/ipcMode "task" task joins.
type taskNamespaces struct {
	PID, IPC runtime.Namespace
	// ShmPath is the task's shared /dev/shm (ipcMode task only).
	ShmPath string
}

// TaskNamespaces keeps the shared PID and IPC namespaces of tasks with pidMode or ipcMode
// "task", as the reference agent does with its pause container. A PID namespace lives only
// as long as its first process, so each such task gets a holder: a runtime container on an
// empty, read-only directory whose only process is ecsd-init --pause, PID 1 of the task's
// PID namespace (it reaps the task's orphans) and owner of its IPC namespace. The task's
// containers join both through /proc/<holder pid>/ns/*. Being a containerd container it
// outlives agent restarts; it is found again by its derived ID. For ipcMode task the task's
// /dev/shm is a tmpfs under the task's directory, bind-mounted into each container.
//
// Ensure is called by the create step before each container of such a task is created,
// Release when the task has stopped and again at cleanup; a sweep releases holders whose
// task is gone. All are idempotent and serialised, so concurrent creates of one task's
// containers find one holder.
type TaskNamespaces struct {
	rt      namespaceRuntime
	host    runtime.HostFS
	bin     string
	dataDir string
	log     logr.Logger
	mu      sync.Mutex
}

// NewTaskNamespaces returns the step; bin is ecsd-init (holderBin), "" when the host has
// none, which makes tasks that need a holder fail with the reason. host mounts the shared
// /dev/shm.
func NewTaskNamespaces(rt namespaceRuntime, host runtime.HostFS, bin, dataDir string, log logr.Logger) *TaskNamespaces {
	return &TaskNamespaces{rt: rt, host: host, bin: bin, dataDir: dataDir, log: log}
}

// Ensure makes sure the task's holder runs and returns the namespaces it keeps.
// cgroupParent places the holder in the task's cgroup; shmBytes sizes the shared /dev/shm.
func (n *TaskNamespaces) Ensure(ctx context.Context, t *api.Task, cgroupParent string, shmBytes int64) (taskNamespaces, error) {
	if !t.SharesNamespaces() {
		return taskNamespaces{}, nil
	}
	if n.bin == "" {
		return taskNamespaces{}, fmt.Errorf("%w: pidMode/ipcMode task needs ecsd-init, which is not installed next to the agent (or at ECSD_INIT_PATH)", errInvalidDefinition)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	id := api.NamespaceHolderID(t.Name)
	dir := api.TaskNamespaceDir(n.dataDir, t.Name)
	shm := ""
	if t.Spec.IPCMode == "task" {
		shm = filepath.Join(dir, "shm")
	}
	st, err := n.rt.InspectContainer(ctx, id)
	switch {
	case errors.Is(err, runtime.ErrNotFound):
		if err := n.create(ctx, t, id, dir, shm, cgroupParent, shmBytes); err != nil {
			return taskNamespaces{}, err
		}
		st.Status = runtime.StatusCreated
	case err != nil:
		return taskNamespaces{}, fmt.Errorf("task namespace holder: %w", err)
	}
	switch st.Status {
	case runtime.StatusRunning:
	case runtime.StatusCreated, runtime.StatusUnknown:
		if err := n.rt.StartContainer(ctx, id); err != nil {
			return taskNamespaces{}, fmt.Errorf("start task namespace holder: %w", err)
		}
		if st, err = n.rt.InspectContainer(ctx, id); err != nil {
			return taskNamespaces{}, fmt.Errorf("task namespace holder: %w", err)
		}
		n.log.Info("started the task's namespace holder", "task", t.Spec.ARN, "pid", st.Pid)
	}
	if st.Status != runtime.StatusRunning || st.Pid == 0 {
		// Its namespaces died with it: a new holder would split the task in two.
		return taskNamespaces{}, fmt.Errorf("the task's PID/IPC namespace holder is %s (exit %d); its containers can no longer share namespaces", st.Status, st.ExitCode)
	}
	proc := "/proc/" + strconv.FormatUint(uint64(st.Pid), 10) + "/ns/"
	out := taskNamespaces{ShmPath: shm}
	if t.Spec.PIDMode == "task" {
		out.PID = runtime.Namespace{Path: proc + "pid"}
	}
	if t.Spec.IPCMode == "task" {
		out.IPC = runtime.Namespace{Path: proc + "ipc"}
	}
	return out, nil
}

// create makes the holder's directories, the shared /dev/shm and the holder container.
func (n *TaskNamespaces) create(ctx context.Context, t *api.Task, id, dir, shm, cgroupParent string, shmBytes int64) error {
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return fmt.Errorf("task namespace holder: %w", err)
	}
	if shm != "" {
		if err := n.host.MountTmpfs(shm, max(shmBytes, defaultShmBytes)); err != nil {
			return fmt.Errorf("task /dev/shm: %w", err)
		}
	}
	cfg := runtime.ContainerConfig{
		ID:     id,
		RootFS: rootfs,
		Labels: map[string]string{
			api.LabelNamespaceHolder: t.Name,
			api.LabelTaskARN:         t.Spec.ARN,
		},
		Entrypoint:      []string{holderInitPath, "--pause"},
		Mounts:          []runtime.Mount{{Type: "bind", Source: n.bin, Destination: holderInitPath, Options: []string{"ro"}}},
		PrivateNetwork:  true,
		NoNewPrivileges: true,
		CapDrop:         []string{"ALL"},
		CgroupParent:    cgroupParent,
		LogPath:         filepath.Join(dir, "holder.log"),
	}
	if err := n.rt.CreateContainer(ctx, cfg); err != nil && !errors.Is(err, runtime.ErrAlreadyExists) {
		return fmt.Errorf("create task namespace holder: %w", err)
	}
	return nil
}

// Release removes the task's holder (which ends its namespaces) and unmounts its /dev/shm.
// Nothing there is success.
func (n *TaskNamespaces) Release(ctx context.Context, taskName string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	id := api.NamespaceHolderID(taskName)
	_, err := n.rt.InspectContainer(ctx, id)
	found := err == nil
	if err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("task namespace holder: %w", err)
	}
	if found {
		if err := n.rt.RemoveContainer(ctx, id); err != nil {
			return fmt.Errorf("remove task namespace holder: %w", err)
		}
	}
	if err := n.host.Unmount(filepath.Join(api.TaskNamespaceDir(n.dataDir, taskName), "shm")); err != nil {
		return fmt.Errorf("task /dev/shm: %w", err)
	}
	if found {
		n.log.Info("removed the task's namespace holder", "task", taskName)
	}
	return nil
}

// TaskNamespacesReconciler removes a task's namespace holder once the task has stopped: its
// containers are gone, and the holder must not outlive them (it is the PID namespace's
// init, and holds the task's /dev/shm).
type TaskNamespacesReconciler struct {
	Client     client.Client
	Namespaces *TaskNamespaces
}

// Reconcile releases the holder of a stopped task.
func (r *TaskNamespacesReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	t := &api.Task{}
	if err := r.Client.Get(ctx, req.NamespacedName, t); err != nil {
		return reconcile.Result{}, client404(err)
	}
	if !t.SharesNamespaces() || t.Status.KnownStatus != api.TaskStatusStopped {
		return reconcile.Result{}, nil
	}
	return reconcile.Result{}, r.Namespaces.Release(ctx, t.Name)
}
