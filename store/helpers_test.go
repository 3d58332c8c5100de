package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

func testScheme(t testing.TB) *runtime.Scheme {
	t.Helper()
	sch := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(sch); err != nil {
		t.Fatal(err)
	}
	return sch
}

// newStore returns a store closed at the end of the test.
func newStore(t testing.TB, opts ...Option) *Store {
	t.Helper()
	s, err := New(context.Background(), testScheme(t), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func dbPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "ecsd.db")
}

func task(name string) *v1alpha1.Task {
	return &v1alpha1.Task{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: v1alpha1.Namespace,
			Labels: map[string]string{v1alpha1.LabelFamily: "web"}},
		Spec: v1alpha1.TaskSpec{
			ARN:           "arn:aws:ecs:us-west-2:123456789012:task/default/" + name,
			Family:        "web",
			Version:       "3",
			DesiredStatus: v1alpha1.TaskStatusRunning,
			Containers:    []string{"app", "sidecar"},
		},
	}
}

func container(taskName, name string) *v1alpha1.Container {
	return &v1alpha1.Container{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.ContainerName(taskName, name), Namespace: v1alpha1.Namespace,
			Labels: map[string]string{v1alpha1.LabelTaskName: taskName}},
		Spec: v1alpha1.ContainerSpec{
			TaskName: taskName, Name: name, Image: "busybox:latest", Essential: true,
			Command:      []string{"sleep", "3600"},
			Environment:  map[string]string{"A": "1", "B": "2"},
			PortMappings: []v1alpha1.PortMapping{{ContainerPort: 80}},
		},
	}
}

// eventually polls cond until it holds or the timeout passes; never a fixed sleep. It is
// testutil.Eventually's twin, kept because these tests are in package store and testutil
// imports store: importing it here would be a cycle.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}
