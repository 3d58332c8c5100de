package controllers

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/fake"
)

// Builders of the unit tests (files *_unit_test.go) and the reconcilers they call helpers
// of, built from Options and Deps the way New builds them, on testutil.Clock(). They need
// no root, no containerd and no network namespace. Names start with "unit" so they cannot
// collide with the integration tests' helpers in the same package.

// unitOptions are DefaultOptions with a data directory of the test's own.
func unitOptions(t *testing.T) Options {
	t.Helper()
	o := DefaultOptions()
	o.DataDir = t.TempDir()
	return o
}

// unitCreate is the create reconciler of the helpers that read no objects (no client); a
// nil d.Cgroups or d.HostFS is an in-memory fake.
func unitCreate(t *testing.T, o Options, d Deps) *CreateReconciler {
	t.Helper()
	if d.Cgroups == nil {
		d.Cgroups = &fake.Cgroups{}
	}
	if d.HostFS == nil {
		d.HostFS = &fake.HostFS{}
	}
	if d.Volumes == nil {
		d.Volumes = &fake.Volumes{}
	}
	log := testutil.Logger(t)
	return &CreateReconciler{Runtime: d.Runtime, Network: d.Network, HostFS: d.HostFS, Cgroups: d.Cgroups,
		Volumes:    NewTaskVolumes(d.Volumes, o.DataDir, o.Volumes, log),
		Namespaces: NewTaskNamespaces(d.Runtime, d.HostFS, o.Namespaces.HolderBinary, o.DataDir, log),
		Inputs:     d.Inputs, Security: d.Security, Clock: testutil.Clock(), Log: log, DataDir: o.DataDir, Options: o.Create,
		NetworkOptions: o.Network, Metadata: o.Metadata}
}

// unitPull is the pull reconciler over rt and cl.
func unitPull(t *testing.T, cl client.Client, o Options, d Deps) *PullReconciler {
	t.Helper()
	return &PullReconciler{Client: cl, Runtime: d.Runtime, Auth: d.Auth, Images: NewImageUsers(cl),
		Clock: testutil.Clock(), Log: testutil.Logger(t), Options: o.Pull}
}

// unitTaskName is the task ID of the tasks the builders make.
const unitTaskName = "0123456789abcdef"

// unitTask is a task named unitTaskName with containers names, desired RUNNING, bridge mode.
func unitTask(names ...string) *api.Task {
	return &api.Task{
		ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: unitTaskName},
		Spec: api.TaskSpec{
			ARN:           "arn:aws:ecs:us-west-2:123456789012:task/default/" + unitTaskName,
			Family:        "web",
			Version:       "3",
			DesiredStatus: api.TaskStatusRunning,
			Containers:    names,
		},
	}
}

// unitContainer is container name of unitTask, with known and desired status, changed by muts.
func unitContainer(name string, known, desired api.ContainerState, muts ...func(*api.Container)) *api.Container {
	c := &api.Container{
		ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: api.ContainerName(unitTaskName, name)},
		Spec:       api.ContainerSpec{TaskName: unitTaskName, Name: name, Image: "busybox:latest", Essential: true},
		Status:     api.ContainerStatus{KnownStatus: known, DesiredStatus: desired},
	}
	for _, m := range muts {
		m(c)
	}
	return c
}

// unitSiblings indexes containers by container name, as containerScope.siblings does.
func unitSiblings(cs ...*api.Container) map[string]*api.Container {
	out := make(map[string]*api.Container, len(cs))
	for _, c := range cs {
		out[c.Spec.Name] = c
	}
	return out
}

// unitAt is testutil.Epoch()+d as the store keeps times.
func unitAt(d time.Duration) *metav1.Time {
	t := metav1.NewTime(testutil.Epoch().Add(d))
	return &t
}

// unitAgo is d before testutil.Epoch(), the time of testutil.Clock().
func unitAgo(d time.Duration) *metav1.Time {
	t := metav1.NewTime(testutil.Epoch().Add(-d))
	return &t
}

func unitExit(code int32) func(*api.Container) {
	return func(c *api.Container) { c.Status.ExitCode = &code }
}

func unitNotEssential(c *api.Container) { c.Spec.Essential = false }

// unitRuntime is the few runtime calls the unit-tested helpers make, each answered by a
// function of the test; any other call panics (on the nil embedded interface), which shows
// a helper doing more than the test expects.
type unitRuntime struct {
	runtime.Runtime
	pull             func(ctx context.Context, ref string, auth *runtime.Auth) (runtime.ImageInfo, error)
	inspectImage     func(ref string) (runtime.ImageInfo, error)
	inspectContainer func(id string) (runtime.ContainerState, error)
}

func (r *unitRuntime) PullImage(ctx context.Context, ref string, auth *runtime.Auth, _ ...runtime.PullOption) (runtime.ImageInfo, error) {
	return r.pull(ctx, ref, auth)
}

func (r *unitRuntime) InspectImage(_ context.Context, ref string) (runtime.ImageInfo, error) {
	return r.inspectImage(ref)
}

func (r *unitRuntime) InspectContainer(_ context.Context, id string) (runtime.ContainerState, error) {
	return r.inspectContainer(id)
}
