package agentapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/server/agentapi"
)

// TestRoundTrip drives the endpoint against a real local control plane that checks the
// signature and only lets a task's role credentials touch that task's protection.
func TestRoundTrip(t *testing.T) {
	p := startPlane(t)
	task, rc := p.runTask(t)
	creds := credentials.NewManager()
	if err := creds.Set(roleEntry(task, rc)); err != nil {
		t.Fatal(err)
	}
	// "stranger" has the task's credentials but claims another task: the control plane
	// refuses, and its error must reach the caller as it was.
	stranger := "arn:aws:ecs:local:000000000000:task/prod/0123456789abcdef0123456789abcdef"
	if err := creds.Set(credentials.Entry{ID: "stranger-creds", TaskARN: stranger, RoleType: credentials.TaskApplication,
		AccessKeyID: rc.AccessKeyID, SecretAccessKey: rc.SecretAccessKey, SessionToken: rc.SessionToken}); err != nil {
		t.Fatal(err)
	}
	base := serve(t, agentapi.Options{
		Reader:      store(t, []taskObj{{task, rc.CredentialsID, "ep-task"}, {stranger, "stranger-creds", "ep-stranger"}}),
		Credentials: creds, Cluster: cluster, Region: region, Endpoint: p.url,
	})
	state := base + fmt.Sprintf(statePath, "ep-task")

	// Not protected yet.
	r := request(t, http.MethodGet, state, "")
	if r.status != http.StatusOK || r.field("protection", "ProtectionEnabled") != false ||
		r.field("protection", "TaskArn") != task || !hasNull(r, "protection", "ExpirationDate") {
		t.Fatalf("initial GET: HTTP %d %s", r.status, r.body)
	}

	before := time.Now()
	r = request(t, http.MethodPut, state, `{"ProtectionEnabled":true,"ExpiresInMinutes":60}`)
	after := time.Now()
	exp := checkProtected(t, r, task, before.Add(time.Hour), after.Add(time.Hour))
	if len(r.json) != 1 {
		t.Fatalf("PUT: extra keys in %s", r.body)
	}

	// GET reports the same, and so does ECS itself.
	r = request(t, http.MethodGet, state, "")
	if got := checkProtected(t, r, task, before.Add(time.Hour), after.Add(time.Hour)); !got.Equal(exp) {
		t.Fatalf("GET expiration %s, PUT said %s", got, exp)
	}
	out, err := p.ecs.GetTaskProtection(context.Background(), &ecs.GetTaskProtectionInput{Cluster: aws.String(cluster), Tasks: []string{task}})
	if err != nil || len(out.ProtectedTasks) != 1 || !out.ProtectedTasks[0].ProtectionEnabled {
		t.Fatalf("control plane protection: %+v %v", out, err)
	}

	// An ECS error keeps its status, code and message, with the request ID.
	r = request(t, http.MethodPut, state, `{"ProtectionEnabled":true,"ExpiresInMinutes":5000}`)
	if r.status != http.StatusBadRequest || r.field("error", "Code") != "InvalidParameterException" ||
		r.field("error", "Arn") != task || r.field("requestID") == nil || r.field("requestID") == "" {
		t.Fatalf("ECS validation error: HTTP %d %s", r.status, r.body)
	}
	r = request(t, http.MethodGet, base+fmt.Sprintf(statePath, "ep-stranger"), "")
	if r.status != http.StatusBadRequest || r.field("error", "Code") != "AccessDeniedException" ||
		r.field("error", "Arn") != stranger || r.field("requestID") == nil ||
		!strings.Contains(fmt.Sprint(r.field("error", "Message")), "not authorized to perform: ecs:GetTaskProtection") {
		t.Fatalf("ECS AccessDenied: HTTP %d %s", r.status, r.body)
	}

	// Disabling: protection off, ExpirationDate null.
	r = request(t, http.MethodPut, state, `{"ProtectionEnabled":false}`)
	if r.status != http.StatusOK || r.field("protection", "ProtectionEnabled") != false || !hasNull(r, "protection", "ExpirationDate") {
		t.Fatalf("disable: HTTP %d %s", r.status, r.body)
	}
}

// TestFailure: a failure ECS reports for the task is a 200 with "failure".
func TestFailure(t *testing.T) {
	p := startPlane(t)
	missing := "arn:aws:ecs:local:000000000000:task/prod/0123456789abcdef0123456789abcdef"
	creds := credentials.NewManager()
	// The instance's keys sign here (the control plane lets them name any task), so the
	// call reaches the task lookup and ECS answers MISSING.
	if err := creds.Set(credentials.Entry{ID: "c1", TaskARN: missing, RoleType: credentials.TaskApplication,
		AccessKeyID: instanceKey, SecretAccessKey: instanceSecret}); err != nil {
		t.Fatal(err)
	}
	base := serve(t, agentapi.Options{Reader: store(t, []taskObj{{missing, "c1", "ep"}}),
		Credentials: creds, Cluster: cluster, Region: region, Endpoint: p.url})
	for _, tc := range []struct{ method, body string }{{http.MethodGet, ""}, {http.MethodPut, `{"ProtectionEnabled":true}`}} {
		r := request(t, tc.method, base+fmt.Sprintf(statePath, "ep"), tc.body)
		f, _ := r.json["failure"].(map[string]any)
		if r.status != http.StatusOK || len(r.json) != 1 || len(f) != 3 || f["Arn"] != missing || f["Reason"] != "MISSING" || !hasNull(r, "failure", "Detail") {
			t.Fatalf("%s: HTTP %d %s, want 200 with a MISSING failure", tc.method, r.status, r.body)
		}
	}
}

// TestRequestErrors covers the errors the agent answers without asking ECS.
func TestRequestErrors(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	task := "arn:aws:ecs:local:000000000000:task/prod/aaaa"
	noRole := "arn:aws:ecs:local:000000000000:task/prod/bbbb"
	creds := credentials.NewManager()
	if err := creds.Set(credentials.Entry{ID: "exec", TaskARN: noRole, RoleType: credentials.TaskExecution,
		AccessKeyID: "AKIDEXEC", SecretAccessKey: "s"}); err != nil {
		t.Fatal(err)
	}
	// Nothing may reach an ECS endpoint in this test.
	ecsSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected ECS call %s", r.Header.Get("X-Amz-Target"))
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(ecsSrv.Close)
	base := serve(t, agentapi.Options{
		// noRole has only execution role credentials, which must not be used.
		Reader:      store(t, []taskObj{{task, "", "ep"}, {noRole, "exec", "ep-exec"}}),
		Credentials: creds, Cluster: cluster, Region: region, Endpoint: ecsSrv.URL,
	})
	state := base + fmt.Sprintf(statePath, "ep")
	const decodeMsg = "UpdateTaskProtection: failed to decode request"
	for _, tc := range []struct {
		name, method, url, body string
		status                  int
		arn, code, msg          string
	}{
		{"missing ProtectionEnabled", http.MethodPut, state, `{"ExpiresInMinutes":10}`, 400, task, "InvalidParameterException", "Invalid request: does not contain 'ProtectionEnabled' field"},
		{"unknown field", http.MethodPut, state, `{"ProtectionEnabled":true,"Forever":true}`, 400, "", "InvalidParameterException", decodeMsg},
		{"not JSON", http.MethodPut, state, `{"ProtectionEnabled":`, 400, "", "InvalidParameterException", decodeMsg},
		{"wrong type", http.MethodPut, state, `{"ProtectionEnabled":"yes"}`, 400, "", "InvalidParameterException", decodeMsg},
		{"empty body", http.MethodPut, state, ``, 400, "", "InvalidParameterException", decodeMsg},
		{"no role credentials GET", http.MethodGet, state, ``, 403, task, "AccessDeniedException", "Invalid Request: no task IAM role credentials available for task"},
		{"no role credentials PUT", http.MethodPut, state, `{"ProtectionEnabled":true}`, 403, task, "AccessDeniedException", "Invalid Request: no task IAM role credentials available for task"},
		{"execution role only", http.MethodGet, base + fmt.Sprintf(statePath, "ep-exec"), ``, 403, noRole, "AccessDeniedException", "Invalid Request: no task IAM role credentials available for task"},
		{"unknown endpoint GET", http.MethodGet, base + fmt.Sprintf(statePath, "nope"), ``, 404, "", "ResourceNotFoundException", "Failed to find a task for the request"},
		{"unknown endpoint PUT", http.MethodPut, base + fmt.Sprintf(statePath, "nope"), `{"ProtectionEnabled":true}`, 404, "", "ResourceNotFoundException", "Failed to find a task for the request"},
		{"unknown path", http.MethodGet, base + "/api/ep/task-protection/v2/state", ``, 404, "", "ResourceNotFoundException", "No agent API at this path"},
		{"wrong method", http.MethodPost, state, `{}`, 405, "", "MethodNotAllowed", "Method POST is not allowed; use GET or PUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, request(t, tc.method, tc.url, tc.body), tc.status, tc.arn, tc.code, tc.msg)
		})
	}

	// Fault injection is not implemented; its clients get the fault API's error shape.
	r := request(t, http.MethodPost, base+"/api/ep/fault/v1/network-latency/start", `{}`)
	if r.status != http.StatusNotFound || len(r.json) != 1 || r.json["Error"] == nil {
		t.Fatalf("fault injection: HTTP %d %s", r.status, r.body)
	}
}

// TestTimeout: an ECS endpoint that never answers is a 504 RequestCanceled after the
// timeout, and the hanging call was signed with the task's role credentials.
func TestTimeout(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	task := "arn:aws:ecs:local:000000000000:task/prod/aaaa"
	type seen struct{ auth, token, target string }
	calls := make(chan seen, 10)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the agent hanging up.
		_, _ = io.Copy(io.Discard, r.Body)
		calls <- seen{r.Header.Get("Authorization"), r.Header.Get("X-Amz-Security-Token"), r.Header.Get("X-Amz-Target")}
		select {
		case <-r.Context().Done(): // the agent gave up
		case <-release:
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) }) // runs first: no handler outlives the test
	creds := credentials.NewManager()
	if err := creds.Set(credentials.Entry{ID: "c1", TaskARN: task, RoleType: credentials.TaskApplication,
		AccessKeyID: "ASIATASKROLE", SecretAccessKey: "secret", SessionToken: "token"}); err != nil {
		t.Fatal(err)
	}
	base := serve(t, agentapi.Options{Reader: store(t, []taskObj{{task, "c1", "ep"}}), Credentials: creds,
		Cluster: cluster, Region: region, Endpoint: hang.URL, Timeout: 200 * time.Millisecond})

	for _, tc := range []struct{ method, body, target string }{
		{http.MethodPut, `{"ProtectionEnabled":true}`, "AmazonEC2ContainerServiceV20141113.UpdateTaskProtection"},
		{http.MethodGet, ``, "AmazonEC2ContainerServiceV20141113.GetTaskProtection"},
	} {
		r := request(t, tc.method, base+fmt.Sprintf(statePath, "ep"), tc.body)
		wantError(t, r, http.StatusGatewayTimeout, task, "RequestCanceled", "Timed out calling ECS Task Protection API")
		if _, ok := r.json["requestID"]; ok {
			t.Fatalf("a timed-out call has no request ID: %s", r.body)
		}
		select {
		case c := <-calls:
			if !strings.Contains(c.auth, "Credential=ASIATASKROLE/") || c.token != "token" || c.target != tc.target {
				t.Fatalf("ECS call %+v, want %s signed with the task role credentials", c, tc.target)
			}
		case <-time.After(waitTimeout):
			t.Fatal("the hanging ECS endpoint was never called")
		}
	}
}

// TestLookupFailure: the agent failing to read its own state is a 500.
func TestLookupFailure(t *testing.T) {
	broken := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return errors.New("store closed")
		},
	}).Build()
	base := serve(t, agentapi.Options{Reader: broken, Credentials: credentials.NewManager(), Cluster: cluster, Region: region,
		Endpoint: "http://127.0.0.1:1"})
	wantError(t, request(t, http.MethodGet, base+fmt.Sprintf(statePath, "ep"), ""), http.StatusInternalServerError,
		"", "ServerException", "Failed to find a task for the request")
}

// checkProtected checks a protection response and returns its expiration, which must
// lie between lo and hi (to the second, as ECS's timestamps are rounded).
func checkProtected(t *testing.T, r reply, task string, lo, hi time.Time) time.Time {
	t.Helper()
	if r.status != http.StatusOK || r.field("protection", "ProtectionEnabled") != true || r.field("protection", "TaskArn") != task {
		t.Fatalf("HTTP %d %s, want %s protected", r.status, r.body, task)
	}
	s, _ := r.field("protection", "ExpirationDate").(string)
	exp, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.HasSuffix(s, "Z") {
		t.Fatalf("ExpirationDate %q: want an RFC 3339 UTC time (%v)", s, err)
	}
	if exp.Before(lo.Add(-time.Second)) || exp.After(hi.Add(time.Second)) {
		t.Fatalf("ExpirationDate %s, want between %s and %s", exp, lo, hi)
	}
	return exp
}

// hasNull reports whether the key at path is present with the value null.
func hasNull(r reply, path ...string) bool {
	parent, _ := r.field(path[:len(path)-1]...).(map[string]any)
	v, ok := parent[path[len(path)-1]]
	return ok && v == nil
}
