package localplane

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/internal/testutil"
)

// rawCall makes a signed ECS API call and returns the status, the error type ("" on
// success) and the body, for requests the SDK would refuse to send.
func (p *plane) rawCall(t *testing.T, op, body string) (int, string, []byte) {
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
	var e struct {
		Type string `json:"__type"`
	}
	if resp.StatusCode != http.StatusOK {
		_ = json.Unmarshal(data, &e)
	}
	return resp.StatusCode, e.Type, data
}

// apiCode is the ECS error code of err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// protectionTask registers a definition with a task role, runs one task of it on a
// connected instance of cluster and returns the task ARN and the role credentials the
// agent received for it.
func (p *plane) protectionTask(t *testing.T, cluster string) (string, *payload.IAMRoleCredentials) {
	t.Helper()
	instance := p.setup(t, cluster)
	if _, err := p.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String("web"),
		TaskRoleArn: aws.String("arn:aws:iam::000000000000:role/app"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("busybox"),
			Memory: aws.Int32(64)}},
	}); err != nil {
		t.Fatal(err)
	}
	a := p.connect(t, cluster, instance, false)
	task := p.runTask(t, cluster, "web")
	pt := a.payload().Tasks[0]
	if pt.Arn != task || pt.RoleCredentials == nil {
		t.Fatalf("payload task %s without role credentials", pt.Arn)
	}
	return task, pt.RoleCredentials
}

func TestTaskProtection(t *testing.T) {
	// The plane verifies SigV4 signatures, made with the real clock, against this one, so it
	// starts at real time rather than testutil.Epoch and only moves by minutes (within
	// sigv4.MaxSkew).
	clock := testutil.Clock()
	clock.SetTime(time.Now())
	path := filepath.Join(t.TempDir(), "state.json")
	opts := Options{StatePath: path, Now: clock.Now, HeartbeatInterval: time.Hour, ManifestInterval: time.Hour}
	p := newPlane(t, opts)
	ctx := context.Background()
	task, _ := p.protectionTask(t, "prod")
	missing := "arn:aws:ecs:local:000000000000:task/prod/0123456789abcdef0123456789abcdef"

	get := func(p *plane, tasks ...string) *ecs.GetTaskProtectionOutput {
		t.Helper()
		out, err := p.ecs.GetTaskProtection(ctx, &ecs.GetTaskProtectionInput{Cluster: aws.String("prod"), Tasks: tasks})
		if err != nil {
			t.Fatalf("GetTaskProtection: %v", err)
		}
		return out
	}

	// A new task is not protected.
	out := get(p, task)
	if len(out.ProtectedTasks) != 1 || out.ProtectedTasks[0].ProtectionEnabled || out.ProtectedTasks[0].ExpirationDate != nil ||
		aws.ToString(out.ProtectedTasks[0].TaskArn) != task || len(out.Failures) != 0 {
		t.Fatalf("initial protection %+v failures %v", out.ProtectedTasks, failures(out.Failures))
	}

	// Enabling without a duration protects for 120 minutes; an unknown task is a MISSING
	// failure, the known one is still updated.
	up, err := p.ecs.UpdateTaskProtection(ctx, &ecs.UpdateTaskProtectionInput{Cluster: aws.String("prod"),
		Tasks: []string{lastSegment(task), missing}, ProtectionEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	want := clock.Now().Add(120 * time.Minute)
	if len(up.ProtectedTasks) != 1 || !up.ProtectedTasks[0].ProtectionEnabled || aws.ToString(up.ProtectedTasks[0].TaskArn) != task ||
		!near(up.ProtectedTasks[0].ExpirationDate, want) {
		t.Fatalf("UpdateTaskProtection = %+v, want protected until %s", up.ProtectedTasks, want)
	}
	if len(up.Failures) != 1 || aws.ToString(up.Failures[0].Arn) != missing || aws.ToString(up.Failures[0].Reason) != "MISSING" {
		t.Fatalf("failures %v, want %s MISSING", failures(up.Failures), missing)
	}

	// The protection is part of the persisted task state.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p.http.Close()
	p = newPlane(t, opts)
	if pt := get(p, task).ProtectedTasks; len(pt) != 1 || !pt[0].ProtectionEnabled || !near(pt[0].ExpirationDate, want) {
		t.Fatalf("protection after restart %+v", pt)
	}

	// A custom duration replaces the expiration; once it has passed the task reads as
	// unprotected.
	up, err = p.ecs.UpdateTaskProtection(ctx, &ecs.UpdateTaskProtectionInput{Cluster: aws.String("prod"),
		Tasks: []string{task}, ProtectionEnabled: true, ExpiresInMinutes: aws.Int32(1)})
	if err != nil || len(up.ProtectedTasks) != 1 || !near(up.ProtectedTasks[0].ExpirationDate, clock.Now().Add(time.Minute)) {
		t.Fatalf("UpdateTaskProtection for 1 minute: %+v %v", up, err)
	}
	clock.Step(61 * time.Second)
	if pt := get(p, task).ProtectedTasks; len(pt) != 1 || pt[0].ProtectionEnabled || pt[0].ExpirationDate != nil {
		t.Fatalf("protection after expiry %+v", pt)
	}

	// Disabling clears it.
	if _, err := p.ecs.UpdateTaskProtection(ctx, &ecs.UpdateTaskProtectionInput{Cluster: aws.String("prod"),
		Tasks: []string{task}, ProtectionEnabled: true}); err != nil {
		t.Fatal(err)
	}
	up, err = p.ecs.UpdateTaskProtection(ctx, &ecs.UpdateTaskProtectionInput{Cluster: aws.String("prod"),
		Tasks: []string{task}, ProtectionEnabled: false})
	if err != nil || len(up.ProtectedTasks) != 1 || up.ProtectedTasks[0].ProtectionEnabled || up.ProtectedTasks[0].ExpirationDate != nil {
		t.Fatalf("disable: %+v %v", up, err)
	}
	if out := get(p, task, missing); len(out.ProtectedTasks) != 1 || out.ProtectedTasks[0].ProtectionEnabled ||
		len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "MISSING" {
		t.Fatalf("after disable %+v failures %v", out.ProtectedTasks, failures(out.Failures))
	}
}

// near reports whether got is within a millisecond of want (the wire carries milliseconds).
func near(got *time.Time, want time.Time) bool {
	if got == nil {
		return false
	}
	d := got.Sub(want)
	return d < time.Millisecond && d > -time.Millisecond
}

func TestTaskProtectionValidation(t *testing.T) {
	p := newPlane(t, Options{HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
	task, _ := p.protectionTask(t, "prod")
	eleven := `["` + strings.Repeat(`a","`, 10) + `a"]`
	for _, tc := range []struct {
		name, op, body, code string
	}{
		{"no protectionEnabled", opUpdateTaskProtection, `{"cluster":"prod","tasks":["` + task + `"]}`, "InvalidParameterException"},
		{"protectionEnabled not a bool", opUpdateTaskProtection, `{"cluster":"prod","tasks":["` + task + `"],"protectionEnabled":"yes"}`, "SerializationException"},
		{"no tasks", opUpdateTaskProtection, `{"cluster":"prod","protectionEnabled":true}`, "InvalidParameterException"},
		{"eleven tasks", opUpdateTaskProtection, `{"cluster":"prod","protectionEnabled":true,"tasks":` + eleven + `}`, "InvalidParameterException"},
		{"zero minutes", opUpdateTaskProtection, `{"cluster":"prod","tasks":["` + task + `"],"protectionEnabled":true,"expiresInMinutes":0}`, "InvalidParameterException"},
		{"over 48 hours", opUpdateTaskProtection, `{"cluster":"prod","tasks":["` + task + `"],"protectionEnabled":true,"expiresInMinutes":2881}`, "InvalidParameterException"},
		{"unknown cluster", opUpdateTaskProtection, `{"cluster":"nope","tasks":["` + task + `"],"protectionEnabled":true}`, "ClusterNotFoundException"},
		{"get without tasks", opGetTaskProtection, `{"cluster":"prod"}`, "InvalidParameterException"},
		{"get unknown cluster", opGetTaskProtection, `{"cluster":"nope","tasks":["` + task + `"]}`, "ClusterNotFoundException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, code, body := p.rawCall(t, tc.op, tc.body)
			if status != http.StatusBadRequest || code != tc.code {
				t.Fatalf("HTTP %d %s, want 400 %s", status, body, tc.code)
			}
		})
	}
	// None of the refused calls protected the task; 2880 minutes is allowed.
	var got taskProtectionResponse
	p.call(t, opGetTaskProtection, `{"cluster":"prod","tasks":["`+task+`"]}`, &got)
	if len(got.ProtectedTasks) != 1 || got.ProtectedTasks[0].ProtectionEnabled {
		t.Fatalf("after refused updates: %+v", got)
	}
	p.call(t, opUpdateTaskProtection, `{"cluster":"prod","tasks":["`+task+`"],"protectionEnabled":true,"expiresInMinutes":2880}`, &got)
	if len(got.ProtectedTasks) != 1 || !got.ProtectedTasks[0].ProtectionEnabled {
		t.Fatalf("48 hours: %+v", got)
	}
	// The wire keys are the model's.
	_, _, raw := p.rawCall(t, opGetTaskProtection, `{"cluster":"prod","tasks":["`+task+`"]}`)
	for _, key := range []string{`"protectedTasks":[{`, `"taskArn":"` + task + `"`, `"protectionEnabled":true`, `"expirationDate":`, `"failures":[]`} {
		if !strings.Contains(string(raw), key) {
			t.Errorf("response %s lacks %s", raw, key)
		}
	}
}

// TestTaskProtectionByTaskRole: a task's role credentials sign the protection calls for
// that task only, and nothing else.
func TestTaskProtectionByTaskRole(t *testing.T) {
	for _, tc := range []struct {
		name  string
		creds map[string]string
	}{
		{"authenticated", nil}, // newPlane's instance key
		{"unauthenticated", map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPlane(t, Options{Credentials: tc.creds, HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
			ctx := context.Background()
			task, rc := p.protectionTask(t, "prod")
			other := p.runTask(t, "prod", "web")
			asTask := taskClient(p.http.URL, rc.AccessKeyID, rc.SecretAccessKey, rc.SessionToken)

			up, err := asTask.UpdateTaskProtection(ctx, &ecs.UpdateTaskProtectionInput{Cluster: aws.String("prod"),
				Tasks: []string{task}, ProtectionEnabled: true, ExpiresInMinutes: aws.Int32(30)})
			if err != nil || len(up.ProtectedTasks) != 1 || !up.ProtectedTasks[0].ProtectionEnabled {
				t.Fatalf("own task: %+v %v", up, err)
			}
			if _, err := asTask.GetTaskProtection(ctx, &ecs.GetTaskProtectionInput{Cluster: aws.String("prod"), Tasks: []string{task}}); err != nil {
				t.Fatalf("get own task: %v", err)
			}
			for name, call := range map[string]func() error{
				"another task": func() error {
					_, err := asTask.UpdateTaskProtection(ctx, &ecs.UpdateTaskProtectionInput{Cluster: aws.String("prod"),
						Tasks: []string{task, other}, ProtectionEnabled: true})
					return err
				},
				"an unknown task": func() error {
					_, err := asTask.GetTaskProtection(ctx, &ecs.GetTaskProtectionInput{Cluster: aws.String("prod"),
						Tasks: []string{"0123456789abcdef0123456789abcdef"}})
					return err
				},
				"another operation": func() error {
					_, err := asTask.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("prod"), Task: aws.String(task)})
					return err
				},
			} {
				if code := apiCode(call()); code != "AccessDeniedException" {
					t.Errorf("%s: error code %q, want AccessDeniedException", name, code)
				}
			}
			if got := p.describeTask(t, task); aws.ToString(got.DesiredStatus) != "RUNNING" {
				t.Fatalf("a refused StopTask stopped the task: %s", aws.ToString(got.DesiredStatus))
			}
			var gp taskProtectionResponse
			p.call(t, opGetTaskProtection, `{"cluster":"prod","tasks":["`+other+`"]}`, &gp)
			if len(gp.ProtectedTasks) != 1 || gp.ProtectedTasks[0].ProtectionEnabled {
				t.Fatalf("a refused update protected the other task: %+v", gp)
			}

			// The session token belongs to the keys.
			for name, token := range map[string]string{"wrong": rc.SessionToken + "x", "absent": ""} {
				c := taskClient(p.http.URL, rc.AccessKeyID, rc.SecretAccessKey, token)
				_, err := c.GetTaskProtection(ctx, &ecs.GetTaskProtectionInput{Cluster: aws.String("prod"), Tasks: []string{task}})
				if code := apiCode(err); code != "UnrecognizedClientException" {
					t.Errorf("%s session token: error code %q, want UnrecognizedClientException", name, code)
				}
			}
			// And so does the secret.
			c := taskClient(p.http.URL, rc.AccessKeyID, "not-the-secret", rc.SessionToken)
			_, err = c.GetTaskProtection(ctx, &ecs.GetTaskProtectionInput{Cluster: aws.String("prod"), Tasks: []string{task}})
			if code := apiCode(err); code != "InvalidSignatureException" {
				t.Errorf("wrong secret: error code %q, want InvalidSignatureException", code)
			}
		})
	}
}

// taskClient is an ECS client signing with temporary (task role) credentials.
func taskClient(url, key, secret, token string) *ecs.Client {
	return ecs.New(ecs.Options{
		Region:       DefaultRegion,
		BaseEndpoint: aws.String(url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret, SessionToken: token, Source: "test"}, nil
		}),
		RetryMaxAttempts: 1,
	})
}
