package secrets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/credentials"
)

const taskARN = "arn:aws:ecs:us-east-1:111122223333:task/c/0123456789abcdef"

// fakeAWS is SSM and Secrets Manager in memory, recording every call's region and input.
type fakeAWS struct {
	mu      sync.Mutex
	params  map[string]string // region + "\x00" + name → value
	secrets map[string]string // secret ARN (+ ":" + stage) → value
	calls   []string
	keys    []string
}

func (f *fakeAWS) ssm(cfg aws.Config) SSMClient { return &fakeSSM{f, cfg} }
func (f *fakeAWS) asm(cfg aws.Config) SecretsManagerClient {
	return &fakeASM{f, cfg}
}

type fakeSSM struct {
	f   *fakeAWS
	cfg aws.Config
}

func (c *fakeSSM) GetParameters(ctx context.Context, in *ssm.GetParametersInput, _ ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	creds, _ := c.cfg.Credentials.Retrieve(ctx)
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.calls = append(c.f.calls, fmt.Sprintf("ssm %s %d decrypt=%v", c.cfg.Region, len(in.Names), aws.ToBool(in.WithDecryption)))
	c.f.keys = append(c.f.keys, creds.AccessKeyID)
	out := &ssm.GetParametersOutput{}
	for _, n := range in.Names {
		name := n
		if _, res, ok := strings.Cut(n, ":parameter"); ok {
			name = res // SSM answers an ARN with the parameter's name
		}
		v, ok := c.f.params[c.cfg.Region+"\x00"+name]
		if !ok {
			out.InvalidParameters = append(out.InvalidParameters, n)
			continue
		}
		out.Parameters = append(out.Parameters, ssmtypes.Parameter{Name: aws.String(name), Value: aws.String(v)})
	}
	return out, nil
}

type fakeASM struct {
	f   *fakeAWS
	cfg aws.Config
}

func (c *fakeASM) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.calls = append(c.f.calls, fmt.Sprintf("asm %s %s stage=%s id=%s", c.cfg.Region, aws.ToString(in.SecretId), aws.ToString(in.VersionStage), aws.ToString(in.VersionId)))
	key := aws.ToString(in.SecretId)
	if in.VersionStage != nil {
		key += ":" + *in.VersionStage
	}
	v, ok := c.f.secrets[key]
	if !ok {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

type staticCreds struct{ have bool }

func (s *staticCreds) ForTask(task string, role credentials.RoleType) (credentials.Entry, bool) {
	if !s.have || role != credentials.TaskExecution {
		return credentials.Entry{}, false
	}
	return credentials.Entry{AccessKeyID: "EXECKEY", SecretAccessKey: "execsecret", Expiration: time.Now().Add(time.Hour)}, true
}

func newResolver(f *fakeAWS, creds CredentialsSource) *Resolver {
	return New(Options{Credentials: creds, Region: "us-east-1", NewSSM: f.ssm, NewSecretsManager: f.asm, CredentialsWait: -1})
}

const dbSecret = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf"

func TestSSMAndSecretsManager(t *testing.T) {
	f := &fakeAWS{
		params: map[string]string{
			"us-east-1\x00/app/token": "tok-value",
			"eu-west-1\x00/eu/p":      "eu-value",
			"us-east-1\x00/logs/key":  "log-key-value",
		},
		secrets: map[string]string{
			dbSecret:                  `{"username":"admin","password":"pw-value","port":5432}`,
			dbSecret + ":AWSPREVIOUS": `{"password":"old-pw"}`,
		},
	}
	r := newResolver(f, &staticCreds{have: true})
	refs := map[string][]api.SecretRef{
		"app": {
			{Name: "TOKEN", ValueFrom: "/app/token", Provider: "ssm", Target: "CONTAINER"},
			{Name: "EU", ValueFrom: "arn:aws:ssm:eu-west-1:111122223333:parameter/eu/p", Provider: "ssm", Target: "CONTAINER"},
			{Name: "DB_PASSWORD", ValueFrom: dbSecret + ":password::", Provider: "asm", Target: "CONTAINER"},
			{Name: "DB_PORT", ValueFrom: dbSecret + ":port::", Provider: "asm", Target: "CONTAINER"},
			{Name: "OLD", ValueFrom: dbSecret + ":password:AWSPREVIOUS:", Provider: "asm", Target: "CONTAINER"},
			{Name: "WHOLE", ValueFrom: dbSecret, Provider: "asm", Target: "CONTAINER"},
			{Name: "apikey", ValueFrom: "/logs/key", Provider: "ssm", Target: "LOG_DRIVER"},
		},
		"side": {{Name: "TOKEN2", ValueFrom: "/app/token", Provider: "ssm", Target: "CONTAINER"}},
	}
	env, err := r.ContainerEnv(context.Background(), taskARN, refs, "app")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"TOKEN": "tok-value", "EU": "eu-value", "DB_PASSWORD": "pw-value", "DB_PORT": "5432",
		"OLD": "old-pw", "WHOLE": `{"username":"admin","password":"pw-value","port":5432}`}
	if fmt.Sprint(env) != fmt.Sprint(want) {
		t.Errorf("env %v\nwant %v", env, want)
	}
	side, _ := r.ContainerEnv(context.Background(), taskARN, refs, "side")
	if side["TOKEN2"] != "tok-value" || len(side) != 1 {
		t.Errorf("side env %v", side)
	}
	logs, err := r.LogDriverSecrets(context.Background(), taskARN, "app")
	if err != nil || logs["apikey"] != "log-key-value" || len(logs) != 1 {
		t.Errorf("log driver secrets %v %v", logs, err)
	}
	// One read for the whole task: the second container did not call AWS again.
	ssmCalls := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, "ssm ") {
			ssmCalls++
			if !strings.HasSuffix(c, "decrypt=true") {
				t.Errorf("call %q without decryption", c)
			}
		}
	}
	if ssmCalls != 2 {
		t.Errorf("calls %q: want one GetParameters per region", f.calls)
	}
	for _, k := range f.keys {
		if k != "EXECKEY" {
			t.Errorf("signed with %q, want the execution role", k)
		}
	}
	if !containsCall(f.calls, "asm us-east-1 "+dbSecret+" stage=AWSPREVIOUS id=") {
		t.Errorf("calls %q: the version stage was not passed", f.calls)
	}
	r.Forget(taskARN)
	if _, err := r.LogDriverSecrets(context.Background(), taskARN, "app"); !errors.Is(err, ErrNotResolved) {
		t.Errorf("after Forget: %v", err)
	}
}

func containsCall(calls []string, want string) bool {
	for _, c := range calls {
		if c == want {
			return true
		}
	}
	return false
}

// TestSSMBatches: 25 parameters in one region are read in calls of at most 10 names.
func TestSSMBatches(t *testing.T) {
	f := &fakeAWS{params: map[string]string{}}
	var refs []api.SecretRef
	for i := range 25 {
		name := fmt.Sprintf("/p/%02d", i)
		f.params["us-east-1\x00"+name] = "v" + name
		refs = append(refs, api.SecretRef{Name: fmt.Sprintf("P%02d", i), ValueFrom: name, Provider: "ssm", Target: "CONTAINER"})
	}
	env, err := newResolver(f, &staticCreds{have: true}).ContainerEnv(context.Background(), taskARN, map[string][]api.SecretRef{"c": refs}, "c")
	if err != nil || len(env) != 25 || env["P24"] != "v/p/24" {
		t.Fatalf("env %v err %v", env, err)
	}
	if want := []string{"ssm us-east-1 10 decrypt=true", "ssm us-east-1 10 decrypt=true", "ssm us-east-1 5 decrypt=true"}; fmt.Sprint(f.calls) != fmt.Sprint(want) {
		t.Fatalf("calls %q, want %q", f.calls, want)
	}
}

// TestReasons: what an unreadable secret stops the task with, in the reference agent's
// words, and never a secret value.
func TestReasons(t *testing.T) {
	f := &fakeAWS{
		params:  map[string]string{"us-east-1\x00/ok": "ok-value"},
		secrets: map[string]string{dbSecret: `{"password":"pw-value"}`, dbSecret + "x": "plain-value"},
	}
	for _, tc := range []struct {
		name string
		ref  api.SecretRef
		want string
	}{
		{"missing parameter", api.SecretRef{ValueFrom: "/missing", Provider: "ssm"},
			"fetching secret data from SSM Parameter Store in us-east-1: invalid parameters: /missing"},
		{"wrong secret arn", api.SecretRef{ValueFrom: dbSecret + "-wrong", Provider: "asm"},
			"fetching secret data from AWS Secrets Manager in region us-east-1: ResourceInitializationError: The task can't retrieve the secret with ARN '" + dbSecret + "-wrong' from AWS Secrets Manager. Check that the secret ARN is correct: "},
		{"missing json key", api.SecretRef{ValueFrom: dbSecret + ":user::", Provider: "asm"},
			"fetching secret data from AWS Secrets Manager in region us-east-1: retrieved secret from Secrets Manager did not contain json key user"},
		{"not json", api.SecretRef{ValueFrom: dbSecret + "x:user::", Provider: "asm"},
			"is not a JSON object"},
		{"not an arn", api.SecretRef{ValueFrom: "arn:aws:secretsmanager:us-east-1:1:parameter:x", Provider: "asm"},
			"is not a Secrets Manager secret ARN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.ref.Name, tc.ref.Target = "X", "CONTAINER"
			refs := map[string][]api.SecretRef{"c": {{Name: "OK", ValueFrom: "/ok", Provider: "ssm", Target: "CONTAINER"}, tc.ref}}
			_, err := newResolver(f, &staticCreds{have: true}).ContainerEnv(context.Background(), taskARN, refs, "c")
			if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v\nwant ErrUnreadable containing %q", err, tc.want)
			}
			for _, v := range []string{"ok-value", "pw-value", "plain-value"} {
				if strings.Contains(err.Error(), v) {
					t.Fatalf("the reason %q carries a secret value", err)
				}
			}
		})
	}
}

// TestCredentialsWait: missing execution role credentials are waited for, then fail with
// the reference agent's reason.
func TestCredentialsWait(t *testing.T) {
	f := &fakeAWS{params: map[string]string{"us-east-1\x00/p": "v"}}
	now := time.Unix(1000, 0)
	creds := &staticCreds{}
	r := New(Options{Credentials: creds, Region: "us-east-1", NewSSM: f.ssm, NewSecretsManager: f.asm,
		CredentialsWait: time.Minute, Now: func() time.Time { return now }})
	refs := map[string][]api.SecretRef{"c": {{Name: "P", ValueFrom: "/p", Provider: "ssm", Target: "CONTAINER"}}}
	if _, err := r.ContainerEnv(context.Background(), taskARN, refs, "c"); !errors.Is(err, ErrCredentialsPending) {
		t.Fatalf("without credentials: %v, want ErrCredentialsPending", err)
	}
	now = now.Add(2 * time.Minute)
	_, err := r.ContainerEnv(context.Background(), taskARN, refs, "c")
	if !errors.Is(err, ErrUnreadable) || err.Error() != "ssm secret resource: unable to find execution role credentials" {
		t.Fatalf("after the wait: %v", err)
	}
	creds.have = true
	r.Forget(taskARN)
	if env, err := r.ContainerEnv(context.Background(), taskARN, refs, "c"); err != nil || env["P"] != "v" {
		t.Fatalf("with credentials: %v %v", env, err)
	}
}

func TestParseASMRef(t *testing.T) {
	for in, want := range map[string]asmRef{
		dbSecret:                   {secretID: dbSecret},
		dbSecret + ":k::":          {secretID: dbSecret, jsonKey: "k"},
		dbSecret + "::AWSCURRENT:": {secretID: dbSecret, versionStage: "AWSCURRENT"},
		dbSecret + "::::":          {}, // too many parts
		dbSecret + ":k:s:id":       {secretID: dbSecret, jsonKey: "k", versionStage: "s", versionID: "id"},
		"db-password":              {},
	} {
		got, err := parseASMRef(in)
		if (want == asmRef{}) != (err != nil) || got != want {
			t.Errorf("parseASMRef(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
}

// nameOnlySSM refuses ARNs in GetParameters, as moto does; the names it knows answer.
type nameOnlySSM struct {
	params map[string]string
	calls  int
}

func (c *nameOnlySSM) GetParameters(_ context.Context, in *ssm.GetParametersInput, _ ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	c.calls++
	out := &ssm.GetParametersOutput{}
	for _, n := range in.Names {
		if v, ok := c.params[n]; ok {
			out.Parameters = append(out.Parameters, ssmtypes.Parameter{Name: aws.String(n), Value: aws.String(v)})
		} else {
			out.InvalidParameters = append(out.InvalidParameters, n)
		}
	}
	return out, nil
}

func TestSSMByARNOnEndpointsThatTakeNamesOnly(t *testing.T) {
	c := &nameOnlySSM{params: map[string]string{"/prod/db": "v1", "plain": "v2"}}
	arn := "arn:aws:ssm:us-east-1:111122223333:parameter"
	got, err := getParameters(context.Background(), c, []string{arn + "/prod/db", arn + "/plain", "plain"})
	if err != nil || got[arn+"/prod/db"] != "v1" || got[arn+"/plain"] != "v2" || got["plain"] != "v2" || c.calls != 2 {
		t.Fatalf("got %v, %v after %d calls; want both ARNs answered by name in a second call", got, err, c.calls)
	}
	_, err = getParameters(context.Background(), c, []string{arn + "/prod/missing"})
	var invalid invalidParametersError
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), arn+"/prod/missing") {
		t.Fatalf("a missing parameter: %v, want invalid parameters naming the ARN asked for", err)
	}
}
