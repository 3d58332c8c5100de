package e2e

import (
	"context"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsd/ecsd/runtime"
)

// newConnectedAgent starts an agent registered with a fresh test backend.
func newConnectedAgent(t *testing.T) (*agentHost, *backend) {
	t.Helper()
	h := newAgentHost(t)
	b := newBackend(t)
	h.args = []string{}
	h.env = append(h.env, b.agentEnv()...)
	h.start()
	return h, b
}

// instances lists the backend's container instances of the test cluster.
func (b *backend) instances() []types.ContainerInstance {
	b.t.Helper()
	ctx := context.Background()
	list, err := b.ecs.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String(b.cluster)})
	if err != nil {
		b.t.Fatal(err)
	}
	if len(list.ContainerInstanceArns) == 0 {
		return nil
	}
	out, err := b.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String(b.cluster), ContainerInstances: list.ContainerInstanceArns})
	if err != nil {
		b.t.Fatal(err)
	}
	return out.ContainerInstances
}

// waitConnected waits until the cluster has one instance with its ACS session up.
func (b *backend) waitConnected(h *agentHost) types.ContainerInstance {
	b.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ci := b.instances()
		if len(ci) == 1 && ci[0].AgentConnected {
			return ci[0]
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("agent never registered and connected (instances %d); agent log:\n%s", len(ci), h.agentLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestControlPlaneRunStopAndRestart(t *testing.T) {
	t.Parallel()
	h, b := newConnectedAgent(t)
	ci := b.waitConnected(h)
	attrs := map[string]bool{}
	for _, a := range ci.Attributes {
		attrs[aws.ToString(a.Name)] = true
	}
	for _, want := range []string{"ecs.capability.container-ordering", "com.amazonaws.ecs.capability.docker-remote-api.1.24", "ecs.os-type"} {
		if !attrs[want] {
			t.Errorf("registration lacks attribute %s", want)
		}
	}
	for _, never := range []string{"ecs.capability.task-eni", "ecs.capability.efs", "ecs.capability.execute-command"} {
		if attrs[never] {
			t.Errorf("registration claims unsupported capability %s", never)
		}
	}
	var cpu int32
	for _, r := range ci.RegisteredResources {
		if aws.ToString(r.Name) == "CPU" {
			cpu = r.IntegerValue
		}
	}
	if cpu <= 0 || cpu%1024 != 0 {
		t.Errorf("registered CPU %d, want a multiple of 1024", cpu)
	}

	def := b.sleeperDef("e2e-sleeper", 0)
	arns := b.runTask(def, 1)
	tasks := b.waitTasks("RUNNING", time.Minute, arns, lastStatus("RUNNING"))
	c := tasks[0].Containers[0]
	if aws.ToString(c.LastStatus) != "RUNNING" || aws.ToString(c.RuntimeId) == "" || !strings.HasPrefix(aws.ToString(c.ImageDigest), "sha256:") {
		t.Errorf("running container as ECS sees it: status %s runtimeId %q digest %q", aws.ToString(c.LastStatus), aws.ToString(c.RuntimeId), aws.ToString(c.ImageDigest))
	}

	// A restarted agent re-registers with the same ARN and keeps its task running.
	h.kill(syscall.SIGTERM)
	h.start()
	b.waitConnected(h)
	if ci2 := b.instances(); len(ci2) != 1 || aws.ToString(ci2[0].ContainerInstanceArn) != aws.ToString(ci.ContainerInstanceArn) {
		t.Fatalf("after restart the cluster has %d instances (want the same one, %s)", len(ci2), aws.ToString(ci.ContainerInstanceArn))
	}
	runtimeID := aws.ToString(c.RuntimeId)
	h.waitRuntime("the task container still running, the same one", func(m map[string]runtime.ContainerState) bool {
		rc, ok := m[taskIDOf(arns[0])+"-app"]
		return ok && rc.ID == runtimeID && rc.Status == runtime.StatusRunning && len(m) == 1
	})

	if _, err := b.ecs.StopTask(context.Background(), &ecs.StopTaskInput{Cluster: aws.String(b.cluster), Task: aws.String(arns[0]), Reason: aws.String("e2e says stop")}); err != nil {
		t.Fatal(err)
	}
	tasks = b.waitTasks("STOPPED", time.Minute, arns, lastStatus("STOPPED"))
	c = tasks[0].Containers[0]
	if c.ExitCode == nil || *c.ExitCode != 0 {
		t.Errorf("stopped container exit code %v, want 0 (it exits on SIGTERM)", c.ExitCode)
	}
	if got := b.taskStatuses(arns[0]); !slices.Equal(compact(got), []string{"RUNNING", "STOPPED"}) {
		t.Errorf("task state changes %v, want RUNNING then STOPPED", got)
	}
}

// compact drops consecutive repeats (a change submitted again after a lost answer).
func compact(s []string) []string { return slices.Compact(slices.Clone(s)) }

func TestControlPlaneACSCutWhileTasksStart(t *testing.T) {
	t.Parallel()
	h, b := newConnectedAgent(t)
	b.waitConnected(h)
	def := b.sleeperDef("e2e-cut", 0)
	arns := b.runTask(def, 5)
	// Cut the session repeatedly while the payload is delivered and the tasks start.
	for i := 0; i < 5; i++ {
		b.srv.DropSessions()
		time.Sleep(100 * time.Millisecond)
	}
	b.waitTasks("RUNNING after the cuts", 2*time.Minute, arns, lastStatus("RUNNING"))
	// Nothing done twice: one runtime container per task, each started once.
	list, err := h.rt.ListContainers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 5 {
		t.Errorf("%d runtime containers, want 5", len(list))
	}
	for _, rc := range list {
		if rc.Status != runtime.StatusRunning {
			t.Errorf("runtime container %s is %s", rc.ID, rc.Status)
		}
	}
	for _, arn := range arns {
		if got := compact(b.taskStatuses(arn)); !slices.Equal(got, []string{"RUNNING"}) {
			t.Errorf("task %s state changes %v, want RUNNING", arn, got)
		}
	}
}

func TestControlPlaneBackendDownSixtySeconds(t *testing.T) {
	t.Parallel()
	h, b := newConnectedAgent(t)
	b.waitConnected(h)
	def := b.sleeperDef("e2e-outage", 3)
	arns := b.runTask(def, 2)
	// Once the payload reached the agent (its containers exist), take the backend away
	// for 60 s while the tasks start, run and exit.
	h.waitRuntime("the task containers created", func(m map[string]runtime.ContainerState) bool { return len(m) == 2 })
	b.down()
	h.waitRuntime("both task containers exited", func(m map[string]runtime.ContainerState) bool {
		n := 0
		for _, rc := range m {
			if rc.Status == runtime.StatusStopped {
				n++
			}
		}
		return n == 2
	})
	time.Sleep(60 * time.Second) // the outage the issue asks for; nothing waits on it
	b.up(b.addr)
	tasks := b.waitTasks("STOPPED after the outage", 4*time.Minute, arns, lastStatus("STOPPED"))
	for _, tk := range tasks {
		c := tk.Containers[0]
		if c.ExitCode == nil || *c.ExitCode != 3 {
			t.Errorf("task %s container exit code %v, want 3", aws.ToString(tk.TaskArn), c.ExitCode)
		}
	}
	for _, arn := range arns {
		if got := compact(b.taskStatuses(arn)); !slices.Equal(got, []string{"RUNNING", "STOPPED"}) {
			t.Errorf("task %s state changes %v, want RUNNING then STOPPED", arn, got)
		}
	}
}

// TestSIGTERMDuringRegistration: an agent stopped while ECS has not answered its
// registration exits 0 (a normal stop), not 1.
func TestSIGTERMDuringRegistration(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h.args = []string{}
	h.env = append(h.env, "ECS_BACKEND_HOST=http://"+ln.Addr().String(), "AWS_DEFAULT_REGION=us-west-2",
		"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y", "ECS_CLUSTER=c")
	h.start()
	conn, err := ln.Accept() // the registration call is in flight
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cmd := h.cmd
	h.cmd = nil
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("agent stopped during registration: %v, want exit 0; log:\n%s", err, h.agentLog())
	}
	h.log.Close()
}
