package tmds

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/store"
)

// Fixture identities. Task IDs are the last ARN segment, as in production.
const (
	cluster    = "prod"
	ciARN      = "arn:aws:ecs:us-west-2:111122223333:container-instance/prod/0f1e"
	bridgeID   = "6a1b2c3d4e5f60718293a4b5c6d7e8f9"
	awsvpcID   = "7b2c3d4e5f60718293a4b5c6d7e8f901"
	hostID     = "8c3d4e5f60718293a4b5c6d7e8f90123"
	releasedID = "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0"
	bridgeIP   = "172.17.0.3"
	sidecarIP  = "172.17.0.4"
	eniIP      = "10.0.1.5"
	legIP      = "169.254.172.3"
	hostIP     = "10.0.1.23"

	epApp     = "11111111-1111-4111-8111-111111111111"
	epSidecar = "22222222-2222-4222-8222-222222222222"
	epPulled  = "33333333-3333-4333-8333-333333333333"
	epWeb     = "44444444-4444-4444-8444-444444444444"
	epHost    = "55555555-5555-4555-8555-555555555555"
	epOrphan  = "66666666-6666-4666-8666-666666666666"

	credApp    = "cred-app-0001"
	credWeb    = "cred-web-0002"
	credHost   = "cred-host-0003"
	credExec   = "cred-exec-0004"
	credUninit = "cred-uninit-0005"
	credOld    = "cred-old-0006"

	secretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	token     = "IQoJb3JpZ2luX2VjEXAMPLETOKEN"
)

func taskARN(id string) string { return "arn:aws:ecs:us-west-2:111122223333:task/prod/" + id }

// Runtime IDs: the bridge and awsvpc containers have new-form IDs; the host task's daemon
// and the orphan were created by an older ecsd and keep the old form, the object name.
var (
	appID     = api.RuntimeID(taskARN(bridgeID), "app")
	sidecarID = api.RuntimeID(taskARN(bridgeID), "sidecar")
	webID     = api.RuntimeID(taskARN(awsvpcID), "web")
)

// dockerName is the DockerName of container name of task id in family and revision.
func dockerName(id, family, revision, name string) string {
	return api.DockerName(&api.Task{Spec: api.TaskSpec{ARN: taskARN(id), Family: family, Version: revision}},
		&api.Container{Spec: api.ContainerSpec{Name: name}})
}

func ts(s string) *metav1.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &metav1.Time{Time: t}
}

// fixture is a store with a bridge task (one running container, one pulled but not created
// sidecar), an awsvpc task with its ENI and a host-network task, and their credentials.
type fixture struct {
	st    *store.Store
	creds *credentials.Manager
	now   time.Time
	mu    sync.Mutex
	logs  []string
}

func newFixture(t *testing.T) *fixture {
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
	f := &fixture{st: st, creds: credentials.NewManager(), now: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)}
	for _, o := range fixtureObjects() {
		if err := st.Create(context.Background(), o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
	exp := time.Date(2026, 7, 1, 18, 0, 0, 0, time.UTC)
	for _, e := range []credentials.Entry{
		{ID: credApp, TaskARN: taskARN(bridgeID), RoleARN: "arn:aws:iam::111122223333:role/app", RoleType: credentials.TaskApplication, AccessKeyID: "ASIAAPP", SecretAccessKey: secretKey, SessionToken: token, Expiration: exp},
		{ID: credWeb, TaskARN: taskARN(awsvpcID), RoleARN: "arn:aws:iam::111122223333:role/web", RoleType: credentials.TaskApplication, AccessKeyID: "ASIAWEB", SecretAccessKey: secretKey, SessionToken: token, Expiration: exp},
		{ID: credHost, TaskARN: taskARN(hostID), RoleARN: "arn:aws:iam::111122223333:role/host", RoleType: credentials.TaskApplication, AccessKeyID: "ASIAHOST", SecretAccessKey: secretKey, SessionToken: token, Expiration: exp},
		{ID: credExec, TaskARN: taskARN(bridgeID), RoleARN: "arn:aws:iam::111122223333:role/exec", RoleType: credentials.TaskExecution, AccessKeyID: "ASIAEXEC", SecretAccessKey: secretKey, SessionToken: token, Expiration: exp},
		{ID: credUninit, TaskARN: taskARN(awsvpcID), RoleType: credentials.TaskExecution},
		// An expired set for the bridge task under a role type slot of its own.
		{ID: credOld, TaskARN: taskARN(hostID), RoleARN: "arn:aws:iam::111122223333:role/old", RoleType: credentials.TaskExecution, AccessKeyID: "ASIAOLD", SecretAccessKey: secretKey, SessionToken: token, Expiration: f.now.Add(-time.Minute)},
	} {
		if err := f.creds.Set(e); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func fixtureObjects() []client.Object {
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: api.Namespace} }
	ctr := func(task, name string) metav1.ObjectMeta {
		m := meta(api.ContainerName(task, name))
		m.Labels = map[string]string{api.LabelTaskARN: taskARN(task)}
		return m
	}
	exit0 := int32(0)
	return []client.Object{
		&api.Task{
			ObjectMeta: meta(bridgeID),
			Spec: api.TaskSpec{ARN: taskARN(bridgeID), Family: "web", Version: "3", DesiredStatus: api.TaskStatusRunning,
				CPU: 0.5, Memory: 1024, ServiceName: "web-svc", Containers: []string{"app", "sidecar", "init"},
				Volumes: []api.Volume{{Name: "data", HostSourcePath: "/srv/data"}, {Name: "scratch"}}},
			Status: api.TaskStatus{KnownStatus: api.TaskStatusRunning,
				PullStartedAt: ts("2026-07-01T11:59:50.2Z"), PullStoppedAt: ts("2026-07-01T13:59:57.9+02:00")},
		},
		&api.Container{
			ObjectMeta: ctr(bridgeID, "app"),
			Spec: api.ContainerSpec{TaskName: bridgeID, Name: "app", Image: "nginx:1.27", CPU: 256, Memory: 512,
				ARN: "arn:aws:ecs:us-west-2:111122223333:container/prod/" + bridgeID + "/5d0e", EndpointID: epApp,
				Labels:        map[string]string{"team": "edge"},
				PortMappings:  []api.PortMapping{{ContainerPort: 80, Protocol: "tcp"}},
				MountPoints:   []api.MountPoint{{SourceVolume: "data", ContainerPath: "/data"}, {SourceVolume: "scratch", ContainerPath: "/scratch"}},
				HealthCheck:   &api.HealthCheck{Test: []string{"CMD-SHELL", "true"}},
				RestartPolicy: &api.RestartPolicy{Enabled: true},
				LogConfig:     &api.LogConfig{Driver: "awslogs", Options: map[string]string{"awslogs-group": "/ecs/web"}}},
			Status: api.ContainerStatus{KnownStatus: api.ContainerStatusRunning, DesiredStatus: api.ContainerStatusRunning,
				RuntimeID: appID, ImageDigest: "sha256:9b2f",
				NetworkBindings: []api.NetworkBinding{{BindIP: "0.0.0.0", ContainerPort: 80, HostPort: 49170, Protocol: "tcp"}},
				Network:         &api.NetworkStatus{Mode: "bridge", ID: bridgeID + "-app", IPv4Address: bridgeIP},
				Health:          &api.Health{Status: api.HealthHealthy, Since: ts("2026-07-01T12:00:29Z"), Output: "ok"},
				CreatedAt:       ts("2026-07-01T11:59:58.1Z"), StartedAt: ts("2026-07-01T11:59:59.4Z"), RestartCount: 2},
		},
		&api.Container{
			ObjectMeta: ctr(bridgeID, "sidecar"),
			Spec:       api.ContainerSpec{TaskName: bridgeID, Name: "sidecar", Image: "busybox", EndpointID: epSidecar},
			Status: api.ContainerStatus{KnownStatus: api.ContainerStatusStopped, DesiredStatus: api.ContainerStatusStopped,
				RuntimeID: sidecarID, ImageDigest: "sha256:aaaa", ExitCode: &exit0,
				Network:    &api.NetworkStatus{Mode: "bridge", IPv4Address: sidecarIP, ReleasedAt: ts("2026-07-01T12:00:01Z")},
				FinishedAt: ts("2026-07-01T12:00:00Z")},
		},
		&api.Container{
			ObjectMeta: ctr(bridgeID, "init"),
			Spec:       api.ContainerSpec{TaskName: bridgeID, Name: "init", Image: "busybox:pulled", EndpointID: epPulled, CPU: 1, ARN: "arn:c/init"},
			Status:     api.ContainerStatus{KnownStatus: api.ContainerStatusPulled, DesiredStatus: api.ContainerStatusRunning, ImageDigest: "sha256:bbbb"},
		},
		&api.Task{
			ObjectMeta: meta(awsvpcID),
			Spec: api.TaskSpec{ARN: taskARN(awsvpcID), Family: "api", Version: "7", DesiredStatus: api.TaskStatusRunning,
				NetworkMode: "awsvpc", LaunchType: "EC2", Containers: []string{"web"}, ENIs: []string{"eni-attach-1"}},
			Status: api.TaskStatus{KnownStatus: api.TaskStatusRunning,
				Network: &api.NetworkStatus{Mode: "awsvpc", ID: awsvpcID, IPv4Address: eniIP, EndpointIPv4Address: legIP}},
		},
		&api.Container{
			ObjectMeta: ctr(awsvpcID, "web"),
			Spec: api.ContainerSpec{TaskName: awsvpcID, Name: "web", Image: "web:1", EndpointID: epWeb, Memory: 256,
				PortMappings: []api.PortMapping{{ContainerPort: 8080}}},
			Status: api.ContainerStatus{KnownStatus: api.ContainerStatusRunning, DesiredStatus: api.ContainerStatusRunning,
				RuntimeID: webID, ImageDigest: "sha256:cccc",
				NetworkBindings: []api.NetworkBinding{{BindIP: "0.0.0.0", ContainerPort: 8080, HostPort: 8080, Protocol: "tcp"}}},
		},
		&api.Attachment{
			ObjectMeta: meta("eni-attach-1"),
			Spec: api.AttachmentSpec{AttachmentARN: "arn:aws:ecs:us-west-2:111122223333:attachment/eni-attach-1", TaskARN: taskARN(awsvpcID),
				MACAddress: "0a:1b:2c:3d:4e:5f", IPv4Addresses: []string{eniIP}, IPv6Addresses: []string{"2600:1f14:abc:de01::5"},
				SubnetGatewayIPv4: "10.0.1.1/24", DomainNameServers: []string{"10.0.0.2"}, DomainName: []string{"us-west-2.compute.internal"},
				PrivateDNSName: "ip-10-0-1-5.us-west-2.compute.internal"},
		},
		// A stopped awsvpc task whose network was torn down: its old addresses name nobody.
		&api.Task{
			ObjectMeta: meta(releasedID),
			Spec: api.TaskSpec{ARN: taskARN(releasedID), Family: "old", Version: "1", DesiredStatus: api.TaskStatusStopped,
				NetworkMode: "awsvpc", Containers: []string{}},
			Status: api.TaskStatus{KnownStatus: api.TaskStatusStopped,
				Network: &api.NetworkStatus{Mode: "awsvpc", IPv4Address: "10.0.1.77", EndpointIPv4Address: "169.254.172.77", ReleasedAt: ts("2026-07-01T11:00:00Z")}},
		},
		&api.Task{
			ObjectMeta: meta(hostID),
			Spec: api.TaskSpec{ARN: taskARN(hostID), Family: "agent", Version: "1", DesiredStatus: api.TaskStatusStopped,
				NetworkMode: "host", Containers: []string{"daemon"}},
			Status: api.TaskStatus{KnownStatus: api.TaskStatusRunning},
		},
		&api.Container{
			ObjectMeta: ctr(hostID, "daemon"),
			Spec:       api.ContainerSpec{TaskName: hostID, Name: "daemon", Image: "daemon:2", EndpointID: epHost},
			Status: api.ContainerStatus{KnownStatus: api.ContainerStatusRunning, DesiredStatus: api.ContainerStatusStopped,
				RuntimeID: hostID + "-daemon"},
		},
		// A container whose task object is gone (cleanup in progress).
		&api.Container{
			ObjectMeta: ctr("9d4e5f60718293a4b5c6d7e8f9012345", "lost"),
			Spec:       api.ContainerSpec{TaskName: "9d4e5f60718293a4b5c6d7e8f9012345", Name: "lost", EndpointID: epOrphan},
			Status:     api.ContainerStatus{RuntimeID: "9d4e5f60718293a4b5c6d7e8f9012345-lost"},
		},
	}
}

// fakeStats returns a document for the runtime IDs it knows.
type fakeStats map[string]string

func (f fakeStats) ContainerStats(id string, v4 bool) (any, bool) {
	name, ok := f[id]
	if !ok {
		return nil, false
	}
	doc := map[string]any{"name": name, "id": id}
	if v4 {
		doc["network_rate_stats"] = map[string]any{"rx_bytes_per_sec": 1.5, "tx_bytes_per_sec": 2.5}
	}
	return doc, true
}

// fakeTags answers from a map; a missing ARN fails with err.
type fakeTags struct {
	tags map[string]map[string]string
	err  error
}

func (f fakeTags) ListTags(_ context.Context, arn string) (map[string]string, error) {
	if t, ok := f.tags[arn]; ok {
		return t, nil
	}
	return nil, f.err
}

// options are the handler options over the fixture with a capturing logger.
func (f *fixture) options() Options {
	return Options{
		Reader:      f.st,
		Credentials: f.creds,
		Instance: func() Instance {
			return Instance{Cluster: cluster, ContainerInstanceARN: ciARN, AvailabilityZone: "us-west-2a", AvailabilityZoneID: "usw2-az1", VPCID: "vpc-0abc"}
		},
		CheckCredentialsSource: true,
		HostAddrs:              func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr(hostIP)}, nil },
		AgentVersion:           "0.1.0",
		DataDir:                "/var/lib/ecs/data",
		Logger: funcr.New(func(prefix, args string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.logs = append(f.logs, prefix+" "+args)
		}, funcr.Options{Verbosity: 1}),
		Now: func() time.Time { return f.now },
	}
}

func (f *fixture) handler(t *testing.T, mutate ...func(*Options)) http.Handler {
	t.Helper()
	o := f.options()
	for _, m := range mutate {
		m(&o)
	}
	h, err := NewHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (f *fixture) logLines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.logs...)
}

// do sends a GET for target from source (host:port).
func do(h http.Handler, source, target string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.RemoteAddr = source
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// decode parses a JSON body into generic values so key presence can be compared.
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

// mustJSON parses an expected document written as JSON text.
func mustJSON(t *testing.T, s string) any {
	t.Helper()
	return decode(t, []byte(s))
}

// assertJSON compares a response body with the expected document, key by key.
func assertJSON(t *testing.T, rec *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	got, exp := decode(t, rec.Body.Bytes()), mustJSON(t, want)
	if !reflect.DeepEqual(got, exp) {
		g, _ := json.MarshalIndent(got, "", " ")
		e, _ := json.MarshalIndent(exp, "", " ")
		t.Fatalf("body mismatch\n got: %s\nwant: %s", g, e)
	}
}

func httpRecorder(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
