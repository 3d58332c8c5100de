package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/localplane/access"
	"github.com/ecsd/ecsd/runtime"
)

// standalonePlane is an ecs-local process serving one local cluster on the machine's
// loopback, and an ECS client signed with the key pair it handed out.
type standalonePlane struct {
	cmd     *exec.Cmd
	keys    access.File
	cluster string
	ecs     *ecs.Client
	exited  chan error
	stderr  *os.File
}

// startStandalonePlane runs ecs-local on a free loopback port with its state and key pair
// in the test's directory, and waits until it says where it serves.
func startStandalonePlane(t *testing.T) *standalonePlane {
	t.Helper()
	dir := t.TempDir()
	p := &standalonePlane{cluster: testenv.UniqueName(t, "cluster"), exited: make(chan error, 1)}
	creds := filepath.Join(dir, "secrets", "local-plane.json")
	p.cmd = exec.Command(localBin, "--listen", "127.0.0.1:0", "--state-dir", filepath.Join(dir, "state"),
		"--credentials-file", creds, "--cluster", p.cluster)
	p.cmd.Env = append(cleanAWSEnv(t), "ECSD_LOCAL_CREDENTIALS_FILE=")
	stderr, err := os.Create(filepath.Join(dir, "ecs-local.log"))
	if err != nil {
		t.Fatal(err)
	}
	p.stderr = stderr
	p.cmd.Stderr = stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	serving := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if strings.Contains(lines.Text(), "serving") {
				serving <- lines.Text()
			}
		}
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() { p.stop(t) })
	select {
	case <-serving:
	case err := <-p.exited:
		t.Fatalf("ecs-local exited before serving (%v):\n%s", err, p.log())
	case <-time.After(time.Minute):
		t.Fatalf("ecs-local never said it serves:\n%s", p.log())
	}
	if p.keys, err = access.Read(creds); err != nil {
		t.Fatalf("ecs-local's access file: %v", err)
	}
	p.ecs = ecs.New(ecs.Options{
		Region: p.keys.Region, BaseEndpoint: aws.String(p.keys.Endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: p.keys.AccessKeyID, SecretAccessKey: p.keys.SecretAccessKey}, nil
		}),
	})
	return p
}

// stop sends SIGTERM and expects a clean exit; it is a no-op once stopped.
func (p *standalonePlane) stop(t *testing.T) {
	t.Helper()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("ecs-local on SIGTERM: %v\n%s", err, p.log())
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("ecs-local did not stop on SIGTERM:\n%s", p.log())
	}
	p.cmd = nil
	p.stderr.Close()
}

func (p *standalonePlane) log() string {
	b, _ := os.ReadFile(p.stderr.Name())
	return string(b)
}

// agentEnv joins an agent to the plane exactly as it would join ECS: the endpoint, the
// region and the key pair the plane handed out.
func (p *standalonePlane) agentEnv() []string {
	return []string{
		"ECS_BACKEND_HOST=" + p.keys.Endpoint,
		"AWS_DEFAULT_REGION=" + p.keys.Region,
		"AWS_ACCESS_KEY_ID=" + p.keys.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + p.keys.SecretAccessKey,
		"ECS_CLUSTER=" + p.cluster,
	}
}

// connectedInstances waits until n instances of the cluster have their agent connected
// and returns their ARNs.
func (p *standalonePlane) connectedInstances(t *testing.T, n int, hosts ...*agentHost) []string {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var arns []string
		list, err := p.ecs.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String(p.cluster)})
		if err == nil && len(list.ContainerInstanceArns) == n {
			d, derr := p.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{
				Cluster: aws.String(p.cluster), ContainerInstances: list.ContainerInstanceArns})
			if err = derr; err == nil {
				for _, ci := range d.ContainerInstances {
					if ci.AgentConnected {
						arns = append(arns, aws.ToString(ci.ContainerInstanceArn))
					}
				}
			}
		}
		if len(arns) == n {
			return arns
		}
		if time.Now().After(deadline) {
			for _, h := range hosts {
				t.Logf("agent %s log:\n%s", h.ns, h.agentLog())
			}
			t.Fatalf("%d agents never all connected to ecs-local (%v); plane log:\n%s", n, err, p.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitTasks polls DescribeTasks until every task satisfies cond.
func (p *standalonePlane) waitTasks(t *testing.T, what string, arns []string, cond func(types.Task) bool, hosts ...*agentHost) []types.Task {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var last []types.Task
	for {
		out, err := p.ecs.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: aws.String(p.cluster), Tasks: arns})
		if err == nil {
			last = out.Tasks
			ok := len(out.Tasks) == len(arns)
			for _, task := range out.Tasks {
				ok = ok && cond(task)
			}
			if ok {
				return out.Tasks
			}
		}
		if time.Now().After(deadline) {
			for _, task := range last {
				t.Errorf("task %s on %s: last %s desired %s reason %q", aws.ToString(task.TaskArn), aws.ToString(task.ContainerInstanceArn),
					aws.ToString(task.LastStatus), aws.ToString(task.DesiredStatus), aws.ToString(task.StoppedReason))
			}
			for _, h := range hosts {
				t.Logf("agent %s log:\n%s", h.ns, h.agentLog())
			}
			t.Fatalf("timed out waiting for %s (%v)", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runningContainers counts the containers running in an agent's containerd namespace.
func runningContainers(t *testing.T, h *agentHost) int {
	t.Helper()
	list, err := h.rt.ListContainers(context.Background())
	if err != nil {
		t.Fatalf("list %s's containers: %v", h.ns, err)
	}
	n := 0
	for _, c := range list {
		if c.Status == runtime.StatusRunning {
			n++
		}
	}
	return n
}

// TestLocalPlaneTwoAgents: one standalone plane (the ecs-local binary) on the machine's
// loopback, two agents each in its own network namespace (two test hosts) registered
// with it through ECS_BACKEND_HOST and the key pair it handed out. RunTask with count 4
// places tasks on both container instances, two each; each agent runs its two (the
// plane shows them RUNNING on its instance, the agent's containerd namespace holds two
// running containers); StopTask stops all four on both; SIGTERM stops the plane cleanly.
func TestLocalPlaneTwoAgents(t *testing.T) {
	t.Parallel()
	plane := startStandalonePlane(t)
	hosts := []*agentHost{newAgentHost(t), newAgentHost(t)}
	for _, h := range hosts {
		h.args = []string{}
		// The plane's loopback address is forwarded into each test host (start does it for
		// every loopback address of the environment).
		h.env = append(h.env, plane.agentEnv()...)
		h.start()
		defer h.kill(syscall.SIGTERM)
	}
	instances := plane.connectedInstances(t, 2, hosts...)
	ctx := context.Background()

	def, err := plane.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String("spread-sleeper"),
		NetworkMode: types.NetworkModeHost,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String(testenv.BusyboxImage()), Essential: aws.Bool(true), Memory: aws.Int32(32),
			Command: []string{"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"},
		}},
	})
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	run, err := plane.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String(plane.cluster),
		TaskDefinition: def.TaskDefinition.TaskDefinitionArn, Count: aws.Int32(4)})
	if err != nil || len(run.Tasks) != 4 || len(run.Failures) != 0 {
		t.Fatalf("RunTask count 4: %v, %d tasks, failures %+v", err, len(run.Tasks), run)
	}
	var arns []string
	for _, task := range run.Tasks {
		arns = append(arns, aws.ToString(task.TaskArn))
	}

	tasks := plane.waitTasks(t, "the four tasks RUNNING", arns, lastStatus("RUNNING"), hosts...)
	perInstance := map[string]int{}
	for _, task := range tasks {
		perInstance[aws.ToString(task.ContainerInstanceArn)]++
	}
	for _, in := range instances {
		if perInstance[in] != 2 {
			t.Errorf("DescribeTasks: tasks per container instance %v, want two on each of %v", perInstance, instances)
			break
		}
	}
	// Both agents run theirs: each test host's containerd namespace holds two running
	// containers.
	for _, h := range hosts {
		if n := runningContainers(t, h); n != 2 {
			t.Errorf("agent %s runs %d containers, want 2; log:\n%s", h.ns, n, h.agentLog())
		}
	}

	for _, arn := range arns {
		if _, err := plane.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(plane.cluster), Task: aws.String(arn)}); err != nil {
			t.Fatalf("StopTask %s: %v", arn, err)
		}
	}
	stopped := plane.waitTasks(t, "the four tasks STOPPED", arns, lastStatus("STOPPED"), hosts...)
	for _, task := range stopped {
		if c := task.Containers; len(c) != 1 || c[0].ExitCode == nil || *c[0].ExitCode != 0 {
			t.Errorf("task %s stopped with containers %+v, want app exited 0 on SIGTERM", aws.ToString(task.TaskArn), c)
		}
	}
	for _, h := range hosts {
		if n := runningContainers(t, h); n != 0 {
			t.Errorf("agent %s still runs %d containers after StopTask", h.ns, n)
		}
	}

	for _, h := range hosts {
		h.kill(syscall.SIGTERM)
	}
	plane.stop(t)
	if _, err := plane.ecs.ListClusters(ctx, &ecs.ListClustersInput{}); err == nil {
		t.Error("the plane still answers after SIGTERM")
	}
}
