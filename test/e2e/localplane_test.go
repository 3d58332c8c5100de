package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
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

	"github.com/ecsd/ecsd/internal/hostsetup"
	"github.com/ecsd/ecsd/internal/netns"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/localplane/access"
)

// TestLocalPlaneKeyPairAndTaskRefusal drives `ecs-agent --local` as a user would: its key
// pair is generated into a root-only file (and never logged), `eval "$(ecsctl local env)"`
// makes the AWS CLI work against the plane for any region, and a host-network task
// cannot reach the plane's port while it reaches another loopback service of the host.
// On SIGTERM the rule refusing the port to tasks is removed.
func TestLocalPlaneKeyPairAndTaskRefusal(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("aws"); err != nil {
		// Part of the environment, like containerd: missing, the test fails, never skips.
		t.Fatalf("this test drives the AWS CLI (v1 or v2) as a user would: %v", err)
	}
	h := newAgentHost(t)
	h.start()
	defer h.kill(syscall.SIGTERM)
	h.waitLog(`"local ECS control plane listening"`)
	path := filepath.Join(h.dir, "secrets", "local-plane.json")
	for p, mode := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != mode {
			t.Fatalf("%s: %v %v, want mode %v", p, fi.Mode(), err, mode)
		}
	}
	keys, err := access.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	planeAddr := netip.MustParseAddrPort(strings.TrimPrefix(keys.Endpoint, "http://"))
	if !planeAddr.Addr().IsLoopback() || planeAddr.Port() == 0 {
		t.Fatalf("endpoint %q, want the loopback address actually bound", keys.Endpoint)
	}
	if log := h.fullLog(); strings.Contains(log, keys.SecretAccessKey) {
		t.Fatal("the agent logged the plane's secret access key")
	}
	plane := h.localPlane(t)

	// The AWS CLI on the test host, with nothing but what ecsctl local env exports.
	ecsctl := buildEcsctl(t)
	awsCLI := func(args string) string {
		t.Helper()
		script := fmt.Sprintf(`eval "$(%s local env --local-credentials %s)" && aws ecs %s`, ecsctl, path, args)
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = cleanAWSEnv(t)
		return string(runIn(t, h.netns, cmd))
	}
	if out := awsCLI("list-tasks --output json"); !strings.Contains(out, `"taskArns"`) {
		t.Fatalf("aws ecs list-tasks: %s", out)
	}
	// Signed for a region the plane does not use: still accepted.
	if out := awsCLI("list-clusters --region eu-central-1 --output json"); !strings.Contains(out, ":cluster/default") {
		t.Fatalf("aws ecs list-clusters --region eu-central-1: %s", out)
	}

	// A host-network task probing the plane's port and the agent's introspection port,
	// both on the host's loopback.
	probe := func(port uint16) string {
		return fmt.Sprintf(`if printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 127.0.0.1 %d 2>/dev/null | grep -q '^HTTP/'; then echo port%d=reachable; else echo port%d=refused; fi; `, port, port, port)
	}
	if _, err := plane.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("plane-probe"), NetworkMode: types.NetworkModeHost,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("probe"), Image: aws.String(testenv.BusyboxImage()), Essential: aws.Bool(true), Memory: aws.Int32(32),
			Command: []string{"sh", "-c", probe(planeAddr.Port()) + probe(51678)},
		}},
	}); err != nil {
		t.Fatal(err)
	}
	var run struct {
		Tasks []struct {
			TaskArn    string `json:"taskArn"`
			LaunchType string `json:"launchType"`
		} `json:"tasks"`
	}
	out := awsCLI("run-task --task-definition plane-probe --output json")
	if err := json.Unmarshal([]byte(out), &run); err != nil || len(run.Tasks) != 1 || run.Tasks[0].LaunchType != "EC2" {
		t.Fatalf("aws ecs run-task: %v\n%s", err, out)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		d, err := plane.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Tasks: []string{run.Tasks[0].TaskArn}})
		if err == nil && len(d.Tasks) == 1 && aws.ToString(d.Tasks[0].LastStatus) == "STOPPED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the probe task never stopped (%v); agent log:\n%s", err, h.agentLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
	logs, _ := filepath.Glob(filepath.Join(h.dir, "data", "tasks", "*", "logs", "probe.log"))
	if len(logs) != 1 {
		t.Fatalf("probe log files: %v", logs)
	}
	got, _ := os.ReadFile(logs[0])
	if want := fmt.Sprintf("port%d=refused\nport51678=reachable\n", planeAddr.Port()); string(got) != want {
		t.Fatalf("the host-network task's probe printed\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(iptablesOutput(t, h), hostsetup.TaskBlockComment) {
		t.Fatal("no refusal rule while the agent runs")
	}

	// Stopped, the agent takes its rule away.
	h.kill(syscall.SIGTERM)
	if rules := iptablesOutput(t, h); strings.Contains(rules, hostsetup.TaskBlockComment) {
		t.Fatalf("the refusal rule is left after the agent stopped:\n%s", rules)
	}
}

// TestLocalPlaneRefusesPublicAddress: --local-api on a non-loopback address is refused at
// once, with exit status 5 (no restart under systemd) and a message saying why.
func TestLocalPlaneRefusesPublicAddress(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, addr := range []string{"0.0.0.0:51690", ":51690", "[::]:0"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, agentBin, "--local", "--local-api", addr)
		// Were the address accepted, nothing of the machine's would be touched either.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "ECS_DATADIR=" + filepath.Join(dir, "data"),
			"ECSD_LOCAL_CREDENTIALS_FILE=" + filepath.Join(dir, "local-plane.json"),
			"ECSD_API_TOKEN_FILE=" + filepath.Join(dir, "api-token"), "ECSD_CONTAINERD_ADDRESS=" + filepath.Join(dir, "none.sock"),
			"ECSD_CONFIG_FILE=", "AWS_EC2_METADATA_DISABLED=true"}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 5 || !strings.Contains(stderr.String(), "loopback") {
			t.Errorf("--local-api %s: %v, stderr %q; want exit 5 naming loopback", addr, err, stderr.String())
		}
	}
}

// waitConnectedTo waits until the plane has one instance whose agent is connected.
func waitConnectedTo(t *testing.T, h *agentHost, plane *ecs.Client) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ctx := context.Background()
		list, err := plane.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{})
		if err == nil && len(list.ContainerInstanceArns) == 1 {
			d, err := plane.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{ContainerInstances: list.ContainerInstanceArns})
			if err == nil && len(d.ContainerInstances) == 1 && d.ContainerInstances[0].AgentConnected {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent never connected to its local plane (%v); log:\n%s", err, h.agentLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cleanAWSEnv is the test process's environment without any AWS or ecsctl setting, and
// with no shared config or credentials file: what the AWS CLI sees comes from the eval.
func cleanAWSEnv(t *testing.T) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "ECSCTL_") {
			env = append(env, kv)
		}
	}
	none := filepath.Join(t.TempDir(), "none")
	return append(env, "AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none, "AWS_EC2_METADATA_DISABLED=true")
}

// iptablesOutput lists the test host's filter OUTPUT chain.
func iptablesOutput(t *testing.T, h *agentHost) string {
	t.Helper()
	var out []byte
	if err := netns.Do(h.netns, func() error {
		var err error
		out, err = exec.Command("iptables", "-w", "-S", "OUTPUT").CombinedOutput()
		return err
	}); err != nil {
		t.Fatalf("iptables -S OUTPUT: %v: %s", err, out)
	}
	return string(out)
}

// fullLog is the agent's whole log.
func (h *agentHost) fullLog() string {
	b, _ := os.ReadFile(filepath.Join(h.dir, "agent.log"))
	return string(b)
}

// TestRunTaskRetriedAfterFailedSave is the case through the AWS CLI and the agent
// binary: a run-task whose state the plane cannot save (its state directory replaced by a
// file) fails with a ServerException, after the CLI's own retries, and places nothing;
// the same command with the same --client-token once the disk is back places exactly
// --count tasks, which run, and again answers with those same tasks.
func TestRunTaskRetriedAfterFailedSave(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatalf("this test drives the AWS CLI (v1 or v2) as a user would: %v", err)
	}
	h, b := newConnectedAgent(t)
	defer h.kill(syscall.SIGTERM)
	b.waitConnected(h)
	def := b.sleeperDef("retry-sleeper", 0)
	runTask := func() (stdout, stderr string, err error) {
		cmd := exec.Command("aws", "ecs", "run-task", "--cluster", b.cluster, "--task-definition", def,
			"--count", "3", "--client-token", "e2e-retry-token", "--output", "json")
		cmd.Env = append(cleanAWSEnv(t), "AWS_ACCESS_KEY_ID="+backendKey, "AWS_SECRET_ACCESS_KEY="+backendSecret,
			"AWS_DEFAULT_REGION="+backendRegion, "AWS_ENDPOINT_URL_ECS=http://"+b.addr, "AWS_MAX_ATTEMPTS=3")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err = cmd.Run()
		return out.String(), errOut.String(), err
	}
	listed := func() []string {
		out, err := b.ecs.ListTasks(context.Background(), &ecs.ListTasksInput{Cluster: aws.String(b.cluster)})
		if err != nil {
			t.Fatal(err)
		}
		return out.TaskArns
	}

	dir := filepath.Dir(b.statePath)
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := runTask(); err == nil || !strings.Contains(errOut, "ServerException") {
		t.Fatalf("run-task with the state unwritable: %v\nstdout %s\nstderr %s", err, out, errOut)
	}
	if got := listed(); len(got) != 0 {
		t.Fatalf("tasks after the failed run-task: %v", got)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}

	var arns []string
	for i := range 2 {
		out, errOut, err := runTask()
		var resp struct {
			Tasks []struct {
				TaskArn string `json:"taskArn"`
			} `json:"tasks"`
		}
		if err != nil || json.Unmarshal([]byte(out), &resp) != nil || len(resp.Tasks) != 3 {
			t.Fatalf("run-task %d: %v\nstdout %s\nstderr %s", i+1, err, out, errOut)
		}
		var got []string
		for _, task := range resp.Tasks {
			got = append(got, task.TaskArn)
		}
		if arns != nil && strings.Join(got, ",") != strings.Join(arns, ",") {
			t.Fatalf("run-task repeated with its token answered %v, first %v", got, arns)
		}
		arns = got
	}
	if got := listed(); len(got) != 3 {
		t.Fatalf("%d tasks listed, want exactly 3: %v", len(got), got)
	}
	b.waitTasks("the three tasks RUNNING", 2*time.Minute, arns, lastStatus("RUNNING"))
	list, err := h.rt.ListContainers(context.Background())
	if err != nil || len(list) != 3 {
		t.Fatalf("the runtime has %d containers (%v), want 3", len(list), err)
	}
}
