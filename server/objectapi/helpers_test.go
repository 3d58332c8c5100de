package objectapi

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/server/bearer"
	"github.com/ecsd/ecsd/store"
)

const (
	groupPath = "/apis/ecs.ecsd.io/v1alpha1"
	nsPath    = groupPath + "/namespaces/ecs"
	// tableAccept is what kubectl get sends for server-side printing.
	tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
	// ageOffset makes every AGE column read "3d" (for the next hour): the handler's clock
	// runs this far ahead.
	ageOffset = 3 * 24 * time.Hour
)

// testToken is the handler's bearer token in these tests.
const testToken = "test-token-0123456789"

// withToken adds the bearer token to every request that does not carry an Authorization
// header already.
type withToken struct {
	next  http.RoundTripper
	token string
}

func (t withToken) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+t.token)
	}
	return t.next.RoundTrip(r)
}

// env is a handler over a real, checkpointed store, served on loopback.
type env struct {
	t       *testing.T
	st      *store.Store
	h       *Handler
	srv     *httptest.Server
	dataDir string
}

func newEnv(t *testing.T, objs ...client.Object) *env {
	t.Helper()
	return newEnvWith(t, nil, objs...)
}

// newEnvWith is newEnv with store options beyond the checkpoint.
func newEnvWith(t *testing.T, opts []store.Option, objs ...client.Object) *env {
	t.Helper()
	scheme := k8sruntime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := store.New(context.Background(), scheme, append(opts, store.WithCheckpoint(filepath.Join(dir, "ecsd.db")))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := &env{t: t, st: st, dataDir: filepath.Join(dir, "data")}
	h, err := NewHandler(Options{Store: st, DataDir: e.dataDir, Logger: testr.New(t),
		Now: func() time.Time { return time.Now().Add(ageOffset) }, Token: bearer.New(testToken)})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	e.useServer(httptest.NewServer(h))
	t.Cleanup(h.Close) // runs first: ends streams so the server's Close does not wait
	for _, o := range objs {
		e.create(o)
	}
	return e
}

// useServer makes srv the server the test talks to; every request of its client carries
// the token, as ecsctl's do.
func (e *env) useServer(srv *httptest.Server) {
	e.t.Cleanup(srv.Close)
	srv.Client().Transport = withToken{next: srv.Client().Transport, token: testToken}
	e.srv = srv
}

func (e *env) create(o client.Object) {
	e.t.Helper()
	if err := e.st.Create(context.Background(), o); err != nil {
		e.t.Fatalf("create %s: %v", o.GetName(), err)
	}
}

// setStatus applies fn to the stored object's status.
func setStatus[T client.Object](e *env, obj T, fn func(T)) {
	e.t.Helper()
	if err := e.st.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		e.t.Fatal(err)
	}
	fn(obj)
	if err := e.st.UpdateStatus(context.Background(), obj); err != nil {
		e.t.Fatal(err)
	}
}

// get sends a GET with the Accept header and returns the status code and body.
func (e *env) get(path, accept string) (int, []byte) {
	e.t.Helper()
	return e.do(http.MethodGet, path, accept)
}

func (e *env) do(method, path, accept string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// getJSON GETs path, requires 200 and decodes the body into v.
func (e *env) getJSON(path, accept string, v any) {
	e.t.Helper()
	code, b := e.get(path, accept)
	if code != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		e.t.Fatalf("GET %s: decode: %v\n%s", path, err, b)
	}
}

// stream is an open streaming response read line by line.
type streamResp struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

func (e *env) open(ctx context.Context, path, accept string) *streamResp {
	e.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return &streamResp{t: e.t, resp: resp, r: bufio.NewReader(resp.Body)}
}

// event is a decoded watch line.
type event struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// next reads the next watch event; io.EOF when the stream ended.
func (s *streamResp) next() (event, error) {
	line, err := s.r.ReadBytes('\n')
	if err != nil {
		return event{}, err
	}
	var ev event
	if err := json.Unmarshal(line, &ev); err != nil {
		s.t.Fatalf("watch line %q: %v", line, err)
	}
	return ev, nil
}

// mustNext is next for an event that must come.
func (s *streamResp) mustNext() event {
	s.t.Helper()
	ev, err := s.next()
	if err != nil {
		s.t.Fatalf("watch ended before the expected event: %v", err)
	}
	return ev
}

// The fixture: two tasks, their containers, an image, an attachment and the instance.

func om(name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: api.Namespace, Labels: labels}
}

func taskLabels(id, family string) map[string]string {
	return map[string]string{api.LabelTaskName: id, api.LabelFamily: family}
}

func webTask() *api.Task {
	return &api.Task{ObjectMeta: om("web1", taskLabels("web1", "web")),
		Spec: api.TaskSpec{ARN: "arn:aws:ecs:us-west-2:111122223333:task/prod/web1", Family: "web", Version: "3",
			DesiredStatus: api.TaskStatusRunning, Containers: []string{"app", "sidecar"}},
		Status: api.TaskStatus{KnownStatus: api.TaskStatusRunning}}
}

func webApp() *api.Container {
	return &api.Container{ObjectMeta: om("web1-app", taskLabels("web1", "web")),
		Spec: api.ContainerSpec{TaskName: "web1", Name: "app", Image: "nginx:1.27",
			HealthCheck: &api.HealthCheck{Test: []string{"CMD", "true"}}},
		Status: api.ContainerStatus{KnownStatus: api.ContainerStatusRunning, DesiredStatus: api.ContainerStatusRunning,
			RuntimeID: "web1-app", RestartCount: 2, Health: &api.Health{Status: api.HealthHealthy},
			Network:         &api.NetworkStatus{Mode: "bridge", ID: "web1-app", IPv4Address: "172.17.0.5"},
			NetworkBindings: []api.NetworkBinding{{BindIP: "0.0.0.0", ContainerPort: 80, HostPort: 32768, Protocol: "tcp"}}}}
}

func webSidecar() *api.Container {
	exit := int32(3)
	return &api.Container{ObjectMeta: om("web1-sidecar", taskLabels("web1", "web")),
		Spec: api.ContainerSpec{TaskName: "web1", Name: "sidecar", Image: "busybox"},
		Status: api.ContainerStatus{KnownStatus: api.ContainerStatusStopped, DesiredStatus: api.ContainerStatusStopped,
			ExitCode: &exit, Reason: "Essential container exited"}}
}

func batchTask() *api.Task {
	return &api.Task{ObjectMeta: om("batch1", taskLabels("batch1", "batch")),
		Spec: api.TaskSpec{ARN: "arn:aws:ecs:us-west-2:111122223333:task/prod/batch1", Family: "batch", Version: "1",
			DesiredStatus: api.TaskStatusRunning, NetworkMode: "awsvpc", Containers: []string{"job"}, ENIs: []string{"att-1"}},
		Status: api.TaskStatus{KnownStatus: api.TaskStatusStopped, StoppedReason: "Task stopped by user",
			Network: &api.NetworkStatus{Mode: "awsvpc", ID: "batch1", IPv4Address: "10.0.0.7"}}}
}

func batchJob() *api.Container {
	return &api.Container{ObjectMeta: om("batch1-job", taskLabels("batch1", "batch")),
		Spec:   api.ContainerSpec{TaskName: "batch1", Name: "job", Image: "job:1"},
		Status: api.ContainerStatus{KnownStatus: api.ContainerStatusPulled}}
}

func image() *api.Image {
	return &api.Image{ObjectMeta: om("sha256-abc", nil), Spec: api.ImageSpec{Digest: "sha256:abc"},
		Status: api.ImageStatus{References: []string{"nginx:1.27"}, Size: 12 << 20, Users: []string{"web1-app"},
			KeptBecause: "in use by web1-app"}}
}

func attachment() *api.Attachment {
	return &api.Attachment{ObjectMeta: om("att-1", nil),
		Spec: api.AttachmentSpec{AttachmentARN: "arn:aws:ecs:us-west-2:111122223333:attachment/att-1",
			TaskARN: "arn:aws:ecs:us-west-2:111122223333:task/prod/batch1", MACAddress: "0a:00:00:00:00:01",
			IPv4Addresses: []string{"10.0.0.7"}},
		Status: api.AttachmentStatus{Status: api.AttachmentAttached, InterfaceName: "eth1"}}
}

func instance() *api.Instance {
	return &api.Instance{ObjectMeta: om("instance", nil), Spec: api.InstanceSpec{Cluster: "prod"},
		Status: api.InstanceStatus{ContainerInstanceARN: "arn:aws:ecs:us-west-2:111122223333:container-instance/prod/ci-1",
			EC2InstanceID: "i-0123", ACSConnected: true}}
}

func fixture() []client.Object {
	return []client.Object{webTask(), webApp(), webSidecar(), batchTask(), batchJob(), image(), attachment(), instance()}
}

// names returns the sorted, comma-joined metadata.name of each item of a list body.
func names(t *testing.T, b []byte) string {
	t.Helper()
	var l struct {
		Items []struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("decode list: %v\n%s", err, b)
	}
	var out []string
	for _, it := range l.Items {
		out = append(out, it.Metadata.Name)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
