package ecsapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/go-logr/logr/testr"

	"github.com/ecsd/ecsd/internal/backoff"
)

// fakeECS answers JSON 1.1 calls with handler.
func fakeECS(t *testing.T, handler func(op string, body map[string]any) (int, string)) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonEC2ContainerServiceV20141113.")
		data, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(data, &body)
		code, out := handler(op, body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, out)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Options{
		Region:   "us-west-2",
		Endpoint: srv.URL,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "s"}, nil
		}),
		RegisterBackoff: backoff.Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond, Factor: 2},
		SDKAttempts:     1,
		Logger:          testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const registered = `{"containerInstance":{"containerInstanceArn":"arn:ci","attributes":[{"name":"a"},{"name":"k","value":"v"},{"name":"ecs.availability-zone","value":"us-west-2a"}]}}`

func TestRegisterRetriesTransientWithOneClientToken(t *testing.T) {
	var calls atomic.Int32
	tokens := map[string]bool{}
	c := fakeECS(t, func(op string, body map[string]any) (int, string) {
		if op != "RegisterContainerInstance" {
			return 400, `{"__type":"UnknownOperationException"}`
		}
		tok, _ := body["clientToken"].(string)
		tokens[tok] = true
		if calls.Add(1) <= 3 {
			return 400, `{"__type":"ThrottlingException","message":"slow down"}`
		}
		return 200, registered
	})
	reg, err := c.Register(context.Background(), Registration{Cluster: "prod", Attributes: map[string]string{"a": "", "k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if reg.ContainerInstanceARN != "arn:ci" || reg.AvailabilityZone != "us-west-2a" {
		t.Errorf("registered %+v", reg)
	}
	if len(tokens) != 1 || tokens[""] {
		t.Errorf("client tokens %v, want one non-empty token across retries", tokens)
	}
}

func TestRegisterTerminalErrors(t *testing.T) {
	for name, answer := range map[string]string{
		"client exception":   `{"__type":"ClientException","message":"no"}`,
		"invalid parameter":  `{"__type":"InvalidParameterException","message":"no"}`,
		"attribute mismatch": `{"containerInstance":{"containerInstanceArn":"arn:ci","attributes":[{"name":"a"}]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			c := fakeECS(t, func(string, map[string]any) (int, string) {
				if strings.Contains(answer, "__type") {
					return 400, answer
				}
				return 200, answer
			})
			_, err := c.Register(context.Background(), Registration{Cluster: "prod", Attributes: map[string]string{"a": "", "k": "v"}})
			if !errors.Is(err, ErrTerminal) || Classify(err) != Terminal {
				t.Errorf("err %v: want terminal", err)
			}
		})
	}
}

func TestDiscoverCachesAndFallsBackToStale(t *testing.T) {
	var calls atomic.Int32
	var fail atomic.Bool
	c := fakeECS(t, func(op string, _ map[string]any) (int, string) {
		calls.Add(1)
		if fail.Load() {
			return 500, `{"__type":"ServerException","message":"down"}`
		}
		return 200, `{"endpoint":"https://acs.example/","telemetryEndpoint":"https://tcs.example/"}`
	})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		ep, err := c.DiscoverPollEndpoint(ctx, "prod", "arn:ci")
		if err != nil || ep.ACS != "https://acs.example/" || ep.TCS != "https://tcs.example/" {
			t.Fatalf("discover = %+v, %v", ep, err)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("%d calls, want 1 (cached)", calls.Load())
	}
	c.opts.DiscoverTTL = time.Nanosecond // expire the entry
	fail.Store(true)
	if ep, err := c.DiscoverPollEndpoint(ctx, "prod", "arn:ci"); err != nil || ep.ACS != "https://acs.example/" {
		t.Errorf("with the backend failing: %+v, %v; want the expired entry", ep, err)
	}
	if _, err := c.DiscoverPollEndpoint(ctx, "prod", "arn:other"); err == nil {
		t.Error("no entry and a failing backend: want an error")
	}
}

func TestBaseEndpointAndBackoff(t *testing.T) {
	if got := BaseEndpoint("ecs.local:8080"); got != "https://ecs.local:8080" {
		t.Errorf("BaseEndpoint = %q", got)
	}
	if got := BaseEndpoint("http://127.0.0.1:1"); got != "http://127.0.0.1:1" {
		t.Errorf("BaseEndpoint = %q", got)
	}
	b := backoff.Backoff{Min: 3 * time.Second, Max: 192 * time.Second, Factor: 2}
	if b.Delay(0) != 3*time.Second || b.Delay(6) != 192*time.Second || b.Delay(20) != 192*time.Second {
		t.Errorf("delays %v %v %v", b.Delay(0), b.Delay(6), b.Delay(20))
	}
}
