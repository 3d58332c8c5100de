package main

import (
	"strings"
	"testing"
)

// TestDescribe checks describe's sections, including the Events built from the
// recorded status transitions.
func TestDescribe(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	tests := []struct {
		name string
		args []string
		code int
		// want are squeezed lines (runs of blanks collapsed) that must appear, in order.
		want []string
		// absent must not appear.
		absent []string
		err    string
	}{
		{name: "running bridge task", args: []string{"describe", "task", "web1"}, want: []string{
			"Name: web1",
			"Namespace: ecs",
			"ARN: " + taskARN("web1"),
			"Task Definition: web:3",
			"Network Mode: bridge",
			"CPU: 0.5 vCPU (512 units)",
			"Memory: 512 MiB",
			"Desired Status: RUNNING",
			"Known Status: RUNNING",
			"Health: HEALTHY",
			"Conditions:",
			"Pulled True 2025-03-04T10:00:01Z",
			"Running True 2025-03-04T10:00:03Z",
			"Stopped False <none>",
			"Network:",
			"Container Addresses: app=172.17.0.5",
			"Port Bindings: app: 0.0.0.0:8080->80/tcp",
			"Containers:",
			"app:",
			"Container: web1-app",
			"Image: 127.0.0.1:5000/ecsd/web:latest",
			"Memory: 128 MiB (reservation 64 MiB)",
			"Port Mappings: 8080->80/tcp",
			"Health: HEALTHY (since",
			"sidecar:",
			"Container: web1-sidecar",
			"Events:",
			"Age Time Object Transition Reason",
			"2025-03-04T10:00:01Z task NONE -> PULLED images pulled",
			"2025-03-04T10:00:01Z container/app NONE -> PULLED pulled sha256:aaaa",
			"2025-03-04T10:00:02Z task PULLED -> CREATED",
			"2025-03-04T10:00:03Z task CREATED -> RUNNING all essential containers running",
			"2025-03-04T10:00:03Z container/app CREATED -> RUNNING started",
			"2025-03-04T10:00:03Z container/sidecar CREATED -> RUNNING sidecar started",
		}, absent: []string{"Stopped Reason:"}},
		{name: "short name, stopped awsvpc task", args: []string{"describe", "t", "batch1"}, want: []string{
			"Name: batch1",
			"Network Mode: awsvpc",
			"Desired Status: STOPPED",
			"Known Status: STOPPED",
			"Sent Status: RUNNING",
			"Stopped Reason: Essential container in task exited",
			"Running False",
			"Stopped True 2025-03-04T10:01:00Z",
			"Acknowledged False",
			"Mode: awsvpc",
			"IPv4 Address: 10.199.0.9",
			"IPv4 Gateway: 10.199.0.1",
			"ENI Interface: eth1",
			"ENI Attachments: eni-attach-1",
			"job:",
			"Exit Code: 3",
			"Reason: exit status 3",
			"2025-03-04T10:00:05Z task NONE -> RUNNING started",
			"2025-03-04T10:01:00Z task RUNNING -> STOPPED Essential container in task exited",
			"2025-03-04T10:01:00Z container/job RUNNING -> STOPPED exited with code 3",
		}, absent: []string{"Health:"}},
		{name: "container", args: []string{"describe", "container", "web1-app"}, want: []string{
			"Name: web1-app",
			"Task: web1",
			"Container Name: app",
			"Image Digest: sha256:aaaa",
			"Runtime ID: rt-web1-app",
			"Command: httpd -f",
			"Port Bindings: 0.0.0.0:8080->80/tcp",
			"Known Status: RUNNING",
			"Health Check: CMD-SHELL wget -q localhost",
			"Network:",
			"IPv4 Address: 172.17.0.5",
			"Events:",
			"container/app NONE -> PULLED pulled sha256:aaaa",
			"container/app CREATED -> RUNNING started",
		}, absent: []string{"task NONE -> PULLED"}},
		{name: "kind/name", args: []string{"describe", "task/batch1"}, want: []string{"Name: batch1"}},
		{name: "every task", args: []string{"describe", "tasks"}, want: []string{"Name: batch1", "Name: web1"}},
		{name: "every task by label", args: []string{"describe", "tasks", "-l", "com.amazonaws.ecs.task-definition-family=web"},
			want: []string{"Name: web1"}, absent: []string{"batch1"}},
		{name: "other kinds as spec and status", args: []string{"describe", "images", "sha256-aaaa"}, want: []string{
			"Name: sha256-aaaa", "Spec:", "digest: sha256:aaaa", "Status:", "- 127.0.0.1:5000/ecsd/web:latest", "size: 4096",
		}},
		{name: "missing", args: []string{"describe", "task", "nope"}, code: 1,
			err: `Error from server (NotFound): tasks.ecs.ecsd.io "nope" not found`},
		{name: "unknown kind", args: []string{"describe", "pod", "x"}, code: 1, err: `doesn't have a resource type "pod"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.ecsctl(t, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tc.code, r.err)
			}
			if !strings.Contains(r.err, tc.err) {
				t.Errorf("stderr %q lacks %q", r.err, tc.err)
			}
			out := lines(r.out)
			i := 0
			for _, w := range tc.want {
				for i < len(out) && !strings.HasPrefix(out[i], w) && !strings.HasSuffix(out[i], w) {
					i++
				}
				if i == len(out) {
					t.Fatalf("no line %q (in order) in:\n%s", w, r.out)
				}
				i++
			}
			for _, a := range tc.absent {
				if strings.Contains(r.out, a) {
					t.Errorf("output has %q:\n%s", a, r.out)
				}
			}
		})
	}
}
