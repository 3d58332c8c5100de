package agentapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/coder/websocket"
	"github.com/go-logr/logr/testr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/controlplane/sigv4"
	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/localplane"
	"github.com/ecsd/ecsd/server/agentapi"
	"github.com/ecsd/ecsd/server/metadata"
)

const (
	instanceKey    = "AKIDINSTANCE"
	instanceSecret = "instance-secret"
	region         = localplane.DefaultRegion
	cluster        = "prod"
	statePath      = "/api/%s/task-protection/v1/state"
	// waitTimeout bounds every wait on a condition; tests never sleep for a fixed time.
	waitTimeout = 10 * time.Second
)

// plane is a local ECS control plane on 127.0.0.1 requiring SigV4, with an ECS client
// signing as the instance.
type plane struct {
	*localplane.Server
	url string
	ecs *ecs.Client
}

func startPlane(t *testing.T) *plane {
	t.Helper()
	// Nothing may ever ask the EC2 metadata service.
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	s, err := localplane.New(context.Background(), localplane.Options{
		Credentials:       map[string]string{instanceKey: instanceSecret},
		Clusters:          []string{cluster},
		HeartbeatInterval: time.Hour,
		ManifestInterval:  time.Hour,
		Logger:            testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		_ = s.Close()
		srv.Close()
	})
	return &plane{Server: s, url: srv.URL, ecs: ecsClient(srv.URL, instanceKey, instanceSecret, "")}
}

func staticCreds(key, secret, token string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret, SessionToken: token, Source: "test"}, nil
	})
}

func ecsClient(url, key, secret, token string) *ecs.Client {
	return ecs.New(ecs.Options{Region: region, BaseEndpoint: aws.String(url),
		Credentials: staticCreds(key, secret, token), RetryMaxAttempts: 1})
}

// runTask registers an instance, connects its ACS session as an agent would, runs a task
// of a definition with a task role and returns the task ARN and the role credentials ACS
// delivered with it.
func (p *plane) runTask(t *testing.T) (string, *payload.IAMRoleCredentials) {
	t.Helper()
	ctx := context.Background()
	reg, err := p.ecs.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{
		Cluster: aws.String(cluster),
		TotalResources: []types.Resource{
			{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: 1024},
			{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: 1024},
		},
		// What an agent with task roles registers: the plane places the task (it has a
		// task role) only on such an instance.
		Attributes: []types.Attribute{
			{Name: aws.String("com.amazonaws.ecs.capability.task-iam-role")},
			{Name: aws.String("com.amazonaws.ecs.capability.task-iam-role-network-host")},
		},
	})
	if err != nil {
		t.Fatalf("RegisterContainerInstance: %v", err)
	}
	instance := aws.ToString(reg.ContainerInstance.ContainerInstanceArn)
	if _, err := p.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String("web"),
		TaskRoleArn: aws.String("arn:aws:iam::000000000000:role/app"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("busybox"),
			Memory: aws.Int32(64)}},
	}); err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	frames := p.connectACS(t, instance)
	run, err := p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String("web")})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("RunTask: %v %v", run, err)
	}
	task := aws.ToString(run.Tasks[0].TaskArn)
	timeout := time.After(waitTimeout)
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatal("ACS session ended before the payload")
			}
			if f.Type != payload.TypePayloadMessage {
				continue
			}
			m, err := payload.DecodeMessage(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, pt := range m.(*payload.PayloadMessage).Tasks {
				if pt.Arn == task && pt.RoleCredentials != nil {
					return task, pt.RoleCredentials
				}
			}
		case <-timeout:
			t.Fatal("timed out waiting for the task's payload")
		}
	}
}

// connectACS opens the instance's ACS websocket and returns the frames it receives.
func (p *plane) connectACS(t *testing.T, instance string) <-chan payload.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	disc, err := p.ecs.DiscoverPollEndpoint(ctx, &ecs.DiscoverPollEndpointInput{
		Cluster: aws.String(cluster), ContainerInstance: aws.String(instance)})
	if err != nil {
		t.Fatalf("DiscoverPollEndpoint: %v", err)
	}
	q := url.Values{"clusterArn": {cluster}, "containerInstanceArn": {instance}, "protocolVersion": {"2"},
		"sendCredentials": {"false"}, "seqNum": {"1"}, "agentVersion": {"1.105.1"}}
	wsURL := aws.ToString(disc.Endpoint) + "/ws?" + q.Encode()
	h, err := sigv4.SignWebsocketHandshake(ctx, staticCreds(instanceKey, instanceSecret, ""), region, wsURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, _, err := websocket.Dial(ctx, strings.Replace(wsURL, "http://", "ws://", 1), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("ACS dial: %v", err)
	}
	conn.SetReadLimit(payload.MaxFrameSize)
	frames := make(chan payload.Frame, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(frames)
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			if f, err := payload.DecodeFrame(data); err == nil {
				select {
				case frames <- f:
				default: // nobody is waiting for more
				}
			}
		}
	}()
	t.Cleanup(func() { conn.CloseNow(); <-done })
	testutil.Eventually(t, "the ACS session", func() bool { return p.Sessions() > 0 })
	return frames
}

// store returns a fake reader holding, for each taskObj, a Task with its ARN and role
// credentials ID, and the task's container "app" with its endpoint ID.
func store(t *testing.T, tasks []taskObj) client.Reader {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var objs []client.Object
	for _, tk := range tasks {
		id := tk.arn[strings.LastIndexByte(tk.arn, '/')+1:]
		objs = append(objs,
			&api.Task{ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: id},
				Spec: api.TaskSpec{ARN: tk.arn, Containers: []string{"app"}, RoleCredentialsID: tk.credsID}},
			&api.Container{ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: api.ContainerName(id, "app")},
				Spec: api.ContainerSpec{TaskName: id, Name: "app", EndpointID: tk.endpoint}})
	}
	// The endpoint ID index, as the agent registers it on its cache.
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithIndex(&api.Container{}, metadata.EndpointIDField, metadata.ContainerEndpointID).Build()
}

type taskObj struct{ arn, credsID, endpoint string }

// roleEntry is a credentials.Entry for the task role credentials ACS delivered.
func roleEntry(task string, rc *payload.IAMRoleCredentials) credentials.Entry {
	return credentials.Entry{ID: rc.CredentialsID, TaskARN: task, RoleARN: rc.RoleArn, RoleType: credentials.TaskApplication,
		AccessKeyID: rc.AccessKeyID, SecretAccessKey: rc.SecretAccessKey, SessionToken: rc.SessionToken}
}

// serve starts the agent API on 127.0.0.1.
func serve(t *testing.T, o agentapi.Options) string {
	t.Helper()
	o.Logger = testr.New(t)
	srv := httptest.NewServer(agentapi.NewHandler(o))
	t.Cleanup(srv.Close)
	return srv.URL
}

// reply is a decoded agent API response.
type reply struct {
	status int
	body   []byte
	json   map[string]any
}

// field returns the value at a path of object keys, e.g. "error", "Code".
func (r reply) field(keys ...string) any {
	var v any = r.json
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func request(t *testing.T, method, url, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, body: data}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, body %s", method, url, ct, data)
	}
	if err := json.Unmarshal(data, &r.json); err != nil {
		t.Fatalf("%s %s: body %s: %v", method, url, data, err)
	}
	return r
}

// wantError checks an error response: status, and the exact error object.
func wantError(t *testing.T, r reply, status int, arn, code, msg string) {
	t.Helper()
	want := map[string]any{"Code": code, "Message": msg}
	if arn != "" {
		want["Arn"] = arn
	}
	got, _ := r.json["error"].(map[string]any)
	if r.status != status || len(got) != len(want) || r.json["protection"] != nil || r.json["failure"] != nil {
		t.Fatalf("HTTP %d %s, want %d with error %v", r.status, r.body, status, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("error.%s = %v, want %v (body %s)", k, got[k], v, r.body)
		}
	}
}
