package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/coder/websocket"

	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/controlplane/sigv4"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/localplane"
	"github.com/ecsd/ecsd/localplane/access"
)

// The test plane's key pair, as ecs-agent --local would have generated it.
const (
	localAccessKeyID     = "ECSDTESTACCESSKEY123"
	localSecretAccessKey = "ecsctl-test-secret-access-key"
)

// localPlane is a real local ECS control plane on 127.0.0.1 accepting only its own key
// pair, with one registered container instance in testCluster, and an ECS client of the
// test's own to check its state with. Its access file (the one ecs-agent --local writes)
// is where ECSCTL_LOCAL_CREDENTIALS_FILE points, so ecsctl needs no other setting.
type localPlane struct {
	url string
	ecs *ecs.Client
	// credentials is the plane's access file.
	credentials string
	// instance is the registered container instance's ARN.
	instance string
}

func newLocalPlane(t *testing.T) *localPlane {
	t.Helper()
	noIMDS(t)
	s, err := localplane.New(context.Background(), localplane.Options{
		Credentials: map[string]string{localAccessKeyID: localSecretAccessKey},
		Clusters:    []string{testCluster},
	})
	if err != nil {
		t.Fatalf("localplane.New: %v", err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := s.Close(); err != nil {
			t.Errorf("local plane Close: %v", err)
		}
	})
	p := &localPlane{url: srv.URL, credentials: writeAccessFile(t, access.File{Endpoint: srv.URL, Region: localplane.DefaultRegion,
		AccessKeyID: localAccessKeyID, SecretAccessKey: localSecretAccessKey}), ecs: ecs.New(ecs.Options{
		Region:       localplane.DefaultRegion,
		BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: localAccessKeyID, SecretAccessKey: localSecretAccessKey}, nil
		}),
		RetryMaxAttempts: 1,
	})}
	reg, err := p.ecs.RegisterContainerInstance(context.Background(), &ecs.RegisterContainerInstanceInput{
		Cluster: aws.String(testCluster),
		TotalResources: []types.Resource{
			{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: 4096},
			{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: 4096},
		},
	})
	if err != nil {
		t.Fatalf("RegisterContainerInstance: %v", err)
	}
	p.instance = aws.ToString(reg.ContainerInstance.ContainerInstanceArn)
	p.connectAgent(t, p.instance)
	t.Setenv(envLocalCredentials, p.credentials)
	return p
}

// writeAccessFile writes f as ecs-agent --local would (mode 0600) and returns its path.
func writeAccessFile(t *testing.T, f access.File) string {
	t.Helper()
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "local-plane.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// connectAgent opens the instance's ACS session as an agent would (ECS places tasks only
// on instances whose agent is connected) and keeps reading it, acknowledging heartbeats
// and payloads and refusing updates as an agent with ECS_UPDATES_ENABLED=false does,
// until the test ends.
func (p *localPlane) connectAgent(t *testing.T, instance string) {
	t.Helper()
	ctx := context.Background()
	ep, err := p.ecs.DiscoverPollEndpoint(ctx, &ecs.DiscoverPollEndpointInput{
		Cluster: aws.String(testCluster), ContainerInstance: aws.String(instance)})
	if err != nil {
		t.Fatalf("DiscoverPollEndpoint: %v", err)
	}
	q := url.Values{
		"agentHash": {"test"}, "agentVersion": {"1.0.0"}, "clusterArn": {testCluster},
		"containerInstanceArn": {instance}, "dockerVersion": {"DockerVersion: containerd"},
		"protocolVersion": {"2"}, "sendCredentials": {"false"}, "seqNum": {"1"},
	}
	u := aws.ToString(ep.Endpoint) + "/ws?" + q.Encode()
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: localAccessKeyID, SecretAccessKey: localSecretAccessKey}, nil
	})
	h, err := sigv4.SignWebsocketHandshake(ctx, creds, localplane.DefaultRegion, u)
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, strings.Replace(u, "http://", "ws://", 1), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("ACS dial: %v", err)
	}
	conn.SetReadLimit(payload.MaxFrameSize)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			f, err := payload.DecodeFrame(data)
			if err != nil {
				continue
			}
			m, err := payload.DecodeMessage(f)
			if err != nil {
				continue
			}
			var ack payload.Message
			switch m := m.(type) {
			case *payload.HeartbeatMessage:
				ack = &payload.HeartbeatAckRequest{MessageID: m.MessageID}
			case *payload.PayloadMessage:
				ack = &payload.AckRequest{MessageID: m.MessageID, Cluster: testCluster, ContainerInstance: instance}
			case *payload.StageUpdateMessage:
				ack = &payload.NackRequest{MessageID: m.MessageID, Reason: "Updates are disabled"}
			default:
				continue
			}
			if out, err := payload.EncodeMessage(ack); err == nil {
				_ = conn.Write(ctx, websocket.MessageText, out)
			}
		}
	}()
	t.Cleanup(func() { conn.CloseNow(); <-done })
	testutil.Eventually(t, "the agent's ACS session to be registered", func() bool {
		out, err := p.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{
			Cluster: aws.String(testCluster), ContainerInstances: []string{instance}})
		return err == nil && len(out.ContainerInstances) == 1 && out.ContainerInstances[0].AgentConnected
	})
}

// noIMDS makes any attempt to reach the EC2 instance metadata service fail the test: the
// SDK is pointed at a trap on loopback, and no ambient credentials are left to find.
func noIMDS(t *testing.T) {
	t.Helper()
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the instance metadata service was asked for %s", r.URL.Path)
		http.Error(w, "no", http.StatusForbidden)
	}))
	t.Cleanup(trap.Close)
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", trap.URL)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", envEndpoint, envRegion, envCluster, envAccessKeyID, envSecretAccessKey,
		envLocalCredentials} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
}

// task is the local plane's view of one task.
func (p *localPlane) task(t *testing.T, arn string) types.Task {
	t.Helper()
	out, err := p.ecs.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: aws.String(testCluster), Tasks: []string{arn}})
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("DescribeTasks %s: %v (%d tasks)", arn, err, len(out.Tasks))
	}
	return out.Tasks[0]
}

const sleeperDef = `{
  "family": "ecsctl-sleeper",
  "networkMode": "host",
  "containerDefinitions": [
    {"name": "app", "image": "127.0.0.1:5000/ecsd/busybox:latest", "essential": true,
     "cpu": 128, "memory": 64, "command": ["sleep", "3600"]}
  ]
}`

// TestRunAndStop runs a task definition through the real local control plane and stops
// the task, checking the plane's state after each step.
func TestRunAndStop(t *testing.T) {
	e := newEnv(t) // the agent side: run and stop learn the cluster from its /v1/metadata
	p := newLocalPlane(t)
	def := filepath.Join(t.TempDir(), "taskdef.json")
	if err := os.WriteFile(def, []byte(sleeperDef), 0o644); err != nil {
		t.Fatal(err)
	}

	// Endpoint, region and key pair all from the access file.
	r := e.ecsctl(t, "run", "-f", def, "--count", "2")
	if r.code != 0 {
		t.Fatalf("run: exit %d, stderr %q", r.code, r.err)
	}
	arns := strings.Fields(r.out)
	if len(arns) != 2 {
		t.Fatalf("run printed %q, want two task ARNs", r.out)
	}
	for _, arn := range arns {
		task := p.task(t, arn)
		if got := aws.ToString(task.TaskDefinitionArn); !strings.HasSuffix(got, ":task-definition/ecsctl-sleeper:1") {
			t.Errorf("task %s runs %s", arn, got)
		}
		if aws.ToString(task.DesiredStatus) != "RUNNING" || aws.ToString(task.StartedBy) != "ecsctl" {
			t.Errorf("task %s: desired %s, startedBy %s", arn, aws.ToString(task.DesiredStatus), aws.ToString(task.StartedBy))
		}
		if !strings.Contains(aws.ToString(task.ClusterArn), ":cluster/"+testCluster) {
			t.Errorf("task %s placed in %s, want the agent's cluster %s", arn, aws.ToString(task.ClusterArn), testCluster)
		}
	}

	// Stop the first by task ID (the Task object's name), the second by ARN, the
	// endpoint this time from the environment.
	t.Setenv(envEndpoint, p.url)
	id := arns[0][strings.LastIndex(arns[0], "/")+1:]
	r = e.ecsctl(t, "stop", id, arns[1], "--reason", "ecsctl test says stop")
	if r.code != 0 {
		t.Fatalf("stop: exit %d, stderr %q", r.code, r.err)
	}
	if got := strings.Fields(r.out); !slices.Equal(got, arns) {
		t.Errorf("stop printed %q, want %q", got, arns)
	}
	for _, arn := range arns {
		task := p.task(t, arn)
		if aws.ToString(task.DesiredStatus) != "STOPPED" || aws.ToString(task.StoppedReason) != "ecsctl test says stop" {
			t.Errorf("task %s after stop: desired %s, reason %q", arn, aws.ToString(task.DesiredStatus), aws.ToString(task.StoppedReason))
		}
	}
}

// TestRunAndStopErrors checks the failures a user can cause.
func TestRunAndStopErrors(t *testing.T) {
	e := newEnv(t)
	p := newLocalPlane(t)
	dir := t.TempDir()
	def := filepath.Join(dir, "taskdef.json")
	if err := os.WriteFile(def, []byte(sleeperDef), 0o644); err != nil {
		t.Fatal(err)
	}
	exposed := filepath.Join(dir, "exposed.json")
	if err := os.WriteFile(exposed, []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	notDef := filepath.Join(dir, "notdef.json")
	if err := os.WriteFile(notDef, []byte(`{"containerDefinitions": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		err  string
	}{
		{name: "wrong secret", args: []string{"run", "-f", def, "--endpoint", p.url, "--secret-access-key", "wrong"},
			err: "InvalidSignatureException"},
		{name: "unknown cluster", args: []string{"run", "-f", def, "--endpoint", p.url, "--cluster", "elsewhere"},
			err: "cluster elsewhere"},
		{name: "no family", args: []string{"run", "-f", notDef, "--endpoint", p.url}, err: "has no family"},
		{name: "no file", args: []string{"run", "--endpoint", p.url}, err: "either as a file (-f) or by name"},
		{name: "unknown task definition", args: []string{"run", "--task-definition", "nope:1", "--endpoint", p.url},
			err: "RunTask nope:1"},
		{name: "too many", args: []string{"run", "-f", def, "--count", "11", "--endpoint", p.url}, err: "count"},
		{name: "stop unknown task", args: []string{"stop", "0123456789abcdef", "--endpoint", p.url},
			err: "StopTask 0123456789abcdef in cluster " + testCluster},
		{name: "bad endpoint", args: []string{"stop", "x", "--endpoint", "127.0.0.1:51690"}, err: "--endpoint"},
		{name: "no access file", args: []string{"run", "-f", def, "--local-credentials", filepath.Join(dir, "nope.json")},
			err: "nope.json does not exist: is ecs-agent --local running?"},
		{name: "access file others can read", args: []string{"run", "-f", def, "--local-credentials", exposed},
			err: "lets other users read it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.ecsctl(t, tc.args...)
			if r.code != 1 || !strings.Contains(r.err, tc.err) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", r.code, r.err, tc.err)
			}
		})
	}
	// Nothing above may have started a task.
	out, err := p.ecs.ListTasks(context.Background(), &ecs.ListTasksInput{Cluster: aws.String(testCluster)})
	if err != nil || len(out.TaskArns) != 0 {
		t.Errorf("tasks after failed runs: %v, %v", out.TaskArns, err)
	}
}

// TestRunNamedDefinitionWithoutAgent runs a registered definition by name with the agent
// unreachable: the cluster comes from --cluster instead of /v1/metadata.
func TestRunNamedDefinitionWithoutAgent(t *testing.T) {
	p := newLocalPlane(t)
	if _, err := p.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("named"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("busybox"),
			Memory: aws.Int32(32), Essential: aws.Bool(true)}},
	}); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, context.Background(), "--server", "http://127.0.0.1:1", "run", "--task-definition", "named",
		"--endpoint", p.url, "--cluster", testCluster)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.err)
	}
	if task := p.task(t, strings.TrimSpace(r.out)); !strings.HasSuffix(aws.ToString(task.TaskDefinitionArn), "/named:1") {
		t.Errorf("ran %s", aws.ToString(task.TaskDefinitionArn))
	}
}
