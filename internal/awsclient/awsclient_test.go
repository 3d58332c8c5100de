package awsclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// TestServiceEndpointsFromEnvironment: the per-service variables win over the global one,
// and a service without its own variable gets the global one.
func TestServiceEndpointsFromEnvironment(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL", "http://global.test:1")
	t.Setenv("AWS_ENDPOINT_URL_SSM", "http://ssm.test:2")
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://asm.test:3")
	t.Setenv("AWS_ENDPOINT_URL_ECR", "http://ecr.test:4")
	f, err := New(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.Config("eu-west-1", awscreds.NewStaticCredentialsProvider("AKID", "SECRET", ""))
	for name, got := range map[string]*string{
		"http://ssm.test:2":    ssm.NewFromConfig(cfg).Options().BaseEndpoint,
		"http://asm.test:3":    secretsmanager.NewFromConfig(cfg).Options().BaseEndpoint,
		"http://ecr.test:4":    ecr.NewFromConfig(cfg).Options().BaseEndpoint,
		"http://global.test:1": s3.NewFromConfig(cfg).Options().BaseEndpoint,
	} {
		if aws.ToString(got) != name {
			t.Errorf("endpoint %q, want %q", aws.ToString(got), name)
		}
	}
	if cfg.Region != "eu-west-1" {
		t.Errorf("region %q", cfg.Region)
	}
}

// TestSignsWithTheGivenCredentialsOnly: a request reaches the endpoint signed with the
// static key given, and a Factory's own placeholder never signs.
func TestSignsWithTheGivenCredentialsOnly(t *testing.T) {
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write([]byte(`{"Parameters":[],"InvalidParameters":["x"]}`))
	}))
	defer srv.Close()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_SSM", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "ENVKEY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
	f, err := New(context.Background(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := ssm.NewFromConfig(f.Config("us-east-1", awscreds.NewStaticCredentialsProvider("TASKKEY", "tasksecret", "")))
	if _, err := c.GetParameters(context.Background(), &ssm.GetParametersInput{Names: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	if a, _ := auth.Load().(string); !strings.Contains(a, "Credential=TASKKEY/") {
		t.Fatalf("Authorization %q, want the given key", a)
	}
	if _, err := f.base.Credentials.Retrieve(context.Background()); err == nil {
		t.Fatal("the factory's placeholder credentials answered")
	}
}

// TestServiceEndpointForCallsWithoutAClient: EC2's own variable, then the global one,
// then none; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS turns both off.
func TestServiceEndpointForCallsWithoutAClient(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	for _, tc := range []struct{ ec2, global, ignore, want string }{
		{"http://ec2.test:1", "http://global.test:2", "", "http://ec2.test:1"},
		{"", "http://global.test:2", "", "http://global.test:2"},
		{"", "", "", ""},
		{"http://ec2.test:1", "http://global.test:2", "true", ""},
	} {
		t.Setenv("AWS_ENDPOINT_URL_EC2", tc.ec2)
		t.Setenv("AWS_ENDPOINT_URL", tc.global)
		t.Setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", tc.ignore)
		f, err := New(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.ServiceEndpoint(ctx, "EC2"); got != tc.want {
			t.Errorf("%+v: ServiceEndpoint = %q", tc, got)
		}
	}
}
