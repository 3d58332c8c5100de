package registry_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	awscreds "github.com/aws/aws-sdk-go-v2/credentials"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/internal/awsclient"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/registry"
	"github.com/ecsd/ecsd/runtime/registry/registrytest"
)

// TestMain keeps the SDK away from the instance metadata service: every test talks to the
// fake on 127.0.0.1 with static credentials, and a fallback to IMDS must fail, not hang.
func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

const (
	taskARN   = "arn:aws:ecs:us-west-2:111122223333:task/test/0123456789abcdef"
	otherTask = "arn:aws:ecs:us-west-2:111122223333:task/test/fedcba9876543210"
	image     = "127.0.0.1:5001/ecsd/busybox:latest"
	region    = "us-west-2"
	account   = "111122223333"

	execKey     = "ASIAEXECUTIONROLE"
	execSecret  = "exec-secret-access-key"
	execSession = "exec-session-token"
	agentKey    = "AKIAAGENTINSTANCE"
	agentSecret = "agent-secret-access-key"

	registryPassword = "registry-password-from-ecr"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	fake  *registrytest.AWS
	creds *credentials.Manager
	clock *clock
	r     *registry.Resolver
}

func newEnv(t *testing.T, opts ...registry.Option) *env {
	t.Helper()
	e := &env{fake: registrytest.New(t), creds: credentials.NewManager(), clock: &clock{t: time.Now()}}
	e.fake.AddKey(execKey, execSecret, execSession)
	e.fake.AddKey(agentKey, agentSecret, "")
	e.fake.SetToken(registrytest.Token{
		Username: "AWS", Password: registryPassword,
		ProxyEndpoint: "https://127.0.0.1:5001", ExpiresAt: e.clock.Now().Add(12 * time.Hour),
	})
	e.setExecCreds(t, taskARN, "arn:aws:iam::111122223333:role/exec", execKey, execSecret)
	e.r = registry.New(append([]registry.Option{
		registry.WithCredentials(e.creds),
		registry.WithAgentCredentials(awscreds.NewStaticCredentialsProvider(agentKey, agentSecret, "")),
		registry.WithECREndpoint(e.fake.URL),
		registry.WithSecretsManagerEndpoint(e.fake.URL),
		registry.WithClock(e.clock.Now),
	}, opts...)...)
	return e
}

// setExecCreds gives task execution-role credentials (with session token execSession).
func (e *env) setExecCreds(t *testing.T, task, role, key, secret string) {
	t.Helper()
	err := e.creds.Set(credentials.Entry{
		ID: "id-" + task + role, TaskARN: task, RoleARN: role, RoleType: credentials.TaskExecution,
		AccessKeyID: key, SecretAccessKey: secret, SessionToken: execSession,
		Expiration: e.clock.Now().Add(6 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
}

func ecrAuth(useExecutionRole bool) *api.RegistryAuth {
	return &api.RegistryAuth{Type: registry.TypeECR, Region: region, RegistryID: account, UseExecutionRole: useExecutionRole}
}

// noSecrets fails if err's message carries any credential the test handed out.
func noSecrets(t *testing.T, err error) {
	t.Helper()
	for _, s := range []string{execSecret, execSession, agentSecret, registryPassword, "s3cr3t-pw"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q leaks a secret", err)
		}
	}
}

func TestECRTokenSignedWithExecutionRole(t *testing.T) {
	e := newEnv(t)
	a, err := e.r.Auth(context.Background(), image, ecrAuth(true), taskARN)
	if err != nil {
		t.Fatalf("Auth: %v", err)
	}
	if *a != (runtime.Auth{Username: "AWS", Password: registryPassword}) {
		t.Errorf("auth = %q/%q, want the decoded token", a.Username, a.Password)
	}
	calls := e.fake.CallsTo(registrytest.TargetGetAuthorizationToken)
	if len(calls) != 1 {
		t.Fatalf("%d GetAuthorizationToken calls, want 1", len(calls))
	}
	c := calls[0]
	if c.AccessKeyID != execKey || c.SessionToken != execSession || c.Region != region || c.Service != "ecr" || c.Error != "" {
		t.Errorf("call = %+v, want signed by the execution role for ecr in %s", c, region)
	}
	if !slices.Equal(c.RegistryIDs, []string{account}) {
		t.Errorf("registryIds = %q, want [%s]", c.RegistryIDs, account)
	}
}

func TestECRTokenWithAgentCredentials(t *testing.T) {
	e := newEnv(t)
	if _, err := e.r.Auth(context.Background(), image, ecrAuth(false), taskARN); err != nil {
		t.Fatalf("Auth: %v", err)
	}
	calls := e.fake.CallsTo(registrytest.TargetGetAuthorizationToken)
	if len(calls) != 1 || calls[0].AccessKeyID != agentKey {
		t.Fatalf("calls = %+v, want one signed with the agent's key", calls)
	}

	noAgent := registry.New(registry.WithECREndpoint(e.fake.URL), registry.WithRegion(region))
	_, err := noAgent.Auth(context.Background(), image, ecrAuth(false), taskARN)
	if !errors.Is(err, registry.ErrNoCredentials) {
		t.Errorf("without agent credentials: err = %v, want ErrNoCredentials", err)
	}
}

func TestECRTokenCache(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	fetches := func() int { return len(e.fake.CallsTo(registrytest.TargetGetAuthorizationToken)) }
	for range 3 {
		if _, err := e.r.Auth(ctx, image, ecrAuth(true), taskARN); err != nil {
			t.Fatal(err)
		}
	}
	if n := fetches(); n != 1 {
		t.Fatalf("%d fetches for three pulls, want 1 (cached)", n)
	}

	// Another task with the same execution role shares the token; another role does not.
	e.setExecCreds(t, otherTask, "arn:aws:iam::111122223333:role/exec", execKey, execSecret)
	if _, err := e.r.Auth(ctx, image, ecrAuth(true), otherTask); err != nil {
		t.Fatal(err)
	}
	if n := fetches(); n != 1 {
		t.Fatalf("same role: %d fetches, want 1", n)
	}
	e.setExecCreds(t, otherTask, "arn:aws:iam::111122223333:role/other", execKey, execSecret)
	if _, err := e.r.Auth(ctx, image, ecrAuth(true), otherTask); err != nil {
		t.Fatal(err)
	}
	if n := fetches(); n != 2 {
		t.Fatalf("other role: %d fetches, want 2", n)
	}
	// The agent's own credentials are another identity, and so is another region.
	if _, err := e.r.Auth(ctx, image, ecrAuth(false), taskARN); err != nil {
		t.Fatal(err)
	}
	other := ecrAuth(true)
	other.Region = "eu-west-1"
	if _, err := e.r.Auth(ctx, image, other, taskARN); err != nil {
		t.Fatal(err)
	}
	if n := fetches(); n != 4 {
		t.Fatalf("agent credentials and another region: %d fetches, want 4", n)
	}

	// Inside the margin before expiry the token is replaced, with the new password.
	e.fake.SetToken(registrytest.Token{Username: "AWS", Password: "rotated", ProxyEndpoint: "https://127.0.0.1:5001",
		ExpiresAt: e.clock.Now().Add(24 * time.Hour)})
	e.clock.Add(12*time.Hour - registry.DefaultTokenMargin - time.Second)
	// ACS has refreshed the execution role credentials meanwhile.
	e.setExecCreds(t, taskARN, "arn:aws:iam::111122223333:role/exec", execKey, execSecret)
	a, err := e.r.Auth(ctx, image, ecrAuth(true), taskARN)
	if err != nil || a.Password != registryPassword || fetches() != 4 {
		t.Fatalf("just before the margin: auth %v, err %v, %d fetches; want the cached token", a != nil, err, fetches())
	}
	e.clock.Add(2 * time.Second)
	a, err = e.r.Auth(ctx, image, ecrAuth(true), taskARN)
	if err != nil || a.Password != "rotated" || fetches() != 5 {
		t.Fatalf("inside the margin: err %v, %d fetches; want a fresh token", err, fetches())
	}
}

func TestECRTokenConcurrentPulls(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			a, err := e.r.Auth(context.Background(), image, ecrAuth(true), taskARN)
			if err == nil && a.Password != registryPassword {
				err = errors.New("wrong password")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.fake.CallsTo(registrytest.TargetGetAuthorizationToken)); n < 1 || n > 16 {
		t.Errorf("%d fetches", n)
	}
}

func TestECRRefusedAndMalformed(t *testing.T) {
	ctx := context.Background()
	t.Run("unknown key", func(t *testing.T) {
		e := newEnv(t)
		e.setExecCreds(t, taskARN, "arn:aws:iam::111122223333:role/exec", "ASIAUNKNOWN", "s3cr3t-pw")
		_, err := e.r.Auth(ctx, image, ecrAuth(true), taskARN)
		if !errors.Is(err, registry.ErrECR) || !strings.Contains(err.Error(), "UnrecognizedClientException") {
			t.Fatalf("err = %v, want ErrECR naming the refusal", err)
		}
		noSecrets(t, err)
	})
	t.Run("wrong secret", func(t *testing.T) {
		e := newEnv(t)
		e.setExecCreds(t, taskARN, "arn:aws:iam::111122223333:role/exec", execKey, "s3cr3t-pw")
		_, err := e.r.Auth(ctx, image, ecrAuth(true), taskARN)
		if !errors.Is(err, registry.ErrECR) || !strings.Contains(err.Error(), "signature") {
			t.Fatalf("err = %v, want ErrECR for a bad signature", err)
		}
		noSecrets(t, err)
	})
	for name, tok := range map[string]registrytest.Token{
		"no user":        {Username: "", Password: registryPassword, ProxyEndpoint: "https://127.0.0.1:5001"},
		"other registry": {Username: "AWS", Password: registryPassword, ProxyEndpoint: "https://111122223333.dkr.ecr.us-west-2.amazonaws.com"},
		"no endpoint":    {Username: "AWS", Password: registryPassword},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			tok.ExpiresAt = e.clock.Now().Add(time.Hour)
			e.fake.SetToken(tok)
			_, err := e.r.Auth(ctx, image, ecrAuth(true), taskARN)
			if !errors.Is(err, registry.ErrECR) {
				t.Fatalf("err = %v, want ErrECR", err)
			}
			noSecrets(t, err)
		})
	}
	t.Run("no region", func(t *testing.T) {
		e := newEnv(t)
		ra := ecrAuth(true)
		ra.Region = ""
		if _, err := e.r.Auth(ctx, image, ra, taskARN); !errors.Is(err, registry.ErrECR) {
			t.Fatalf("err = %v, want ErrECR", err)
		}
	})
}

func TestExecutionCredentialsWait(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, registry.WithCredentialsWait(time.Minute))
	const late = "arn:aws:ecs:us-west-2:111122223333:task/test/late"
	for _, step := range []time.Duration{0, 30 * time.Second} {
		e.clock.Add(step)
		if _, err := e.r.Auth(ctx, image, ecrAuth(true), late); !errors.Is(err, registry.ErrCredentialsPending) {
			t.Fatalf("after %s: err = %v, want ErrCredentialsPending", step, err)
		}
	}
	e.setExecCreds(t, late, "arn:aws:iam::111122223333:role/exec", execKey, execSecret)
	if _, err := e.r.Auth(ctx, image, ecrAuth(true), late); err != nil {
		t.Fatalf("credentials arrived within the wait: %v", err)
	}

	const never = "arn:aws:ecs:us-west-2:111122223333:task/test/never"
	if _, err := e.r.Auth(ctx, image, ecrAuth(true), never); !errors.Is(err, registry.ErrCredentialsPending) {
		t.Fatalf("err = %v, want ErrCredentialsPending", err)
	}
	e.clock.Add(time.Minute)
	_, err := e.r.Auth(ctx, image, ecrAuth(true), never)
	if !errors.Is(err, registry.ErrNoCredentials) || errors.Is(err, registry.ErrCredentialsPending) {
		t.Fatalf("after the wait: err = %v, want ErrNoCredentials", err)
	}
	// A retry, even one much later, gets the same verdict rather than a new wait.
	e.clock.Add(5 * time.Minute)
	if _, err := e.r.Auth(ctx, image, ecrAuth(true), never); !errors.Is(err, registry.ErrNoCredentials) {
		t.Fatalf("retry after the wait: err = %v, want ErrNoCredentials", err)
	}

	// Expired credentials count as missing; with no wait the pull fails at once.
	now := newEnv(t, registry.WithCredentialsWait(0))
	now.clock.Add(7 * time.Hour)
	if _, err := now.r.Auth(ctx, image, ecrAuth(true), taskARN); !errors.Is(err, registry.ErrNoCredentials) {
		t.Fatalf("expired credentials, no wait: err = %v, want ErrNoCredentials", err)
	}
	if _, err := now.r.Auth(ctx, image, &api.RegistryAuth{Type: registry.TypeASM, CredentialsParameter: "s", Region: region}, otherTask); !errors.Is(err, registry.ErrNoCredentials) {
		t.Fatalf("asm without credentials: err = %v, want ErrNoCredentials", err)
	}
}

func TestSecretsManager(t *testing.T) {
	ctx := context.Background()
	const arn = "arn:aws:secretsmanager:eu-central-1:111122223333:secret:registry-AbCdEf"
	e := newEnv(t)
	e.fake.SetSecret(arn, `{"username":"ecsd","password":"s3cr3t-pw"}`)

	a, err := e.r.Auth(ctx, image, &api.RegistryAuth{Type: registry.TypeASM, CredentialsParameter: arn}, taskARN)
	if err != nil {
		t.Fatalf("Auth: %v", err)
	}
	if *a != (runtime.Auth{Username: "ecsd", Password: "s3cr3t-pw"}) {
		t.Errorf("auth = %q, want the secret's", a.Username)
	}
	calls := e.fake.CallsTo(registrytest.TargetGetSecretValue)
	if len(calls) != 1 {
		t.Fatalf("%d GetSecretValue calls, want 1", len(calls))
	}
	if c := calls[0]; c.AccessKeyID != execKey || c.SecretID != arn || c.Service != "secretsmanager" || c.Region != "eu-central-1" {
		t.Errorf("call = %+v, want signed by the execution role in the secret's region", c)
	}

	for name, secret := range map[string]string{
		"not json":      `username=ecsd password=s3cr3t-pw`,
		"no password":   `{"username":"ecsd","pw":"s3cr3t-pw"}`,
		"wrong type":    `{"username":["s3cr3t-pw"],"password":"s3cr3t-pw"}`,
		"empty":         ``,
		"broken string": `{"username":"ecsd","password":"s3cr3t-pw`,
	} {
		t.Run(name, func(t *testing.T) {
			e.fake.SetSecret(arn, secret)
			_, err := e.r.Auth(ctx, image, &api.RegistryAuth{Type: registry.TypeASM, CredentialsParameter: arn, Region: region}, taskARN)
			if !errors.Is(err, registry.ErrSecret) {
				t.Fatalf("err = %v, want ErrSecret", err)
			}
			noSecrets(t, err)
		})
	}
	_, err = e.r.Auth(ctx, image, &api.RegistryAuth{Type: registry.TypeASM, CredentialsParameter: "missing", Region: region}, taskARN)
	if !errors.Is(err, registry.ErrSecret) || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("missing secret: err = %v, want ErrSecret naming the refusal", err)
	}
}

func TestEngineAuthAndTypes(t *testing.T) {
	m := map[string]runtime.Auth{
		"127.0.0.1:5001":              {Username: "local"},
		"https://registry.example":    {Username: "scheme"},
		"https://index.docker.io/v1/": {Username: "hub"},
	}
	for img, want := range map[string]string{
		"127.0.0.1:5001/ecsd/busybox:latest": "local",
		"registry.example/app:1":             "scheme",
		"busybox":                            "hub",
		"library/busybox:1":                  "hub",
		"docker.io/library/busybox":          "hub",
		"127.0.0.1:5000/ecsd/busybox":        "",
	} {
		got := registry.EngineAuth(m, img)
		if (got == nil) != (want == "") || (got != nil && got.Username != want) {
			t.Errorf("EngineAuth(%q) = %+v, want %q", img, got, want)
		}
	}

	r := registry.New(registry.WithEngineAuth(m))
	a, err := r.Auth(context.Background(), "busybox", nil, taskARN)
	if err != nil || a == nil || a.Username != "hub" {
		t.Errorf("Auth without registryAuthentication = %+v, %v; want the engine auth", a, err)
	}
	if _, err := r.Auth(context.Background(), "busybox", &api.RegistryAuth{Type: "ldap"}, taskARN); !errors.Is(err, registry.ErrUnsupported) {
		t.Errorf("unknown type: err = %v, want ErrUnsupported", err)
	}
}

// TestEndpointsFromSDKSettings: with WithAWS, ECR and Secrets Manager calls go where
// AWS_ENDPOINT_URL_ECR and AWS_ENDPOINT_URL_SECRETS_MANAGER say, with no ecsd-specific
// endpoint option.
func TestEndpointsFromSDKSettings(t *testing.T) {
	fake := registrytest.New(t)
	fake.AddKey(execKey, execSecret, execSession)
	fake.SetToken(registrytest.Token{Username: "AWS", Password: registryPassword,
		ProxyEndpoint: "https://127.0.0.1:5001", ExpiresAt: time.Now().Add(12 * time.Hour)})
	fake.SetSecret("arn:aws:secretsmanager:us-west-2:111122223333:secret:pull-AbCdEf", `{"username":"u","password":"s3cr3t-pw"}`)
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_ECR", fake.URL)
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", fake.URL)
	f, err := awsclient.New(context.Background(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewManager()
	if err := creds.Set(credentials.Entry{ID: "x", TaskARN: taskARN, RoleARN: "arn:aws:iam::111122223333:role/exec",
		RoleType: credentials.TaskExecution, AccessKeyID: execKey, SecretAccessKey: execSecret, SessionToken: execSession,
		Expiration: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	r := registry.New(registry.WithAWS(f), registry.WithCredentials(creds), registry.WithRegion(region))
	if _, err := r.Auth(context.Background(), image, ecrAuth(true), taskARN); err != nil {
		t.Fatalf("ECR: %v", err)
	}
	a, err := r.Auth(context.Background(), image, &api.RegistryAuth{Type: registry.TypeASM,
		CredentialsParameter: "arn:aws:secretsmanager:us-west-2:111122223333:secret:pull-AbCdEf"}, taskARN)
	if err != nil || a.Password != "s3cr3t-pw" {
		t.Fatalf("Secrets Manager: %v", err)
	}
	if n := len(fake.CallsTo(registrytest.TargetGetAuthorizationToken)); n != 1 {
		t.Errorf("%d GetAuthorizationToken calls reached the endpoint, want 1", n)
	}
}
