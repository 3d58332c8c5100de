package controllers

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/runtime"
)

// Builders and the one Engine constructor of the unit tests (files *_unit_test.go). They
// need no root, no containerd and no network namespace. Names start with "unit" so they
// cannot collide with the integration tests' helpers in the same package.

// unitEngine is the only place the unit tests build an Engine: the methods they call read
// settings (and, for a few, the runtime rt). When the Engine is split into one type per
// reconciler, this is the one function to change.
func unitEngine(t *testing.T, s Settings, rt runtime.Runtime) *Engine {
	t.Helper()
	return &Engine{s: s, rt: rt, log: testutil.Logger(t)}
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

// unitAgo is time.Now()-d, for the functions that still read the machine's clock.
func unitAgo(d time.Duration) *metav1.Time {
	t := metav1.NewTime(time.Now().Add(-d))
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
