package controllers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/fake"
)

// unitRemover is the cleanup reconciler's runtime: it records every RemoveContainer and
// answers with errs[id] (nil: removed).
type unitRemover struct {
	removed []string
	errs    map[string]error
}

func (r *unitRemover) RemoveContainer(_ context.Context, id string) error {
	r.removed = append(r.removed, id)
	return r.errs[id]
}

const unitImageDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestCleanupReconciler: when a stopped task is removed (ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION
// after it stopped, and only once ECS has been told it stopped), and that nothing is left
// behind: runtime containers, the image's use, the cgroup, files and the objects.
func TestCleanupReconciler(t *testing.T) {
	stopped := func(cleanupIn time.Duration, sent api.TaskState) func(*api.Task) {
		return func(tk *api.Task) {
			tk.Status.KnownStatus = api.TaskStatusStopped
			tk.Status.SentStatus = sent
			tk.Status.CleanupAt = unitAt(cleanupIn)
		}
	}
	created := func(c *api.Container) {
		c.Status.RuntimeID = "rt-" + c.Spec.Name
		c.Status.ImageDigest = unitImageDigest
	}
	for _, tc := range []struct {
		name           string
		task           func(*api.Task)
		requiresReport bool
		removeErrs     map[string]error
		cgroupErr      error
		// wantCleaned: the objects, files and cgroup are gone and TaskCleaned was told.
		wantCleaned bool
		wantRequeue time.Duration
		wantErr     bool
		// wantRemoved are the runtime IDs removed (any order), when the cleanup ran.
		wantRemoved []string
	}{
		{name: "a running task is not cleaned up",
			task: func(tk *api.Task) { tk.Status.KnownStatus = api.TaskStatusRunning }},
		{name: "a stopped task without a cleanup time is not cleaned up",
			task: func(tk *api.Task) { tk.Status.KnownStatus = api.TaskStatusStopped }},
		{name: "a stopped task waits for its cleanup time",
			task: stopped(3*time.Minute, api.TaskStatusStopped), wantRequeue: 3 * time.Minute},
		{name: "with reporting on, a task ECS was not told stopped is kept",
			task: stopped(-time.Minute, api.TaskStatusRunning), requiresReport: true},
		{name: "without reporting, the cleanup time alone decides",
			task: stopped(-time.Minute, api.TaskStatusRunning), wantCleaned: true, wantRemoved: []string{"rt-app", "rt-sidecar"}},
		{name: "a due task loses its containers, files, cgroup and objects",
			task: stopped(0, api.TaskStatusStopped), requiresReport: true,
			wantCleaned: true, wantRemoved: []string{"rt-app", "rt-sidecar"}},
		{name: "containers already gone from the runtime are no error",
			task:        stopped(0, api.TaskStatusStopped),
			removeErrs:  map[string]error{"rt-app": fmt.Errorf("container rt-app: %w", runtime.ErrNotFound)},
			wantCleaned: true, wantRemoved: []string{"rt-app", "rt-sidecar"}},
		{name: "a runtime that fails keeps everything for the next attempt",
			task:       stopped(0, api.TaskStatusStopped),
			removeErrs: map[string]error{"rt-sidecar": errors.New("containerd: deadline exceeded")},
			wantErr:    true, wantRemoved: []string{"rt-app", "rt-sidecar"}},
		{name: "a cgroup that cannot be removed keeps the objects for the next attempt",
			task: stopped(0, api.TaskStatusStopped), cgroupErr: errors.New("device or resource busy"),
			wantErr: true, wantRemoved: []string{"rt-app", "rt-sidecar"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			task := unitTask("app", "sidecar")
			tc.task(task)
			app := unitContainer("app", api.ContainerStatusStopped, api.ContainerStatusStopped, created)
			side := unitContainer("sidecar", api.ContainerStatusStopped, api.ContainerStatusStopped, created)
			img := &api.Image{ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: api.ImageName(unitImageDigest)},
				Spec:   api.ImageSpec{Digest: unitImageDigest},
				Status: api.ImageStatus{Users: []string{app.Name, side.Name, "other-task-app"}}}
			st := testutil.Store(t, task, app, side, img)
			cl := st.DirectClient()
			o := unitOptions(t)
			taskFiles := taskDir(o.DataDir, task.Name)
			if err := os.MkdirAll(filepath.Join(taskFiles, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			rm := &unitRemover{errs: tc.removeErrs}
			cg := &fake.Cgroups{RemoveErr: tc.cgroupErr}
			var cleaned []string
			rt := fake.New(testutil.Clock())
			r := &CleanupReconciler{Client: cl, Runtime: rm,
				Namespaces: NewTaskNamespaces(rt, &fake.HostFS{}, "", o.DataDir, testutil.Logger(t)),
				Volumes:    NewTaskVolumes(&fake.Volumes{}, o.DataDir, o.Volumes, testutil.Logger(t)),
				Cgroups:    cg, Images: NewImageUsers(cl),
				TaskCleaned: func(arn string) { cleaned = append(cleaned, arn) },
				Clock:       testutil.Clock(), Log: testutil.Logger(t), DataDir: o.DataDir,
				Options: CleanupOptions{RequiresReport: tc.requiresReport}}

			res, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(task)})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Reconcile error %v, want an error: %v", err, tc.wantErr)
			}
			if res.RequeueAfter != tc.wantRequeue {
				t.Errorf("requeue after %v, want %v", res.RequeueAfter, tc.wantRequeue)
			}
			if slices.Sort(rm.removed); !slices.Equal(rm.removed, tc.wantRemoved) {
				t.Errorf("removed %v, want %v", rm.removed, tc.wantRemoved)
			}
			taskErr := cl.Get(ctx, client.ObjectKeyFromObject(task), &api.Task{})
			ctrErr := cl.Get(ctx, client.ObjectKeyFromObject(app), &api.Container{})
			_, dirErr := os.Stat(taskFiles)
			if tc.wantCleaned {
				if !apierrors.IsNotFound(taskErr) || !apierrors.IsNotFound(ctrErr) {
					t.Errorf("objects left: task %v, container %v", taskErr, ctrErr)
				}
				if !errors.Is(dirErr, os.ErrNotExist) {
					t.Errorf("task directory left: %v", dirErr)
				}
				if !slices.Equal(cleaned, []string{task.Spec.ARN}) {
					t.Errorf("TaskCleaned told %v, want the task's ARN once", cleaned)
				}
				got := &api.Image{}
				if err := cl.Get(ctx, client.ObjectKeyFromObject(img), got); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got.Status.Users, []string{"other-task-app"}) || got.Status.LastUsedAt == nil {
					t.Errorf("image users %v last used %v; want only the other task's, and a last use", got.Status.Users, got.Status.LastUsedAt)
				}
				return
			}
			if taskErr != nil || ctrErr != nil || dirErr != nil {
				t.Errorf("a task not cleaned up lost something: task %v, container %v, directory %v", taskErr, ctrErr, dirErr)
			}
			if len(cleaned) != 0 {
				t.Errorf("TaskCleaned told %v for a task not cleaned up", cleaned)
			}
		})
	}
}

// TestCleanupNeverCreated: a container whose create was never recorded may still exist
// under the ID the create step would have used (or an older agent's ID): both are removed.
func TestCleanupNeverCreated(t *testing.T) {
	ctx := context.Background()
	task := unitTask("app")
	task.Status.KnownStatus, task.Status.CleanupAt = api.TaskStatusStopped, unitAgo(time.Second)
	app := unitContainer("app", api.ContainerStatusStopped, api.ContainerStatusStopped)
	st := testutil.Store(t, task, app)
	o := unitOptions(t)
	rm := &unitRemover{}
	r := &CleanupReconciler{Client: st.DirectClient(), Runtime: rm,
		Namespaces: NewTaskNamespaces(fake.New(testutil.Clock()), &fake.HostFS{}, "", o.DataDir, testutil.Logger(t)),
		Volumes:    NewTaskVolumes(&fake.Volumes{}, o.DataDir, o.Volumes, testutil.Logger(t)),
		Cgroups:    &fake.Cgroups{}, Images: NewImageUsers(st.DirectClient()),
		Clock: testutil.Clock(), Log: testutil.Logger(t), DataDir: o.DataDir}
	if _, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(task)}); err != nil {
		t.Fatal(err)
	}
	want := []string{api.ContainerRuntimeID(task, app), api.LegacyRuntimeID(app)}
	if !slices.Equal(rm.removed, want) {
		t.Errorf("removed %v, want the derived and the legacy ID %v", rm.removed, want)
	}
}
