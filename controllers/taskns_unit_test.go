package controllers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/fake"
)

// unitHolderRuntime is the runtime as TaskNamespaces sees it, holding at most one holder.
type unitHolderRuntime struct {
	state                                      *runtime.ContainerState // nil: no holder
	inspectErr, createErr, startErr, removeErr error
	created                                    []runtime.ContainerConfig
	calls                                      []string
}

func (r *unitHolderRuntime) CreateContainer(_ context.Context, cfg runtime.ContainerConfig) error {
	r.calls = append(r.calls, "create")
	if r.createErr != nil {
		return r.createErr
	}
	r.created = append(r.created, cfg)
	r.state = &runtime.ContainerState{ID: cfg.ID, Status: runtime.StatusCreated}
	return nil
}

func (r *unitHolderRuntime) StartContainer(context.Context, string) error {
	r.calls = append(r.calls, "start")
	if r.startErr != nil {
		return r.startErr
	}
	r.state.Status, r.state.Pid = runtime.StatusRunning, 4242
	return nil
}

func (r *unitHolderRuntime) InspectContainer(_ context.Context, id string) (runtime.ContainerState, error) {
	r.calls = append(r.calls, "inspect")
	if r.inspectErr != nil {
		return runtime.ContainerState{}, r.inspectErr
	}
	if r.state == nil {
		return runtime.ContainerState{}, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	return *r.state, nil
}

func (r *unitHolderRuntime) RemoveContainer(context.Context, string) error {
	r.calls = append(r.calls, "remove")
	if r.removeErr != nil {
		return r.removeErr
	}
	r.state = nil
	return nil
}

// TestTaskNamespacesEnsure covers pidMode "task": one holder per task, whose PID namespace
// the task's containers join. (ipcMode "task" mounts a tmpfs and needs root: the
// integration tests cover it.)
func TestTaskNamespacesEnsure(t *testing.T) {
	pidTask := unitTask("app")
	pidTask.Spec.PIDMode = "task"
	for _, tc := range []struct {
		name      string
		task      *api.Task
		bin       string
		rt        *unitHolderRuntime
		wantCalls []string
		wantPID   string
		wantErr   string
	}{
		{name: "a task that shares nothing needs no holder", task: unitTask("app"), bin: "/usr/bin/ecsd-init", rt: &unitHolderRuntime{}},
		{name: "no ecsd-init: refused with the reason", task: pidTask, rt: &unitHolderRuntime{},
			wantErr: "pidMode/ipcMode task needs ecsd-init"},
		{name: "the first container creates and starts the holder", task: pidTask, bin: "/usr/bin/ecsd-init", rt: &unitHolderRuntime{},
			wantCalls: []string{"inspect", "create", "start", "inspect"}, wantPID: "/proc/4242/ns/pid"},
		{name: "a created holder (agent crashed before the start) is started", task: pidTask, bin: "/usr/bin/ecsd-init",
			rt:        &unitHolderRuntime{state: &runtime.ContainerState{Status: runtime.StatusCreated}},
			wantCalls: []string{"inspect", "start", "inspect"}, wantPID: "/proc/4242/ns/pid"},
		{name: "a running holder is joined as it is", task: pidTask, bin: "/usr/bin/ecsd-init",
			rt:        &unitHolderRuntime{state: &runtime.ContainerState{Status: runtime.StatusRunning, Pid: 7}},
			wantCalls: []string{"inspect"}, wantPID: "/proc/7/ns/pid"},
		{name: "a holder that died cannot be replaced: the task would be split in two", task: pidTask, bin: "/usr/bin/ecsd-init",
			rt:      &unitHolderRuntime{state: &runtime.ContainerState{Status: runtime.StatusStopped, ExitCode: 137}},
			wantErr: "namespace holder is STOPPED (exit 137)"},
		{name: "a runtime that cannot answer", task: pidTask, bin: "/usr/bin/ecsd-init",
			rt:      &unitHolderRuntime{inspectErr: fmt.Errorf("dial: %w", runtime.ErrUnavailable)},
			wantErr: "task namespace holder: dial: runtime unavailable"},
		{name: "a failed create", task: pidTask, bin: "/usr/bin/ecsd-init", rt: &unitHolderRuntime{createErr: errors.New("no space")},
			wantErr: "create task namespace holder: no space"},
		{name: "a failed start", task: pidTask, bin: "/usr/bin/ecsd-init", rt: &unitHolderRuntime{startErr: errors.New("runc: oops")},
			wantErr: "start task namespace holder: runc: oops"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			n := NewTaskNamespaces(tc.rt, &fake.HostFS{}, tc.bin, dataDir, testutil.Logger(t))
			ns, err := n.Ensure(context.Background(), tc.task, "/ecs/"+unitTaskName, 0)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(strings.ToUpper(err.Error()), strings.ToUpper(tc.wantErr)) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ns.PID.Path != tc.wantPID || ns.IPC != (runtime.Namespace{}) || ns.ShmPath != "" {
				t.Errorf("namespaces %+v, want PID %q only", ns, tc.wantPID)
			}
			if !slices.Equal(tc.rt.calls, tc.wantCalls) {
				t.Errorf("runtime calls %v, want %v", tc.rt.calls, tc.wantCalls)
			}
			for _, cfg := range tc.rt.created {
				if cfg.ID != api.NamespaceHolderID(unitTaskName) || cfg.CgroupParent != "/ecs/"+unitTaskName || !cfg.PrivateNetwork ||
					!cfg.NoNewPrivileges || !slices.Equal(cfg.CapDrop, []string{"ALL"}) || !slices.Equal(cfg.Entrypoint, []string{"/ecsd-init", "--pause"}) ||
					cfg.Labels[api.LabelNamespaceHolder] != unitTaskName || len(cfg.Mounts) != 1 || cfg.Mounts[0].Source != tc.bin {
					t.Errorf("holder config %+v", cfg)
				}
				if fi, err := os.Stat(cfg.RootFS); err != nil || !fi.IsDir() {
					t.Errorf("holder root %s: %v", cfg.RootFS, err)
				}
			}
		})
	}
}

func TestTaskNamespacesRelease(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rt        *unitHolderRuntime
		wantCalls []string
		wantErr   string
	}{
		{"a holder is removed", &unitHolderRuntime{state: &runtime.ContainerState{Status: runtime.StatusRunning, Pid: 7}}, []string{"inspect", "remove"}, ""},
		{"no holder: nothing to do", &unitHolderRuntime{}, []string{"inspect"}, ""},
		{"a runtime that cannot answer", &unitHolderRuntime{inspectErr: runtime.ErrUnavailable}, []string{"inspect"}, "task namespace holder: runtime unavailable"},
		{"a failed remove", &unitHolderRuntime{state: &runtime.ContainerState{}, removeErr: errors.New("busy")}, []string{"inspect", "remove"}, "remove task namespace holder: busy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := NewTaskNamespaces(tc.rt, &fake.HostFS{}, "/usr/bin/ecsd-init", t.TempDir(), testutil.Logger(t))
			err := n.Release(context.Background(), unitTaskName)
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if !slices.Equal(tc.rt.calls, tc.wantCalls) {
				t.Fatalf("calls %v, want %v", tc.rt.calls, tc.wantCalls)
			}
		})
	}
}
