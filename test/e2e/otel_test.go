package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testenv"
)

// TestOpenTelemetryECSDetector runs OpenTelemetry's ECS resource detector
// (go.opentelemetry.io/contrib/detectors/aws/ecs, in the otelprobe image) inside a bridge
// task. The detector reads the container ID from /proc/self/cgroup, where ecsd's container
// cgroup is /ecs/<task>/<64-hex runtime ID> as Docker's was under the reference agent, and
// the rest from task metadata v4. container.id must be non-empty and equal the DockerId
// task metadata v4 gives the container, which is also the runtimeId reported to ECS and
// the ID a /proc/self/mountinfo reader (cgroup v2's fallback) finds.
func TestOpenTelemetryECSDetector(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	b := newBackend(t)
	h.args = []string{}
	h.env = append(h.env, b.agentEnv()...)
	h.start()
	b.waitConnected(h)
	h.hostSetup(t)

	family := testenv.UniqueName(t, "otel")
	out, err := b.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String(family),
		NetworkMode: types.NetworkModeBridge,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:      aws.String("app"),
			Image:     aws.String(testenv.OTelProbeImage()),
			Essential: aws.Bool(true),
			Memory:    aws.Int32(64),
			Command:   []string{"sh", "-c", "otelprobe; " + serviceLoop},
		}},
	})
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	arns := b.runTask(aws.ToString(out.TaskDefinition.TaskDefinitionArn), 1)
	tasks := b.waitTasks("otel probe task RUNNING", 2*time.Minute, arns, lastStatus("RUNNING"))
	log := h.taskLog(t, taskIDOf(arns[0]), "app", "done=")
	if strings.Contains(log, "error=") {
		t.Fatalf("otelprobe failed:\n%s", log)
	}

	attr := func(key string) string { return logValue(log, "attr "+key+"=") }
	dockerID := logValue(log, "v4.DockerId=")
	id := attr("container.id")
	if id == "" {
		t.Fatalf("the detector's container.id is empty; probe output:\n%s", log)
	}
	if id != dockerID {
		t.Errorf("container.id = %q, task metadata v4 DockerId = %q", id, dockerID)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) || id != api.RuntimeID(arns[0], "app") {
		t.Errorf("container.id %q is not the 64-hex ID derived from the task and container (%s)", id, api.RuntimeID(arns[0], "app"))
	}
	if reported := aws.ToString(tasks[0].Containers[0].RuntimeId); reported != id {
		t.Errorf("runtimeId reported to ECS = %q, container.id = %q", reported, id)
	}
	if m := logValue(log, "mountinfo.container.id="); m != id {
		t.Errorf("the ID a mountinfo reader finds = %q, want %q", m, id)
	}
	if name := logValue(log, "v4.DockerName="); !regexp.MustCompile(`^ecs-` + regexp.QuoteMeta(family) + `-1-app-[0-9a-f]{20}$`).MatchString(name) {
		t.Errorf("DockerName = %q, want ecs-%s-1-app-<20 hex>", name, family)
	}
	// The rest of the resource comes from task metadata v4.
	for key, want := range map[string]string{
		"cloud.provider": "aws", "cloud.platform": "aws_ecs", "aws.ecs.task.arn": arns[0],
		"aws.ecs.task.family": family, "aws.ecs.task.revision": "1", "aws.ecs.launchtype": "ec2",
		"aws.ecs.container.arn": aws.ToString(tasks[0].Containers[0].ContainerArn),
	} {
		if got := attr(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if t.Failed() {
		t.Logf("probe output:\n%s", log)
	}
}
