package report

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

func TestBacklog(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	stoppedTask := func(sent api.TaskState) *api.Task {
		tk := task(api.TaskStatusStopped, sent)
		tk.Status.History = []api.Transition{{To: "RUNNING", Time: metav1.NewTime(at(10))}, {To: "STOPPED", Time: metav1.NewTime(at(20))}}
		return tk
	}
	for _, tc := range []struct {
		name    string
		task    *api.Task
		cs      []*api.Container
		changes int
		oldest  time.Time
	}{
		{"nothing happened yet", task(api.TaskStatusCreated, "", "CREATED"),
			[]*api.Container{container("app", api.ContainerStatusCreated, "", false, t0)}, 0, time.Time{}},
		{"everything sent", task(api.TaskStatusRunning, api.TaskStatusRunning, "RUNNING"),
			[]*api.Container{container("app", api.ContainerStatusRunning, api.ContainerStatusRunning, true, t0)}, 0, time.Time{}},
		{"running, unsent: task and container", task(api.TaskStatusRunning, "", "RUNNING"),
			[]*api.Container{container("app", api.ContainerStatusRunning, "", true, t0)}, 2, t0},
		{"ran and stopped unsent: RUNNING and STOPPED of each", stoppedTask(""),
			[]*api.Container{container("app", api.ContainerStatusStopped, "", true, at(20))}, 4, at(0)},
		{"RUNNING sent, STOPPED not", stoppedTask(api.TaskStatusRunning),
			[]*api.Container{container("app", api.ContainerStatusStopped, api.ContainerStatusRunning, true, at(25))}, 2, at(20)},
		{"a container change alone", task(api.TaskStatusRunning, api.TaskStatusRunning, "RUNNING"),
			[]*api.Container{container("app", api.ContainerStatusRunning, api.ContainerStatusRunning, true, t0),
				container("side", api.ContainerStatusStopped, api.ContainerStatusRunning, true, at(30))}, 1, at(30)},
		{"history gone: the known status time", func() *api.Task {
			tk := task(api.TaskStatusStopped, api.TaskStatusRunning)
			tk.Status.KnownStatusTime = &metav1.Time{Time: at(40)}
			return tk
		}(), nil, 1, at(40)},
		{"no ARN: never reported", func() *api.Task {
			tk := task(api.TaskStatusRunning, "", "RUNNING")
			tk.Spec.ARN = ""
			return tk
		}(), nil, 0, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b Backlog
			b.Add(tc.task, tc.cs)
			if b.Changes != tc.changes || !b.Oldest.Equal(tc.oldest) {
				t.Errorf("backlog %d changes, oldest %v; want %d, %v", b.Changes, b.Oldest, tc.changes, tc.oldest)
			}
		})
	}
	// Several tasks add up, keeping the oldest.
	var b Backlog
	b.Add(stoppedTask(api.TaskStatusRunning), nil)
	b.Add(task(api.TaskStatusRunning, "", "RUNNING"), nil)
	if b.Changes != 2 || !b.Oldest.Equal(t0) {
		t.Errorf("two tasks: %d changes, oldest %v", b.Changes, b.Oldest)
	}
}
