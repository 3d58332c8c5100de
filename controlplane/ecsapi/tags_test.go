package ecsapi

import (
	"context"
	"errors"
	"maps"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/coder/websocket"
	"github.com/go-logr/logr/testr"

	"github.com/ecsd/ecsd/controlplane/sigv4"
	"github.com/ecsd/ecsd/internal/backoff"
	"github.com/ecsd/ecsd/localplane"
)

// TestListTagsForResourceLocal reads task and container instance tags from a real local
// control plane on 127.0.0.1, signed as the agent signs.
func TestListTagsForResourceLocal(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	const key, secret = "AKIDTAGSTEST", "tags-test-secret"
	srv, err := localplane.New(context.Background(), localplane.Options{
		Credentials: map[string]string{key: secret},
		Clusters:    []string{"prod"},
		Logger:      testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Close()
	})
	c, err := New(Options{
		Region:   localplane.DefaultRegion,
		Endpoint: hs.URL,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, nil
		}),
		Logger: testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reg, err := c.Register(ctx, Registration{Cluster: "prod", Attributes: map[string]string{"ecs.os-type": "linux"},
		Resources: []types.Resource{{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: 1024},
			{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: 1024},
			{Name: aws.String("PORTS"), Type: aws.String("STRINGSET"), StringSetValue: []string{"22"}},
			{Name: aws.String("PORTS_UDP"), Type: aws.String("STRINGSET"), StringSetValue: []string{}}},
		Tags: map[string]string{"rack": "r1"}})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	// ECS places tasks only on an instance whose agent is connected: open its ACS session.
	acsSession(ctx, t, c, reg.ContainerInstanceARN, aws.Credentials{AccessKeyID: key, SecretAccessKey: secret})
	if _, err := c.API().TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(reg.ContainerInstanceARN),
		Tags: []types.Tag{{Key: aws.String("zone"), Value: aws.String("z1")}}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	def, err := c.API().RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("web"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("busybox"), Memory: aws.Int32(16)}}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.API().RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: def.TaskDefinition.TaskDefinitionArn,
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("blue")}, {Key: aws.String("empty")}}})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("RunTask: %v", err)
	}

	for arn, want := range map[string]map[string]string{
		reg.ContainerInstanceARN:           {"rack": "r1", "zone": "z1"},
		aws.ToString(run.Tasks[0].TaskArn): {"team": "blue", "empty": ""},
	} {
		got, err := c.ListTagsForResource(ctx, arn)
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("ListTagsForResource(%s) = %v, %v; want %v", arn, got, err, want)
		}
	}

	// An unknown resource is the caller's error: answered at once, not retried.
	start := time.Now()
	_, err = c.ListTagsForResource(ctx, "arn:aws:ecs:local:000000000000:task/prod/nope")
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterException" {
		t.Fatalf("unknown task: %v, want InvalidParameterException", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("unknown task took %s: a caller error was retried", d)
	}
}

func TestListTagsForResourceRetriesTransient(t *testing.T) {
	var calls atomic.Int32
	c := fakeECS(t, func(op string, body map[string]any) (int, string) {
		if op != "ListTagsForResource" || body["resourceArn"] != "arn:task" {
			return 400, `{"__type":"InvalidParameterException","message":"bad request"}`
		}
		if calls.Add(1) <= 2 {
			return 400, `{"__type":"ThrottlingException","message":"slow down"}`
		}
		return 200, `{"tags":[{"key":"a","value":"1"}]}`
	})
	c.opts.TagsBackoff = backoff.Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond, Factor: 2}
	got, err := c.ListTagsForResource(context.Background(), "arn:task")
	if err != nil || !maps.Equal(got, map[string]string{"a": "1"}) || calls.Load() != 3 {
		t.Fatalf("ListTagsForResource = %v, %v after %d calls; want a=1 after 3", got, err, calls.Load())
	}
}

// TestListTagsForResourceDeadline: a backend that keeps failing is retried only until the
// caller's deadline, and the last API error is what the caller gets.
func TestListTagsForResourceDeadline(t *testing.T) {
	var calls atomic.Int32
	c := fakeECS(t, func(string, map[string]any) (int, string) {
		calls.Add(1)
		return 500, `{"__type":"ServerException","message":"down"}`
	})
	c.opts.TagsBackoff = backoff.Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond, Factor: 2}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ListTagsForResource(ctx, "arn:task")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("returned after %s; the deadline was 200ms", d)
	}
	var ae smithy.APIError
	if err == nil || calls.Load() < 2 {
		t.Fatalf("err %v after %d calls; want an error after retries", err, calls.Load())
	}
	if !errors.As(err, &ae) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v: want the ServerException or the deadline", err)
	}
}

// acsSession connects instance's ACS websocket, signed, and discards what it receives
// until the test ends. (Not CloseRead: a payload frame would make it start a close
// handshake the server never answers.)
func acsSession(ctx context.Context, t *testing.T, c *Client, instance string, creds aws.Credentials) {
	t.Helper()
	ep, err := c.DiscoverPollEndpoint(ctx, "prod", instance)
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"clusterArn": {"prod"}, "containerInstanceArn": {instance}, "protocolVersion": {"2"}, "agentVersion": {"1.105.1"}}
	u := ep.ACS + "/ws?" + q.Encode()
	h, err := sigv4.SignWebsocketHandshake(ctx, credentials.StaticCredentialsProvider{Value: creds}, localplane.DefaultRegion, u)
	if err != nil {
		t.Fatal(err)
	}
	conn, _, err := websocket.Dial(ctx, strings.Replace(u, "http://", "ws://", 1), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("ACS dial: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, _, err := conn.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = conn.CloseNow()
		<-done
	})
	// The plane counts the agent as connected once its handler runs, which may be after the
	// handshake returned here: wait for it, or placement can find no connected instance.
	for {
		out, err := c.API().DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{
			Cluster: aws.String("prod"), ContainerInstances: []string{instance}})
		if err != nil {
			t.Fatalf("DescribeContainerInstances: %v", err)
		}
		if len(out.ContainerInstances) == 1 && out.ContainerInstances[0].AgentConnected {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("the plane never saw the ACS session connected")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
