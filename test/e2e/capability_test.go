package e2e

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/capability"
	"github.com/ecsd/ecsd/internal/testenv"
)

// TestRegisteredAttributesAreTheCapabilityTable runs the agent as the systemd unit does
// (--ecs-init-defaults) with an ecs.config written for the ECS-optimized AMI that switches
// one of its defaults off. The attributes ECS sees (DescribeContainerInstances) are exactly
// what the capability table gives for that configuration; the AMI defaults the file does
// not mention are on (task IAM role, awslogs with the execution role); and the local plane
// refuses a task needing the attribute the file switched off, with reason ATTRIBUTE and
// the attribute named, while it places one whose requirements the agent has.
func TestRegisteredAttributesAreTheCapabilityTable(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	b := newBackend(t)
	ecsConfig := filepath.Join(h.dir, "ecs.config")
	content := "ECS_CLUSTER=" + b.cluster + "\nECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=false\nECS_LOGFILE=" + filepath.Join(h.dir, "ecs-agent.log") + "\n"
	if err := os.WriteFile(ecsConfig, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ECSD_CONFIG_FILE": ecsConfig, "ECS_AGENT_CONFIG_FILE_PATH": filepath.Join(h.dir, "none.json")}
	for _, kv := range b.agentEnv() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range env {
		h.env = append(h.env, k+"="+v)
	}
	h.args = []string{"--ecs-init-defaults"}
	h.start()
	defer h.kill(syscall.SIGTERM)
	ci := b.waitConnected(h)

	// What the table says for this configuration. ECS_APPARMOR_CAPABLE and
	// ECS_SELINUX_CAPABLE are unset, so the host's LSMs do not matter; ecsd-init is next
	// to the agent (TestMain), so the task's namespaces can be shared; EFS follows the host's
	// NFS client (nfsClient, the agent's own check).
	cfg, _, err := config.Load(context.Background(), config.WithEnv(env), config.WithEnvDefaults(config.ECSInitDefaults("")))
	if err != nil {
		t.Fatal(err)
	}
	want := capability.Attributes(cfg, capability.Host{NamespaceSharing: true, EFS: nfsClient() == nil})
	got := map[string]string{}
	for _, a := range ci.Attributes {
		if n := aws.ToString(a.Name); n != "ecs.availability-zone" { // added by the plane
			got[n] = aws.ToString(a.Value)
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("registered attributes differ from the capability table:\n got %v\nwant %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		for n, v := range want {
			if g, ok := got[n]; !ok || g != v {
				t.Errorf("  table %s=%q, registered %q (present %v)", n, v, g, ok)
			}
		}
		for n := range got {
			if _, ok := want[n]; !ok {
				t.Errorf("  registered %s, not in the table", n)
			}
		}
	}
	for _, on := range []string{"com.amazonaws.ecs.capability.task-iam-role", "ecs.capability.execution-role-awslogs",
		"com.amazonaws.ecs.capability.logging-driver.awslogs", "ecs.capability.secrets.asm.environment-variables"} {
		if _, ok := got[on]; !ok {
			t.Errorf("%s not registered under the ECS-optimized AMI's defaults", on)
		}
	}
	if _, ok := got["com.amazonaws.ecs.capability.task-iam-role-network-host"]; ok {
		t.Error("task-iam-role-network-host registered although ecs.config switched it off")
	}

	ctx := context.Background()
	register := func(in *ecs.RegisterTaskDefinitionInput) string {
		t.Helper()
		out, err := b.ecs.RegisterTaskDefinition(ctx, in)
		if err != nil {
			t.Fatalf("RegisterTaskDefinition %s: %v", aws.ToString(in.Family), err)
		}
		return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	}
	hostRole := register(&ecs.RegisterTaskDefinitionInput{
		Family: aws.String("host-role"), NetworkMode: types.NetworkModeHost, TaskRoleArn: aws.String("arn:aws:iam::123456789012:role/app"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String(testenv.BusyboxImage()),
			Memory: aws.Int32(32), Command: []string{"sleep", "60"}}},
	})
	out, err := b.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String(b.cluster), TaskDefinition: aws.String(hostRole)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 0 || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "ATTRIBUTE" ||
		aws.ToString(out.Failures[0].Arn) != aws.ToString(ci.ContainerInstanceArn) ||
		!strings.HasSuffix(aws.ToString(out.Failures[0].Detail), "com.amazonaws.ecs.capability.task-iam-role-network-host") {
		t.Fatalf("RunTask of a host-mode task with a role on an instance without task-iam-role-network-host: %d tasks, failures %+v",
			len(out.Tasks), out.Failures)
	}

	// A definition whose requirements the agent registered is placed and runs.
	ordered := register(&ecs.RegisterTaskDefinitionInput{
		Family: aws.String("ordered"), NetworkMode: types.NetworkModeHost,
		ContainerDefinitions: []types.ContainerDefinition{
			{Name: aws.String("init"), Image: aws.String(testenv.BusyboxImage()), Memory: aws.Int32(32), Essential: aws.Bool(false),
				Command: []string{"true"}},
			{Name: aws.String("app"), Image: aws.String(testenv.BusyboxImage()), Memory: aws.Int32(32), Command: []string{"sleep", "60"},
				DependsOn:    []types.ContainerDependency{{ContainerName: aws.String("init"), Condition: types.ContainerConditionSuccess}},
				HealthCheck:  &types.HealthCheck{Command: []string{"CMD-SHELL", "true"}, Interval: aws.Int32(5)},
				DockerLabels: map[string]string{"e2e": "capability"}},
		},
	})
	arns := b.runTask(ordered, 1)
	b.waitTasks("RUNNING", 2*time.Minute, arns, lastStatus("RUNNING"))
}
