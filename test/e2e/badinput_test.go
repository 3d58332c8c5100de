package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/internal/testenv"
)

// TestControlPlaneBadInput feeds the agent's ACS session garbage through the backend: the
// session survives, a task with missing fields is reported STOPPED with a reason, and the
// agent goes on running tasks.
func TestControlPlaneBadInput(t *testing.T) {
	t.Parallel()
	h, b := newConnectedAgent(t)
	ci := b.waitConnected(h)
	instance := aws.ToString(ci.ContainerInstanceArn)
	clusterARN := "arn:aws:ecs:" + backendRegion + ":000000000000:cluster/" + b.cluster
	badTask := "arn:aws:ecs:" + backendRegion + ":000000000000:task/" + b.cluster + "/0badbadbadbadbadbadbadbadbadbad0"
	frames := []string{
		`not json at all`,
		`{"type":"NoSuchMessageType","message":{"x":1}}`,
		`{"type":"PayloadMessage","message":"a string"}`,
		`{"type":"PayloadMessage","message":{"tasks":"not a list","messageId":"m0"}}`,
		`{"type":"PayloadMessage","message":{"messageId":"m1","tasks":[]}}`, // no cluster, no instance
		`{"type":"HeartbeatMessage","message":{"pad":"` + strings.Repeat("x", payload.MaxFrameSize) + `"}}`,
		// A task whose container has neither name nor image.
		`{"type":"PayloadMessage","message":{"messageId":"m2","clusterArn":"` + clusterARN + `","containerInstanceArn":"` + instance +
			`","seqNum":99,"tasks":[{"arn":"` + badTask + `","family":"bad","version":"1","desiredStatus":"RUNNING","containers":[{"essential":true}]}]}}`,
	}
	ctx := context.Background()
	for _, f := range frames {
		n, err := b.srv.SendRawACS(ctx, instance, []byte(f))
		if err != nil || n != 1 {
			t.Fatalf("inject %.40q: %d sessions, %v", f, n, err)
		}
	}
	// The bad task is reported STOPPED with the reason (the backend refuses the report as
	// it never placed that task, but it records what arrived).
	deadline := time.Now().Add(time.Minute)
	for {
		var reason string
		for _, sc := range b.srv.StateChanges() {
			if sc.Task != nil && sc.Task.Task == badTask && sc.Task.Status == "STOPPED" {
				reason = sc.Task.Reason
			}
		}
		if reason != "" {
			if !strings.HasPrefix(reason, payload.InvalidReasonPrefix) || !strings.Contains(reason, "name") {
				t.Errorf("bad task reason %q, want %q… naming the missing field", reason, payload.InvalidReasonPrefix)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bad task never reported STOPPED; agent log:\n%s", h.agentLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if b.srv.Sessions() != 1 {
		t.Errorf("%d ACS sessions after the garbage, want 1", b.srv.Sessions())
	}
	if strings.Contains(h.agentLog(), "ACS session ended") {
		t.Errorf("the garbage ended the ACS session; agent log:\n%s", h.agentLog())
	}
	// And the agent still runs tasks.
	arns := b.runTask(b.sleeperDef("e2e-after-garbage", 0), 1)
	b.waitTasks("RUNNING after bad input", time.Minute, arns, lastStatus("RUNNING"))
}

// A process the kernel would refuse to exec (a 1 MiB command, beyond its 128 KiB argument
// limit) fails to start with the cause, not as a bare exit after a moment of RUNNING: the
// task stops with CannotStartContainerError naming the argument and the limit, and is never
// reported RUNNING. ECS refuses task definitions over 64 KiB, so the task comes as a raw ACS
// payload, as a hostile or broken control plane could send it.
func TestExecFailureReason(t *testing.T) {
	t.Parallel()
	h, b := newConnectedAgent(t)
	ci := b.waitConnected(h)
	instance := aws.ToString(ci.ContainerInstanceArn)
	clusterARN := "arn:aws:ecs:" + backendRegion + ":000000000000:cluster/" + b.cluster
	taskARN := "arn:aws:ecs:" + backendRegion + ":000000000000:task/" + b.cluster + "/0e2b1g0e2b1g0e2b1g0e2b1g0e2b1g00"
	cmd, err := json.Marshal([]string{"sh", "-c", "echo " + strings.Repeat("a", 1<<20)})
	if err != nil {
		t.Fatal(err)
	}
	frame := `{"type":"PayloadMessage","message":{"messageId":"e2big","clusterArn":"` + clusterARN + `","containerInstanceArn":"` + instance +
		`","tasks":[{"arn":"` + taskARN + `","family":"e2big","version":"1","desiredStatus":"RUNNING","networkMode":"host",` +
		`"containers":[{"name":"app","image":"` + testenv.BusyboxImage() + `","essential":true,"command":` + string(cmd) + `}]}]}}`
	if n, err := b.srv.SendRawACS(context.Background(), instance, []byte(frame)); err != nil || n != 1 {
		t.Fatalf("send the payload: %d sessions, %v", n, err)
	}
	const want = "CannotStartContainerError: exec sh: argument list too long (argument 2 is 1048581 bytes; Linux allows 131071 per argument)"
	deadline := time.Now().Add(time.Minute)
	for {
		var statuses []string
		var reason string
		for _, sc := range b.srv.StateChanges() {
			if sc.Task != nil && sc.Task.Task == taskARN {
				statuses = append(statuses, sc.Task.Status)
				if sc.Task.Status == "STOPPED" {
					reason = sc.Task.Reason
				}
			}
		}
		if reason != "" {
			if reason != want {
				t.Errorf("task stopped with %q, want %q", reason, want)
			}
			if slices.Contains(statuses, "RUNNING") {
				t.Errorf("task reported %v: it never ran", statuses)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task was never reported STOPPED (%v); agent log:\n%s", statuses, h.agentLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
