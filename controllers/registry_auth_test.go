//go:build integration

package controllers

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/registry"
	"github.com/ecsd/ecsd/runtime/registry/registrytest"
)

const (
	testExecKey     = "ASIAEXECUTIONROLE"
	testExecSecret  = "exec-secret-access-key"
	testExecSession = "exec-session-token"
	testSecretARN   = "arn:aws:secretsmanager:us-west-2:111122223333:secret:registry-AbCdEf"
)

// authEnv is a fake ECR and Secrets Manager that hand out the credentials of the test
// registry on 127.0.0.1:5001, and the credentials manager ACS would fill.
type authEnv struct {
	fake  *registrytest.AWS
	creds *credentials.Manager
}

func newAuthEnv(t *testing.T) *authEnv {
	t.Helper()
	// Everything talks to 127.0.0.1 with static credentials; never to the instance
	// metadata service.
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	testenv.RequireRegistries(t)
	a := &authEnv{fake: registrytest.New(t), creds: credentials.NewManager()}
	a.fake.AddKey(testExecKey, testExecSecret, testExecSession)
	a.fake.SetToken(registrytest.Token{
		Username: testenv.AuthUser(), Password: testenv.AuthPassword(),
		ProxyEndpoint: "https://" + testenv.AuthRegistry(), ExpiresAt: time.Now().Add(12 * time.Hour),
	})
	a.fake.SetSecret(testSecretARN, `{"username":"`+testenv.AuthUser()+`","password":"`+testenv.AuthPassword()+`"}`)
	return a
}

func (a *authEnv) resolver(opts ...registry.Option) *registry.Resolver {
	return registry.New(append([]registry.Option{
		registry.WithCredentials(a.creds),
		registry.WithECREndpoint(a.fake.URL),
		registry.WithSecretsManagerEndpoint(a.fake.URL),
	}, opts...)...)
}

// giveExecutionRole stores execution role credentials (access key key, secret
// testExecSecret) for task, as a payload from ACS does.
func (a *authEnv) giveExecutionRole(t *testing.T, task *api.Task, key string) {
	t.Helper()
	err := a.creds.Set(credentials.Entry{
		ID: "creds-" + task.Name, TaskARN: task.Spec.ARN, RoleARN: "arn:aws:iam::111122223333:role/exec",
		RoleType: credentials.TaskExecution, AccessKeyID: key, SecretAccessKey: testExecSecret, SessionToken: testExecSession,
		Expiration: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
}

// authTask is a one-container task pulling the test image from the registry that needs
// credentials, authenticating as ra says.
func authTask(id string, ra *api.RegistryAuth) (*api.Task, []*api.Container) {
	spec := sh("app", serviceCmd)
	spec.Image = testenv.AuthBusyboxImage()
	spec.RegistryAuth = ra
	return newTask(id, spec)
}

func ecrRegistryAuth() *api.RegistryAuth {
	return &api.RegistryAuth{Type: registry.TypeECR, Region: "us-west-2", RegistryID: "111122223333", UseExecutionRole: true}
}

func TestPullWithECRToken(t *testing.T) {
	a := newAuthEnv(t)
	h := newHarness(t, func(s *Options, d *Deps) { s.Pull.Behavior = PullAlways; d.Auth = a.resolver() })
	task, cs := authTask("ecr", ecrRegistryAuth())
	a.giveExecutionRole(t, task, testExecKey)
	h.run(task, cs)
	h.waitTask("ecr", time.Minute, "RUNNING", known(api.TaskStatusRunning))

	calls := a.fake.CallsTo(registrytest.TargetGetAuthorizationToken)
	if len(calls) != 1 {
		t.Fatalf("%d GetAuthorizationToken calls, want 1", len(calls))
	}
	if c := calls[0]; c.AccessKeyID != testExecKey || c.SessionToken != testExecSession || c.Region != "us-west-2" || c.Error != "" {
		t.Fatalf("GetAuthorizationToken %+v, want it signed with the execution role's key in us-west-2", c)
	}
}

func TestPullWithECRTokenRefused(t *testing.T) {
	a := newAuthEnv(t)
	h := newHarness(t, func(s *Options, d *Deps) { d.Auth = a.resolver() })
	task, cs := authTask("ecrdenied", ecrRegistryAuth())
	a.giveExecutionRole(t, task, "ASIAUNKNOWNKEY")
	h.run(task, cs)
	got := h.waitTask("ecrdenied", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	reason := h.container("ecrdenied", "app").Status.Reason
	if !strings.HasPrefix(got.Status.StoppedReason, ReasonPullECR+":") || !strings.HasPrefix(reason, ReasonPullECR+":") {
		t.Fatalf("reasons task %q container %q, want %s", got.Status.StoppedReason, reason, ReasonPullECR)
	}
	if !strings.Contains(reason, "UnrecognizedClientException") {
		t.Errorf("reason %q does not say what ECR answered", reason)
	}
	for _, secret := range []string{testExecSecret, testExecSession, testenv.AuthPassword()} {
		if strings.Contains(reason, secret) {
			t.Errorf("reason %q leaks a secret", reason)
		}
	}
}

func TestPullWithSecretsManagerCredentials(t *testing.T) {
	a := newAuthEnv(t)
	h := newHarness(t, func(s *Options, d *Deps) { s.Pull.Behavior = PullAlways; d.Auth = a.resolver() })
	asm := &api.RegistryAuth{Type: registry.TypeASM, CredentialsParameter: testSecretARN, Region: "us-west-2"}
	task, cs := authTask("asm", asm)
	a.giveExecutionRole(t, task, testExecKey)
	h.run(task, cs)
	h.waitTask("asm", time.Minute, "RUNNING", known(api.TaskStatusRunning))
	if calls := a.fake.CallsTo(registrytest.TargetGetSecretValue); len(calls) != 1 || calls[0].AccessKeyID != testExecKey {
		t.Fatalf("GetSecretValue calls %+v, want one signed with the execution role's key", calls)
	}

	// A secret that is not {"username","password"} stops the task without quoting it.
	a.fake.SetSecret(testSecretARN, `{"user":"`+testenv.AuthUser()+`","pass":"`+testenv.AuthPassword()+`"}`)
	task, cs = authTask("asmbad", asm)
	a.giveExecutionRole(t, task, testExecKey)
	h.run(task, cs)
	got := h.waitTask("asmbad", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	if !strings.HasPrefix(got.Status.StoppedReason, ReasonPull+":") || strings.Contains(got.Status.StoppedReason, testenv.AuthPassword()) {
		t.Fatalf("reason = %q, want %s without the secret", got.Status.StoppedReason, ReasonPull)
	}
}

// pendingProbe counts the resolver's "credentials not there yet" answers.
type pendingProbe struct {
	AuthResolver
	pending atomic.Int32
}

func (p *pendingProbe) Auth(ctx context.Context, image string, ra *api.RegistryAuth, taskARN string) (*runtime.Auth, error) {
	a, err := p.AuthResolver.Auth(ctx, image, ra, taskARN)
	if errors.Is(err, registry.ErrCredentialsPending) {
		p.pending.Add(1)
	}
	return a, err
}

func TestPullWaitsForExecutionRoleCredentials(t *testing.T) {
	a := newAuthEnv(t)
	probe := &pendingProbe{AuthResolver: a.resolver(registry.WithCredentialsWait(time.Minute))}
	h := newHarness(t, func(s *Options, d *Deps) { d.Auth = probe })
	task, cs := authTask("late", ecrRegistryAuth())
	h.run(task, cs)
	h.waitContainer("late", "app", 30*time.Second, "a pull waiting for credentials", func(*api.Container) bool {
		return probe.pending.Load() > 0
	})
	if c := h.container("late", "app"); c.Status.KnownStatus.OrNone() != api.ContainerStatusNone || c.Status.Reason != "" {
		t.Fatalf("container moved on without credentials: %+v", c.Status)
	}
	a.giveExecutionRole(t, task, testExecKey)
	h.waitTask("late", time.Minute, "RUNNING", known(api.TaskStatusRunning))
}

func TestPullFailsWithoutExecutionRoleCredentials(t *testing.T) {
	a := newAuthEnv(t)
	h := newHarness(t, func(s *Options, d *Deps) {
		d.Auth = a.resolver(registry.WithCredentialsWait(200 * time.Millisecond))
	})
	task, cs := authTask("nocreds", ecrRegistryAuth())
	h.run(task, cs)
	got := h.waitTask("nocreds", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	if !strings.HasPrefix(got.Status.StoppedReason, ReasonPullECR+":") || !strings.Contains(got.Status.StoppedReason, "execution role credentials") {
		t.Fatalf("reason = %q, want %s about the missing execution role credentials", got.Status.StoppedReason, ReasonPullECR)
	}
	if n := len(a.fake.Calls()); n != 0 {
		t.Fatalf("%d calls to AWS without credentials", n)
	}
}
