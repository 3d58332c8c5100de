package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

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

// A process the kernel would refuse to exec (a command beyond its argument limit) fails to
// start with the cause, not as a bare exit after a moment of RUNNING: the task stops with
// TaskFailedToStart and CannotStartContainerError naming the argument and the limit.
func TestExecFailureReason(t *testing.T) {
	t.Parallel()
	h, b := newConnectedAgent(t)
	b.waitConnected(h)
	out, err := b.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String("e2big"),
		NetworkMode: types.NetworkModeHost,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:      aws.String("app"),
			Image:     aws.String(testenv.BusyboxImage()),
			Essential: aws.Bool(true),
			Memory:    aws.Int32(64),
			// One argument of 200 KiB: Linux allows 128 KiB per argument (MAX_ARG_STRLEN).
			Command: []string{"sh", "-c", "echo " + strings.Repeat("a", 200<<10)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	arns := b.runTask(aws.ToString(out.TaskDefinition.TaskDefinitionArn), 1)
	tasks := b.waitTasks("the task STOPPED", 2*time.Minute, arns, lastStatus("STOPPED"))
	const want = "CannotStartContainerError: exec sh: argument list too long (argument 2 is 204805 bytes"
	if got := aws.ToString(tasks[0].StoppedReason); !strings.HasPrefix(got, want) || tasks[0].StopCode != types.TaskStopCodeTaskFailedToStart {
		logs, _ := filepath.Glob(filepath.Join(h.dir, "data", "tasks", "*", "logs", "app.log"))
		var log []byte
		if len(logs) == 1 {
			log, _ = os.ReadFile(logs[0])
		}
		t.Errorf("task stopped reason %q (%s), want %q…, TaskFailedToStart; container log %q", got, tasks[0].StopCode, want, log)
	}
	if len(tasks[0].Containers) != 1 || !strings.HasPrefix(aws.ToString(tasks[0].Containers[0].Reason), want) {
		t.Errorf("container reason: %+v", tasks[0].Containers)
	}
}
