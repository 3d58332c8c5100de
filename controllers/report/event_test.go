package report

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func task(known, sent api.TaskState, history ...string) *api.Task {
	t := &api.Task{ObjectMeta: metav1.ObjectMeta{Name: "t1", Namespace: api.Namespace}}
	t.Spec.ARN = "arn:aws:ecs:us-west-2:1:task/c/t1"
	t.Spec.Containers = []string{"app", "side"}
	t.Status.KnownStatus, t.Status.SentStatus = known, sent
	for _, h := range history {
		t.Status.History = append(t.Status.History, api.Transition{To: h, Time: metav1.NewTime(t0)})
	}
	return t
}

func container(name string, known, sent api.ContainerState, ran bool, changed time.Time) *api.Container {
	c := &api.Container{ObjectMeta: metav1.ObjectMeta{Name: "t1-" + name, Namespace: api.Namespace}}
	c.Spec.Name, c.Spec.TaskName = name, "t1"
	c.Status.KnownStatus, c.Status.SentStatus = known, sent
	c.Status.RuntimeID = "t1-" + name
	if ran {
		c.Status.StartedAt = &metav1.Time{Time: t0}
	}
	if known == api.ContainerStatusStopped {
		c.Status.ExitCode = aws.Int32(3)
		c.Status.Reason = "exited"
	}
	c.Status.History = []api.Transition{{To: string(known), Time: metav1.NewTime(changed)}}
	return c
}

func TestNextEvent(t *testing.T) {
	now := t0.Add(time.Minute)
	type want struct {
		status     string // "" = no submission
		containers map[string]string
		wait       bool
	}
	for _, tc := range []struct {
		name string
		task *api.Task
		cs   []*api.Container
		want want
	}{
		{"pending task: nothing",
			task(api.TaskStatusCreated, "", "CREATED"),
			[]*api.Container{container("app", api.ContainerStatusCreated, "", false, t0)},
			want{}},
		{"running: task and container RUNNING",
			task(api.TaskStatusRunning, "", "RUNNING"),
			[]*api.Container{container("app", api.ContainerStatusRunning, "", true, t0), container("side", api.ContainerStatusRunning, "", true, t0)},
			want{status: "RUNNING", containers: map[string]string{"app": "RUNNING", "side": "RUNNING"}}},
		{"stopped while unreported: RUNNING first",
			task(api.TaskStatusStopped, "", "RUNNING", "STOPPED"),
			[]*api.Container{container("app", api.ContainerStatusStopped, "", true, t0)},
			want{status: "RUNNING", containers: map[string]string{"app": "RUNNING"}}},
		{"then STOPPED with exit codes",
			task(api.TaskStatusStopped, api.TaskStatusRunning, "RUNNING", "STOPPED"),
			[]*api.Container{container("app", api.ContainerStatusStopped, api.ContainerStatusRunning, true, t0)},
			want{status: "STOPPED", containers: map[string]string{"app": "STOPPED"}}},
		{"never ran: straight to STOPPED",
			task(api.TaskStatusStopped, "", "STOPPED"),
			[]*api.Container{container("app", api.ContainerStatusStopped, "", false, t0)},
			want{status: "STOPPED", containers: map[string]string{"app": "STOPPED"}}},
		{"container-only change, recent: wait",
			task(api.TaskStatusRunning, api.TaskStatusRunning, "RUNNING"),
			[]*api.Container{container("side", api.ContainerStatusStopped, api.ContainerStatusRunning, true, now.Add(-time.Second))},
			want{wait: true}},
		{"container-only change, old enough: flush with task RUNNING",
			task(api.TaskStatusRunning, api.TaskStatusRunning, "RUNNING"),
			[]*api.Container{container("app", api.ContainerStatusRunning, api.ContainerStatusRunning, true, t0), container("side", api.ContainerStatusStopped, api.ContainerStatusRunning, true, t0)},
			want{status: "RUNNING", containers: map[string]string{"side": "STOPPED"}}},
		{"all sent: nothing",
			task(api.TaskStatusStopped, api.TaskStatusStopped, "RUNNING", "STOPPED"),
			[]*api.Container{container("app", api.ContainerStatusStopped, api.ContainerStatusStopped, true, t0)},
			want{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := nextEvent(tc.task, tc.cs, "c", now, 2*time.Second)
			switch {
			case tc.want.status == "" && !tc.want.wait:
				if ev != nil {
					t.Fatalf("got an event %+v, want none", ev)
				}
				return
			case tc.want.wait:
				if ev == nil || ev.in != nil || ev.flushWait <= 0 {
					t.Fatalf("got %+v, want a flush wait", ev)
				}
				return
			}
			if ev == nil || ev.in == nil {
				t.Fatalf("no event, want %s", tc.want.status)
			}
			if got := aws.ToString(ev.in.Status); got != tc.want.status {
				t.Errorf("status %s, want %s", got, tc.want.status)
			}
			got := map[string]string{}
			for _, c := range ev.in.Containers {
				got[aws.ToString(c.ContainerName)] = aws.ToString(c.Status)
				if aws.ToString(c.Status) == "STOPPED" && (c.ExitCode == nil || *c.ExitCode != 3 || aws.ToString(c.Reason) != "exited") {
					t.Errorf("STOPPED entry without exit code or reason: %+v", c)
				}
				if aws.ToString(c.RuntimeId) == "" {
					t.Errorf("entry without runtimeId: %+v", c)
				}
			}
			if len(got) != len(tc.want.containers) {
				t.Errorf("containers %v, want %v", got, tc.want.containers)
			}
			for k, v := range tc.want.containers {
				if got[k] != v {
					t.Errorf("container %s: %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// STOPPED waits until the task's host ports, addresses and ENI are released: ECS reuses
// them for the next task as soon as it hears STOPPED.
func TestStoppedWaitsForNetworkRelease(t *testing.T) {
	now := t0.Add(time.Minute)
	tk := task(api.TaskStatusStopped, api.TaskStatusRunning, "RUNNING", "STOPPED")
	app := container("app", api.ContainerStatusStopped, api.ContainerStatusRunning, true, t0)
	app.Status.Network = &api.NetworkStatus{Mode: "bridge", ID: app.Name}
	if ev := nextEvent(tk, []*api.Container{app}, "c", now, 0); ev != nil && ev.in != nil && aws.ToString(ev.in.Status) == "STOPPED" {
		t.Fatalf("STOPPED submitted while the container's network is held")
	}
	app.Status.Network.ReleasedAt = &metav1.Time{Time: now}
	tk.Status.Network = &api.NetworkStatus{Mode: "awsvpc", ID: "t1"}
	if ev := nextEvent(tk, []*api.Container{app}, "c", now, 0); ev != nil && ev.in != nil && aws.ToString(ev.in.Status) == "STOPPED" {
		t.Fatalf("STOPPED submitted while the task's ENI is held")
	}
	tk.Status.Network.ReleasedAt = &metav1.Time{Time: now}
	ev := nextEvent(tk, []*api.Container{app}, "c", now, 0)
	if ev == nil || ev.in == nil || aws.ToString(ev.in.Status) != "STOPPED" {
		t.Fatalf("no STOPPED once everything is released: %+v", ev)
	}
}
