package introspection

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/agenthealth"
	"github.com/ecsd/ecsd/server/bearer"
	"github.com/ecsd/ecsd/store"
)

const (
	// Two tasks whose IDs share their first 12 characters, so a 12-character short ID of
	// their containers is ambiguous between tasks.
	taskA  = "3f9a00000000aaaaaaaaaaaaaaaaaaaa"
	taskB  = "3f9a00000000bbbbbbbbbbbbbbbbbbbb"
	taskV  = "7c1d2e3f405162738495a6b7c8d9e0f1"
	taskNo = "99990000000000000000000000000000"
	taskP  = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
)

func arn(id string) string { return "arn:aws:ecs:us-west-2:111122223333:task/prod/" + id }

// rid is the new-form runtime ID of container name of task id.
func rid(id, name string) string { return api.RuntimeID(arn(id), name) }

// dname is the DockerName of container name of task id, of the given family and revision.
func dname(id, family, version, name string) string {
	return api.DockerName(&api.Task{Spec: api.TaskSpec{ARN: arn(id), Family: family, Version: version}},
		&api.Container{Spec: api.ContainerSpec{Name: name}})
}

func mt(s string) *metav1.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &metav1.Time{Time: t}
}

func objects() []client.Object {
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: api.Namespace} }
	return []client.Object{
		// Task A: bridge, two containers created, one not yet.
		&api.Task{ObjectMeta: meta(taskA), Spec: api.TaskSpec{ARN: arn(taskA), Family: "web", Version: "3",
			DesiredStatus: api.TaskStatusRunning, Containers: []string{"app", "log", "late"},
			Volumes: []api.Volume{{Name: "data", HostSourcePath: "/srv/data"}, {Name: "cache", Type: "docker", Scope: "task"}}},
			Status: api.TaskStatus{KnownStatus: api.TaskStatusRunning}},
		&api.Container{ObjectMeta: meta(api.ContainerName(taskA, "app")), Spec: api.ContainerSpec{TaskName: taskA, Name: "app", Image: "nginx:1.27",
			PortMappings: []api.PortMapping{{ContainerPort: 80, Protocol: "tcp"}},
			MountPoints:  []api.MountPoint{{SourceVolume: "data", ContainerPath: "/data"}, {SourceVolume: "cache", ContainerPath: "/cache"}}},
			Status: api.ContainerStatus{KnownStatus: api.ContainerStatusRunning, RuntimeID: rid(taskA, "app"), ImageDigest: "sha256:9b2f",
				NetworkBindings: []api.NetworkBinding{{BindIP: "0.0.0.0", ContainerPort: 80, HostPort: 49170, Protocol: "tcp"}},
				CreatedAt:       mt("2026-07-01T11:59:58.1Z"), StartedAt: mt("2026-07-01T13:59:59.4+02:00")}},
		// log has no known binding yet: the definition's ports are shown; a restart policy
		// makes RestartCount appear even at zero. An older ecsd created it: its runtime ID
		// has the old form, the object name.
		&api.Container{ObjectMeta: meta(api.ContainerName(taskA, "log")), Spec: api.ContainerSpec{TaskName: taskA, Name: "log", Image: "fluent-bit",
			PortMappings:  []api.PortMapping{{ContainerPort: 24224, HostPort: 24224}},
			VolumesFrom:   []api.VolumeFrom{{SourceContainer: "app"}},
			RestartPolicy: &api.RestartPolicy{Enabled: true}},
			Status: api.ContainerStatus{KnownStatus: api.ContainerStatusCreated, RuntimeID: taskA + "-log"}},
		&api.Container{ObjectMeta: meta(api.ContainerName(taskA, "late")), Spec: api.ContainerSpec{TaskName: taskA, Name: "late", Image: "x"},
			Status: api.ContainerStatus{KnownStatus: api.ContainerStatusPulled}},
		// Task B: stopped, desired still RUNNING (desired blanked); created by an older ecsd.
		&api.Task{ObjectMeta: meta(taskB), Spec: api.TaskSpec{ARN: arn(taskB), Family: "batch", Version: "1",
			DesiredStatus: api.TaskStatusRunning, Containers: []string{"job"}},
			Status: api.TaskStatus{KnownStatus: api.TaskStatusStopped}},
		&api.Container{ObjectMeta: meta(api.ContainerName(taskB, "job")), Spec: api.ContainerSpec{TaskName: taskB, Name: "job", Image: "job"},
			Status: api.ContainerStatus{KnownStatus: api.ContainerStatusStopped, RuntimeID: taskB + "-job"}},
		// Task P: just accepted, nothing created: Containers is [] (not null).
		&api.Task{ObjectMeta: meta(taskP), Spec: api.TaskSpec{ARN: arn(taskP), Family: "new", Version: "1",
			DesiredStatus: api.TaskStatusRunning, Containers: []string{"c"}}},
		&api.Container{ObjectMeta: meta(api.ContainerName(taskP, "c")), Spec: api.ContainerSpec{TaskName: taskP, Name: "c", Image: "c"}},
		// Task V: awsvpc, pending.
		&api.Task{ObjectMeta: meta(taskV), Spec: api.TaskSpec{ARN: arn(taskV), Family: "api", Version: "7", NetworkMode: "awsvpc",
			DesiredStatus: api.TaskStatusRunning, Containers: []string{"web", "envoy"}, ENIs: []string{"att-1"}},
			Status: api.TaskStatus{KnownStatus: api.TaskStatusCreated}},
		&api.Container{ObjectMeta: meta(api.ContainerName(taskV, "web")), Spec: api.ContainerSpec{TaskName: taskV, Name: "web", Image: "web:1",
			PortMappings: []api.PortMapping{{ContainerPort: 8080, Protocol: "udp"}}},
			Status: api.ContainerStatus{KnownStatus: api.ContainerStatusCreated, RuntimeID: rid(taskV, "web")}},
		&api.Container{ObjectMeta: meta(api.ContainerName(taskV, "envoy")), Spec: api.ContainerSpec{TaskName: taskV, Name: "envoy", Image: "envoy"},
			Status: api.ContainerStatus{KnownStatus: api.ContainerStatusCreated, RuntimeID: rid(taskV, "envoy")}},
		&api.Attachment{ObjectMeta: meta("att-1"), Spec: api.AttachmentSpec{MACAddress: "0a:1b:2c:3d:4e:5f",
			IPv4Addresses: []string{"10.0.1.5"}, IPv6Addresses: []string{"2600::5"}, SubnetGatewayIPv4: "10.0.1.1/24"}},
	}
}

func newStore(t *testing.T) *store.Store {
	t.Helper()
	scheme := k8sruntime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	st, err := store.New(context.Background(), scheme)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, o := range objects() {
		if err := st.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func newHandler(t *testing.T, mutate ...func(*Options)) http.Handler {
	t.Helper()
	o := Options{
		Reader:               newStore(t),
		Cluster:              "prod",
		ContainerInstanceARN: func() string { return "arn:aws:ecs:us-west-2:111122223333:container-instance/prod/0f1e" },
		Version:              "Amazon ECS Agent - v0.1.0 (abcd1234)",
		License:              "Apache License 2.0\n",
		DataDir:              "/var/lib/ecs/data",
	}
	for _, m := range mutate {
		m(&o)
	}
	return NewHandler(o)
}

func request(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

func assertJSON(t *testing.T, rec *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if got, exp := decode(t, rec.Body.Bytes()), decode(t, []byte(want)); !reflect.DeepEqual(got, exp) {
		g, _ := json.Marshal(got)
		t.Fatalf("body mismatch\n got: %s\nwant: %s", g, want)
	}
}

var (
	taskAJSON = fmt.Sprintf(`{"Arn":%q,"DesiredStatus":"RUNNING","KnownStatus":"RUNNING","Family":"web","Version":"3","Containers":[
		{"DockerId":%[3]q,"DockerName":%[4]q,"Name":"app","Image":"nginx:1.27","ImageID":"sha256:9b2f",
		 "CreatedAt":"2026-07-01T11:59:58.1Z","StartedAt":"2026-07-01T11:59:59.4Z",
		 "Ports":[{"ContainerPort":80,"Protocol":"tcp","HostPort":49170}],
		 "Volumes":[{"Source":"/srv/data","Destination":"/data"},{"DockerName":"cache","Source":"/var/lib/ecs/data/tasks/%[2]s/volumes/cache","Destination":"/cache"}]},
		{"DockerId":"%[2]s-log","DockerName":%[5]q,"Name":"log","Image":"fluent-bit","ImageID":"",
		 "Ports":[{"ContainerPort":24224,"Protocol":"tcp","HostPort":24224}],
		 "Volumes":[{"Source":"/srv/data","Destination":"/data"},{"DockerName":"cache","Source":"/var/lib/ecs/data/tasks/%[2]s/volumes/cache","Destination":"/cache"}],
		 "RestartCount":0}]}`, arn(taskA), taskA, rid(taskA, "app"), dname(taskA, "web", "3", "app"), dname(taskA, "web", "3", "log"))
	taskBJSON = fmt.Sprintf(`{"Arn":%q,"KnownStatus":"STOPPED","Family":"batch","Version":"1","Containers":[
		{"DockerId":"%[2]s-job","DockerName":%[3]q,"Name":"job","Image":"job","ImageID":""}]}`, arn(taskB), taskB, dname(taskB, "batch", "1", "job"))
	taskVJSON = fmt.Sprintf(`{"Arn":%q,"DesiredStatus":"RUNNING","KnownStatus":"PENDING","Family":"api","Version":"7","Containers":[
		{"DockerId":%[3]q,"DockerName":%[4]q,"Name":"web","Image":"web:1","ImageID":"",
		 "Ports":[{"ContainerPort":8080,"Protocol":"udp","HostPort":8080}],
		 "Networks":[{"NetworkMode":"awsvpc","IPv4Addresses":["10.0.1.5"],"IPv6Addresses":["2600::5"]}]},
		{"DockerId":%[5]q,"DockerName":%[6]q,"Name":"envoy","Image":"envoy","ImageID":"",
		 "Networks":[{"NetworkMode":"awsvpc","IPv4Addresses":["10.0.1.5"],"IPv6Addresses":["2600::5"]}]}]}`, arn(taskV), taskV,
		rid(taskV, "web"), dname(taskV, "api", "7", "web"), rid(taskV, "envoy"), dname(taskV, "api", "7", "envoy"))
	taskPJSON = fmt.Sprintf(`{"Arn":%q,"DesiredStatus":"RUNNING","KnownStatus":"PENDING","Family":"new","Version":"1","Containers":[]}`, arn(taskP))
	emptyTask = `{"Arn":"","KnownStatus":"","Family":"","Version":"","Containers":null}`
	rootJSON  = `{"AvailableCommands":["/v1/metadata","/v1/tasks","/license"]}`
)

func TestTasks(t *testing.T) {
	h := newHandler(t)
	for _, tc := range []struct {
		name, target string
		status       int
		want         string
	}{
		{"all tasks", "/v1/tasks", 200, `{"Tasks":[` + taskAJSON + `,` + taskBJSON + `,` + taskPJSON + `,` + taskVJSON + `]}`},
		{"full docker ID", "/v1/tasks?dockerid=" + rid(taskV, "web"), 200, taskVJSON},
		{"short docker ID", "/v1/tasks?dockerid=" + rid(taskV, "envoy")[:12], 200, taskVJSON},
		{"shorter docker ID", "/v1/tasks?dockerid=" + rid(taskA, "app")[:6], 200, taskAJSON},
		{"long ID is matched exactly, not as prefix", "/v1/tasks?dockerid=" + rid(taskV, "web")[:13], 404, emptyTask},
		{"full old-form docker ID", "/v1/tasks?dockerid=" + taskB + "-job", 200, taskBJSON},
		{"short old-form ID across tasks is ambiguous", "/v1/tasks?dockerid=" + taskA[:12], 400, emptyTask},
		{"long old-form ID is matched exactly, not as prefix", "/v1/tasks?dockerid=" + taskA + "-lo", 404, emptyTask},
		{"unknown docker ID", "/v1/tasks?dockerid=" + taskNo, 404, emptyTask},
		{"empty docker ID prefixes everything", "/v1/tasks?dockerid=", 400, emptyTask},
		{"not created container is unknown", "/v1/tasks?dockerid=" + rid(taskA, "late"), 404, emptyTask},
		{"by task ARN", "/v1/tasks?taskarn=" + arn(taskB), 200, taskBJSON},
		{"unknown task ARN", "/v1/tasks?taskarn=" + arn(taskNo), 404, emptyTask},
		{"both parameters", "/v1/tasks?taskarn=" + arn(taskB) + "&dockerid=" + taskB, 400, emptyTask},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertJSON(t, request(h, http.MethodGet, tc.target), tc.status, tc.want)
		})
	}
}

func TestNoTasks(t *testing.T) {
	scheme := k8sruntime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	st, err := store.New(context.Background(), scheme)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	assertJSON(t, request(NewHandler(Options{Reader: st}), http.MethodGet, "/v1/tasks"), 200, `{"Tasks":[]}`)
}

// failingReader fails every read, to exercise the internal error answers.
type failingReader struct{}

func (failingReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return errors.New("store down")
}
func (failingReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("store down")
}

func TestReadFailure(t *testing.T) {
	h := NewHandler(Options{Reader: failingReader{}})
	assertJSON(t, request(h, http.MethodGet, "/v1/tasks"), 500, `{"Tasks":null}`)
	assertJSON(t, request(h, http.MethodGet, "/v1/tasks?taskarn=x"), 500, emptyTask)
}

func TestMetadataAndRoot(t *testing.T) {
	h := newHandler(t)
	meta := `{"Cluster":"prod","ContainerInstanceArn":"arn:aws:ecs:us-west-2:111122223333:container-instance/prod/0f1e","Version":"Amazon ECS Agent - v0.1.0 (abcd1234)"}`
	assertJSON(t, request(h, http.MethodGet, "/v1/metadata"), 200, meta)
	for _, p := range []string{"/", "/v2/metadata", "/v1/task", "/debug/pprof/", "/api/v1"} {
		assertJSON(t, request(h, http.MethodGet, p), 200, rootJSON)
	}
	head := request(h, http.MethodHead, "/v1/metadata")
	if head.Code != http.StatusOK {
		t.Errorf("HEAD /v1/metadata = %d", head.Code)
	}
	unregistered := newHandler(t, func(o *Options) { o.ContainerInstanceARN = func() string { return "" } })
	assertJSON(t, request(unregistered, http.MethodGet, "/v1/metadata"), 200,
		`{"Cluster":"prod","ContainerInstanceArn":null,"Version":"Amazon ECS Agent - v0.1.0 (abcd1234)"}`)
	// Unclean paths are redirected by net/http's ServeMux, as in the reference agent (whose
	// status, 301 or 307, depends on the Go release: 307 since Go 1.22).
	if rec := request(h, http.MethodGet, "//v1/metadata"); rec.Code != http.StatusTemporaryRedirect || rec.Header().Get("Location") != "/v1/metadata" {
		t.Errorf("unclean path: %d %q, want a redirect to /v1/metadata", rec.Code, rec.Header().Get("Location"))
	}
}

func TestLicense(t *testing.T) {
	rec := request(newHandler(t), http.MethodGet, "/license")
	if rec.Code != 200 || rec.Body.String() != "Apache License 2.0\n" || rec.Header().Get("Content-Type") != "text/plain" {
		t.Errorf("license: %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	rec = request(newHandler(t, func(o *Options) { o.License = "" }), http.MethodGet, "/license")
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("missing license: %d, want 500", rec.Code)
	}
}

func TestPprof(t *testing.T) {
	h := newHandler(t, func(o *Options) { o.EnableRuntimeStats = true; o.Token = bearer.New("tok") })
	assertJSON(t, request(h, http.MethodGet, "/"), 200, `{"AvailableCommands":["/v1/metadata","/v1/tasks","/license",
		"/debug/pprof/","/debug/pprof/cmdline","/debug/pprof/profile","/debug/pprof/symbol","/debug/pprof/trace"]}`)
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/profile?seconds=1", "/debug/pprof/heap"} {
		if rec := request(h, http.MethodGet, p); rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s without the token: %d, want 401", p, rec.Code)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/debug/pprof/cmdline", nil)
	req.Header.Set("Authorization", "Bearer tok")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("Content-Type") == "application/json" {
		t.Errorf("pprof cmdline not served with the token: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

func TestObjectAPIAndPanic(t *testing.T) {
	objAPI := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/apis/boom" {
			panic("bug")
		}
		w.WriteHeader(http.StatusTeapot)
	})
	h := newHandler(t, func(o *Options) { o.ObjectAPI = objAPI })
	for _, p := range []string{"/api", "/api/v1", "/apis", "/apis/ecs.ecsd.io/v1alpha1/tasks"} {
		if rec := request(h, http.MethodGet, p); rec.Code != http.StatusTeapot {
			t.Errorf("%s: %d, want the object API", p, rec.Code)
		}
	}
	rec := request(h, http.MethodGet, "/apis/boom")
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("Connection") != "close" {
		t.Errorf("panic: %d, Connection %q", rec.Code, rec.Header().Get("Connection"))
	}
}

func TestBackendStatuses(t *testing.T) {
	for _, tc := range []struct {
		known, specDesired, engineDesired api.TaskState
		wantKnown, wantDesired            string
	}{
		{api.TaskStatusRunning, api.TaskStatusRunning, "", "RUNNING", "RUNNING"},
		{api.TaskStatusNone, api.TaskStatusRunning, "", "PENDING", "RUNNING"},
		{api.TaskStatusPulled, api.TaskStatusStopped, "", "PENDING", "STOPPED"},
		{api.TaskStatusStopped, api.TaskStatusRunning, "", "STOPPED", ""},
		{api.TaskStatusStopped, api.TaskStatusRunning, api.TaskStatusStopped, "STOPPED", "STOPPED"},
		{api.TaskStatusRunning, "", "", "RUNNING", ""},
		{api.TaskStatusRunning, api.TaskStatusStopped, "", "RUNNING", "STOPPED"},
		{api.TaskStatusZombie, api.TaskStatusStopped, "", "STOPPED", "STOPPED"},
	} {
		task := &api.Task{Spec: api.TaskSpec{DesiredStatus: tc.specDesired}, Status: api.TaskStatus{KnownStatus: tc.known, DesiredStatus: tc.engineDesired}}
		k, d := backendStatuses(task)
		if k != tc.wantKnown || d != tc.wantDesired {
			t.Errorf("known %s desired %s/%s: got (%q, %q), want (%q, %q)", tc.known, tc.specDesired, tc.engineDesired, k, d, tc.wantKnown, tc.wantDesired)
		}
	}
}

// TestHealth: the health endpoint is served at its own path, outside the reference's
// answers: / still lists the reference's commands only.
func TestHealth(t *testing.T) {
	health := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	h := newHandler(t, func(o *Options) { o.Health = health })
	if rec := request(h, http.MethodGet, agenthealth.Path); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("%s: %d, want the health handler's answer", agenthealth.Path, rec.Code)
	}
	assertJSON(t, request(h, http.MethodGet, "/"), 200, rootJSON)
}
