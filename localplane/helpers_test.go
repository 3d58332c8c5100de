package localplane

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/coder/websocket"
	"github.com/go-logr/logr/testr"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/controlplane/sigv4"
	"github.com/ecsd/ecsd/internal/capability"
	"github.com/ecsd/ecsd/internal/testutil"
)

const (
	testKey    = "AKIDLOCALTEST"
	testSecret = "local-test-secret"
	// waitTimeout bounds every wait on a condition; tests never sleep for a fixed time.
	waitTimeout = 10 * time.Second
)

// plane is a Server behind an httptest server on 127.0.0.1, with a real ECS client.
type plane struct {
	*Server
	http *httptest.Server
	ecs  *ecs.Client
}

// newPlane starts a control plane. Unless o.Credentials is set, it requires signatures
// with the test key anyway, so every test exercises SigV4.
func newPlane(t *testing.T, o Options) *plane {
	t.Helper()
	// Nothing may ever ask the EC2 metadata service; the clients use static credentials.
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	if o.Credentials == nil {
		o.Credentials = map[string]string{testKey: testSecret}
	}
	if o.Logger.GetSink() == nil {
		o.Logger = testr.NewWithOptions(t, testr.Options{Verbosity: 1})
	}
	s, err := New(context.Background(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		srv.Close()
	})
	return &plane{Server: s, http: srv, ecs: ecsClient(srv.URL, testKey, testSecret)}
}

func staticCreds(key, secret string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret, Source: "test"}, nil
	})
}

// ecsClient is aws-sdk-go-v2's ECS client pointed at url; no retries, so errors surface
// at once.
func ecsClient(url, key, secret string) *ecs.Client {
	return ecs.New(ecs.Options{
		Region:           DefaultRegion,
		BaseEndpoint:     aws.String(url),
		Credentials:      staticCreds(key, secret),
		RetryMaxAttempts: 1,
	})
}

// agentAttributes are the attributes ecsd's agent registers under ecs-init on a host with
// both LSMs (AppArmor, SELinux) switched on: what the capability table sends for the
// ECS-optimized AMI's configuration.
func agentAttributes(t *testing.T) []types.Attribute {
	t.Helper()
	env := map[string]string{"ECS_SELINUX_CAPABLE": "true", "ECS_APPARMOR_CAPABLE": "true"}
	cfg, _, err := config.Load(context.Background(), config.WithEnv(env), config.WithConfigFile(""), config.WithAgentConfigFile(""),
		config.WithEnvDefaults(config.ECSInitDefaults("")))
	if err != nil {
		t.Fatal(err)
	}
	var out []types.Attribute
	for name, value := range capability.Attributes(cfg, capability.Host{AppArmor: true, SELinux: true, NamespaceSharing: true}) {
		a := types.Attribute{Name: aws.String(name)}
		if value != "" {
			a.Value = aws.String(value)
		}
		out = append(out, a)
	}
	return out
}

// setup creates a cluster, registers an instance with 2048 CPU and 1024 MiB and the
// attributes of ecsd's agent, and returns the instance ARN.
func (p *plane) setup(t *testing.T, cluster string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := p.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	out, err := p.ecs.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{
		Cluster:        aws.String(cluster),
		TotalResources: testResources(),
		Attributes:     agentAttributes(t),
	})
	if err != nil {
		t.Fatalf("RegisterContainerInstance: %v", err)
	}
	return aws.ToString(out.ContainerInstance.ContainerInstanceArn)
}

func testResources() []types.Resource {
	return []types.Resource{
		{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: 2048},
		{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: 1024},
		{Name: aws.String("PORTS"), Type: aws.String("STRINGSET"), StringSetValue: []string{"22", "51678"}},
		{Name: aws.String("PORTS_UDP"), Type: aws.String("STRINGSET"), StringSetValue: []string{}},
	}
}

// registerTaskDef registers a one-container definition "app" of family with memory MiB
// and the given host port (0 for none).
func (p *plane) registerTaskDef(t *testing.T, family string, memory, hostPort int32) string {
	t.Helper()
	cd := types.ContainerDefinition{
		Name:    aws.String("app"),
		Image:   aws.String("busybox"),
		Memory:  aws.Int32(memory),
		Command: []string{"sleep", "3600"},
	}
	if hostPort > 0 {
		cd.PortMappings = []types.PortMapping{{ContainerPort: aws.Int32(80), HostPort: aws.Int32(hostPort)}}
	}
	out, err := p.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:               aws.String(family),
		ContainerDefinitions: []types.ContainerDefinition{cd},
	})
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

// agent is a fake agent's ACS session: a websocket client recording what it receives.
type agent struct {
	t      *testing.T
	conn   *websocket.Conn
	frames chan payload.Frame
	// autoAck answers heartbeats, as every agent must on protocol version 2.
	autoAck bool
	stop    chan struct{} // closed at cleanup: read stops even with frames unread
	done    chan struct{}
}

// acsURL is the ACS URL the agent builds from DiscoverPollEndpoint.
func (p *plane) acsURL(t *testing.T, cluster, instance string, sendCredentials bool) string {
	t.Helper()
	out, err := p.ecs.DiscoverPollEndpoint(context.Background(), &ecs.DiscoverPollEndpointInput{
		Cluster: aws.String(cluster), ContainerInstance: aws.String(instance)})
	if err != nil {
		t.Fatalf("DiscoverPollEndpoint: %v", err)
	}
	q := url.Values{
		"agentHash": {"abc"}, "agentVersion": {"1.105.1"}, "clusterArn": {cluster},
		"containerInstanceArn": {instance}, "dockerVersion": {"DockerVersion: containerd"},
		"protocolVersion": {"2"}, "sendCredentials": {strconv.FormatBool(sendCredentials)}, "seqNum": {"1"},
	}
	return aws.ToString(out.Endpoint) + "/ws?" + q.Encode()
}

// dial opens a signed websocket to url and returns the connection, or the HTTP response
// of a refused upgrade.
func dial(t *testing.T, url string, creds aws.CredentialsProvider) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h, err := sigv4.SignWebsocketHandshake(context.Background(), creds, DefaultRegion, url)
	if err != nil {
		t.Fatalf("SignWebsocketHandshake: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	return websocket.Dial(ctx, strings.Replace(url, "http://", "ws://", 1), &websocket.DialOptions{HTTPHeader: h})
}

// connect opens an ACS session as an agent would and starts reading it; the agent
// acknowledges heartbeats.
func (p *plane) connect(t *testing.T, cluster, instance string, sendCredentials bool) *agent {
	t.Helper()
	return p.connectAgent(t, cluster, instance, sendCredentials, true)
}

func (p *plane) connectAgent(t *testing.T, cluster, instance string, sendCredentials, autoAck bool) *agent {
	t.Helper()
	conn, resp, err := dial(t, p.acsURL(t, cluster, instance, sendCredentials), staticCreds(testKey, testSecret))
	if err != nil {
		t.Fatalf("ACS dial: %v (response %v)", err, resp)
	}
	conn.SetReadLimit(payload.MaxFrameSize)
	a := &agent{t: t, conn: conn, frames: make(chan payload.Frame, 1000), autoAck: autoAck,
		stop: make(chan struct{}), done: make(chan struct{})}
	go a.read()
	t.Cleanup(func() { close(a.stop); a.conn.CloseNow(); <-a.done })
	testutil.Eventually(t, "the ACS session to register", func() bool { return p.agentConnected(instance) })
	return a
}

func (p *plane) agentConnected(instance string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acs[instance]) > 0
}

func (a *agent) read() {
	defer close(a.done)
	defer close(a.frames)
	for {
		_, data, err := a.conn.Read(context.Background())
		if err != nil {
			return
		}
		f, err := payload.DecodeFrame(data)
		if err != nil {
			a.t.Errorf("server sent a malformed frame %q: %v", data, err)
			return
		}
		if f.Type == payload.TypeHeartbeatMessage && a.autoAck {
			m, _ := payload.DecodeMessage(f)
			a.send(&payload.HeartbeatAckRequest{MessageID: m.(*payload.HeartbeatMessage).MessageID})
		}
		select {
		case a.frames <- f:
		case <-a.stop:
			return
		}
	}
}

func (a *agent) send(m payload.Message) {
	data, err := payload.EncodeMessage(m)
	if err != nil {
		a.t.Errorf("encode: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := a.conn.Write(ctx, websocket.MessageText, data); err != nil && !errors.Is(err, context.Canceled) {
		a.t.Logf("agent write: %v", err)
	}
}

// next returns the next frame of type typ, skipping others.
func (a *agent) next(typ string) any {
	a.t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case f, ok := <-a.frames:
			if !ok {
				a.t.Fatalf("session closed while waiting for %s", typ)
			}
			if f.Type != typ {
				continue
			}
			m, err := payload.DecodeMessage(f)
			if err != nil {
				a.t.Fatalf("decode %s: %v", typ, err)
			}
			return m
		case <-timeout:
			a.t.Fatalf("timed out waiting for %s", typ)
		}
	}
}

func (a *agent) payload() *payload.PayloadMessage {
	a.t.Helper()
	return a.next(payload.TypePayloadMessage).(*payload.PayloadMessage)
}

// runTask runs one task of taskDef in cluster and returns its ARN.
func (p *plane) runTask(t *testing.T, cluster, taskDef string) string {
	t.Helper()
	out, err := p.ecs.RunTask(context.Background(), &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(taskDef)})
	if err != nil {
		t.Fatalf("RunTask: %v", err)
	}
	if len(out.Tasks) != 1 {
		t.Fatalf("RunTask placed %d tasks, failures %+v", len(out.Tasks), failures(out.Failures))
	}
	return aws.ToString(out.Tasks[0].TaskArn)
}

func (p *plane) describeTask(t *testing.T, task string) types.Task {
	t.Helper()
	out, err := p.ecs.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: aws.String("prod"), Tasks: []string{task}})
	if err != nil {
		t.Fatalf("DescribeTasks: %v", err)
	}
	if len(out.Tasks) != 1 {
		t.Fatalf("DescribeTasks: %d tasks, failures %+v", len(out.Tasks), failures(out.Failures))
	}
	return out.Tasks[0]
}

func failures(fs []types.Failure) []string {
	var out []string
	for _, f := range fs {
		out = append(out, aws.ToString(f.Arn)+" "+aws.ToString(f.Reason))
	}
	return out
}

// signed signs a raw request with the test key, as the SDK would.
func signed(t *testing.T, req *http.Request, body []byte) *http.Request {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sigv4.PayloadHash(body), "ecs", DefaultRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

// call makes a raw signed ECS API call and decodes the 200 response into out.
func (p *plane) call(t *testing.T, op, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.http.URL, strings.NewReader(body))
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(signed(t, req, []byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d %s", op, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("%s: decode %s: %v", op, data, err)
	}
}
