package tcs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/go-logr/logr/testr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/controlplane/wssession"
	"github.com/ecsd/ecsd/internal/backoff"
	"github.com/ecsd/ecsd/internal/stats"
)

// testOptions are a session's options against f, publishing from a sampler of r's
// containers reading src (steadyStats if nil) every 2 ms until the test ends.
func testOptions(t *testing.T, f *fakeTCS, r client.Reader, src stats.StatsSource) Options {
	t.Helper()
	return Options{
		Config: wssession.Config{
			Endpoint:             func(context.Context) (string, error) { return f.srv.URL + "/tcs", nil },
			Cluster:              testCluster,
			ContainerInstanceARN: testCI,
			Region:               testRegion,
			Credentials:          testCreds(),
			AgentVersion:         "1.2.3",
			AgentHash:            "abc",
			RuntimeVersion:       "2.4.2",
			Logger:               testr.New(t),
		},
		Telemetry: runSampler(t, r, src),
		Timers: Timers{
			PublishInterval: 30 * time.Millisecond,
			Timers:          wssession.Timers{Backoff: backoff.Backoff{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond, Factor: 2}},
		},
	}
}

// run starts a session and stops it when the test ends.
func run(t *testing.T, o Options) {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}

func withTasks(n int) func(frameIn) bool {
	return func(fr frameIn) bool {
		return strings.Count(string(fr.msg), `"taskArn"`) == n
	}
}

func TestPublishMetricsAndHealth(t *testing.T) {
	f := newFakeTCS(t)
	st := newStore(t)
	since := metav1.NewTime(epoch.Add(-time.Hour))
	addTask(t, st, "t1",
		testCtr{name: "app", checked: true, health: &api.Health{Status: api.HealthHealthy, Since: &since}})
	o := testOptions(t, f, st.DirectClient(), newFakeStats(steadyStats))
	connected := make(chan bool, 4)
	o.OnConnected = func(up bool) { connected <- up }
	run(t, o)

	r, _ := f.conn()
	if r.URL.Path != "/tcs/ws" {
		t.Errorf("path %q, want /tcs/ws", r.URL.Path)
	}
	q := r.URL.Query()
	for k, want := range map[string]string{"agentHash": "abc", "agentVersion": "1.2.3", "cluster": testCluster,
		"containerInstance": testCI, "dockerVersion": "2.4.2"} {
		if got := q.Get(k); got != want {
			t.Errorf("query %s=%q, want %q", k, got, want)
		}
	}
	if len(q) != 5 {
		t.Errorf("query %v has extra parameters", q)
	}
	if up := <-connected; !up {
		t.Error("OnConnected(false) before OnConnected(true)")
	}

	m := decode[PublishMetricsRequest](t, f.next(TypePublishMetricsRequest, withTasks(1)))
	md := m.Metadata
	if md == nil || md.Cluster != testCluster || md.ContainerInstance != testCI || md.MessageID == "" || !md.Fin || md.Idle {
		t.Fatalf("metadata %+v", md)
	}
	if m.Timestamp.IsZero() || m.InstanceMetrics != nil {
		t.Errorf("timestamp %v, instance metrics %+v", m.Timestamp.Time(), m.InstanceMetrics)
	}
	tm := m.TaskMetrics[0]
	if tm.TaskArn != taskARN("t1") || tm.TaskDefinitionFamily != "web" || tm.TaskDefinitionVersion != "3" || len(tm.ContainerMetrics) != 1 {
		t.Fatalf("task metric %+v", tm)
	}
	cm := tm.ContainerMetrics[0]
	cpu, mem := cm.CPUStatsSet, cm.MemoryStatsSet
	if cm.ContainerName != "app" || cpu == nil || mem == nil {
		t.Fatalf("container metric %+v", cm)
	}
	// 1 s of CPU per 5 s on 2 CPUs is 10 %; 100 MiB used minus 20 MiB cache is 80 MiB.
	if cpu.SampleCount < 2 || cpu.Min != 10 || cpu.Max != 10 || cpu.Sum != 10*float64(cpu.SampleCount) {
		t.Errorf("cpu set %+v", cpu)
	}
	if mem.SampleCount < cpu.SampleCount || mem.Min != 80 || mem.Max != 80 || mem.Sum != 80*float64(mem.SampleCount) {
		t.Errorf("memory set %+v", mem)
	}
	if cm.RestartStatsSet != nil {
		t.Errorf("restart set %+v for a container without restart policy", cm.RestartStatsSet)
	}

	h := decode[PublishHealthRequest](t, f.next(TypePublishHealthRequest, nil))
	if h.Metadata == nil || !h.Metadata.Fin || h.Metadata.MessageID == "" || h.Metadata.MessageID == md.MessageID || h.Timestamp.IsZero() {
		t.Errorf("health metadata %+v", h.Metadata)
	}
	want := []TaskHealth{{TaskArn: taskARN("t1"), TaskDefinitionFamily: "web", TaskDefinitionVersion: "3",
		Containers: []ContainerHealth{{ContainerName: "app", HealthStatus: HealthHealthy, StatusSince: At(since.Time)}}}}
	if got, want := jsonOf(t, h.Tasks), jsonOf(t, want); got != want {
		t.Errorf("health tasks %s, want %s", got, want)
	}
}

func TestPublishBatches(t *testing.T) {
	f := newFakeTCS(t)
	st := newStore(t)
	for i := range 25 {
		addTask(t, st, fmt.Sprintf("t%02d", i), testCtr{name: "app", checked: true})
	}
	o := testOptions(t, f, st.DirectClient(), newFakeStats(steadyStats))
	root := 42.0
	o.InstanceMetrics = func(context.Context) (*InstanceMetrics, error) {
		return &InstanceMetrics{Storage: &InstanceStorageMetrics{RootFilesystem: &root}}, nil
	}
	run(t, o)

	// Read metrics batches until one covers all 25 tasks (the first publishes may come
	// before every container has two samples).
	var batch []PublishMetricsRequest
	for total := 0; total != 25; {
		batch, total = nil, 0
		for {
			m := decode[PublishMetricsRequest](t, f.next(TypePublishMetricsRequest, nil))
			batch = append(batch, m)
			total += len(m.TaskMetrics)
			if m.Metadata.Fin {
				break
			}
		}
	}
	if len(batch) != 3 {
		t.Fatalf("%d requests, want 3", len(batch))
	}
	seen := map[string]bool{}
	for i, m := range batch {
		if n := len(m.TaskMetrics); n != []int{10, 10, 5}[i] {
			t.Errorf("request %d has %d tasks", i, n)
		}
		if m.Metadata.Fin != (i == 2) || m.Metadata.Idle || m.Metadata.MessageID != batch[0].Metadata.MessageID {
			t.Errorf("request %d metadata %+v", i, m.Metadata)
		}
		if i == 0 && (m.InstanceMetrics == nil || *m.InstanceMetrics.Storage.RootFilesystem != 42) {
			t.Errorf("first request instance metrics %+v", m.InstanceMetrics)
		}
		if i > 0 && m.InstanceMetrics != nil {
			t.Errorf("request %d has instance metrics", i)
		}
		for _, tm := range m.TaskMetrics {
			seen[tm.TaskArn] = true
		}
	}
	if len(seen) != 25 {
		t.Errorf("%d distinct tasks, want 25", len(seen))
	}

	var health []PublishHealthRequest
	for {
		h := decode[PublishHealthRequest](t, f.next(TypePublishHealthRequest, nil))
		health = append(health, h)
		if h.Metadata.Fin {
			break
		}
	}
	if len(health) != 3 || len(health[0].Tasks) != 10 || len(health[1].Tasks) != 10 || len(health[2].Tasks) != 5 ||
		health[0].Metadata.Fin || health[1].Metadata.Fin {
		t.Errorf("health batch of %d requests: %+v", len(health), health)
	}
}

func TestPublishIdle(t *testing.T) {
	f := newFakeTCS(t)
	st := newStore(t)
	run(t, testOptions(t, f, st.DirectClient(), newFakeStats(steadyStats)))
	fr := f.next(TypePublishMetricsRequest, nil)
	m := decode[PublishMetricsRequest](t, fr)
	if !m.Metadata.Idle || !m.Metadata.Fin || m.TaskMetrics != nil || strings.Contains(string(fr.msg), "taskMetrics") {
		t.Errorf("idle request %s", fr.msg)
	}
	// Nothing has a health check, so no health request precedes the next metrics one.
	select {
	case fr := <-f.frames:
		if fr.typ != TypePublishMetricsRequest {
			t.Errorf("after an idle publish: %s %s", fr.typ, fr.msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no second publish")
	}
}

// TestDisableMetrics: with ECS_DISABLE_METRICS no metrics are published (the sampler still
// runs, for the task metadata endpoint), but health is.
func TestDisableMetrics(t *testing.T) {
	f := newFakeTCS(t)
	st := newStore(t)
	addTask(t, st, "t1", testCtr{name: "app", checked: true})
	o := testOptions(t, f, st.DirectClient(), nil)
	o.DisableMetrics = true
	run(t, o)
	// Each publish round sends metrics before health on one ordered connection, so two
	// health requests with nothing else before them prove no metrics were sent.
	for i := range 2 {
		select {
		case fr := <-f.frames:
			if fr.typ != TypePublishHealthRequest {
				t.Fatalf("frame %d is %s, want only PublishHealthRequest", i, fr.typ)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no health published")
		}
	}

	if _, err := New(Options{Config: wssession.Config{Endpoint: o.Endpoint, Credentials: o.Credentials, ContainerInstanceARN: testCI}}); err == nil {
		t.Error("New without a telemetry source succeeded")
	}
}

func TestDisableHealth(t *testing.T) {
	f := newFakeTCS(t)
	st := newStore(t)
	addTask(t, st, "t1", testCtr{name: "app", checked: true})
	o := testOptions(t, f, st.DirectClient(), newFakeStats(steadyStats))
	o.DisableHealth = true
	run(t, o)
	// Health would follow each round's metrics on the same ordered connection.
	for i := range 3 {
		select {
		case fr := <-f.frames:
			if fr.typ != TypePublishMetricsRequest {
				t.Fatalf("frame %d is %s, want only PublishMetricsRequest", i, fr.typ)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no metrics published")
		}
	}
}

func TestReconnectAfterDrop(t *testing.T) {
	f := newFakeTCS(t)
	st := newStore(t)
	addTask(t, st, "t1", testCtr{name: "app"})
	var ups atomic.Int32
	o := testOptions(t, f, st.DirectClient(), newFakeStats(steadyStats))
	o.OnConnected = func(up bool) {
		if up {
			ups.Add(1)
		}
	}
	run(t, o)
	_, ws := f.conn()
	f.next(TypePublishMetricsRequest, func(fr frameIn) bool { return fr.conn == 1 })
	ws.CloseNow() // dropped without a close frame
	f.conn()
	// Publishing resumes on the new connection, with metrics sampled meanwhile.
	f.next(TypePublishMetricsRequest, func(fr frameIn) bool { return fr.conn == 2 && withTasks(1)(fr) })
	if n := ups.Load(); n != 2 {
		t.Errorf("OnConnected(true) called %d times, want 2", n)
	}
}

// TestServerFrames: heartbeats and acks keep the session alive past the heartbeat
// timeout; malformed and unknown frames are dropped without ending it; a
// StopTelemetrySessionMessage ends it and the agent reconnects.
func TestServerFrames(t *testing.T) {
	f := newFakeTCS(t)
	st := newStore(t)
	o := testOptions(t, f, st.DirectClient(), newFakeStats(steadyStats))
	o.Timers.Inactivity = 250 * time.Millisecond // times out after 250–500 ms without one
	run(t, o)
	_, ws := f.conn()
	for _, garbage := range []string{`not json`, `{"type":"NoSuchMessage","message":{}}`, `{"type":"HeartbeatMessage","message":"x"}`,
		`{"message":{}}`, `{"type":"ServerException","message":{"message":"boom"}}`, strings.Repeat("x", maxServerFrame+10)} {
		sendRaw(t, ws, garbage)
	}
	// Keep the session alive for well over the heartbeat timeout: one keep-alive per
	// publish seen, alternating heartbeats and acks.
	start := time.Now()
	keepAlive := []string{`{"type":"HeartbeatMessage","message":{"healthy":true}}`, `{"type":"AckPublishMetric","message":{}}`,
		`{"type":"AckPublishHealth","message":{}}`, `{"type":"AckPublishInstanceStatus","message":{}}`}
	for i := 0; time.Since(start) < 750*time.Millisecond; i++ {
		f.next(TypePublishMetricsRequest, func(fr frameIn) bool { return fr.conn == 1 })
		sendRaw(t, ws, keepAlive[i%len(keepAlive)])
	}
	select {
	case <-f.reqs:
		t.Fatal("the agent reconnected although TCS kept the session alive")
	default:
	}

	sendRaw(t, ws, `{"type":"StopTelemetrySessionMessage","message":{"message":"go away"}}`)
	f.conn()
}

func TestHeartbeatTimeout(t *testing.T) {
	f := newFakeTCS(t)
	st := newStore(t)
	o := testOptions(t, f, st.DirectClient(), newFakeStats(steadyStats))
	o.Timers.Inactivity = 20 * time.Millisecond
	run(t, o)
	f.conn()
	// TCS never sends a heartbeat: the agent gives up on the connection and dials again.
	f.conn()
}

func TestLifetime(t *testing.T) {
	f := newFakeTCS(t)
	st := newStore(t)
	o := testOptions(t, f, st.DirectClient(), newFakeStats(steadyStats))
	o.Timers.Lifetime = 30 * time.Millisecond
	o.Timers.Backoff = backoff.Backoff{Min: time.Hour, Max: time.Hour, Factor: 2}
	run(t, o)
	f.conn()
	// The agent closes an expired connection normally and, as that is a clean close,
	// reconnects at once rather than after the (here, hour-long) backoff.
	select {
	case err := <-f.closed:
		if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Errorf("close %v, want a normal closure", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not close the expired connection")
	}
	f.conn()
}

func TestHandshakeRefused(t *testing.T) {
	f := newFakeTCS(t)
	f.reject = func(w http.ResponseWriter) bool {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"InvalidParameterException":"unknown container instance"}`))
		return true
	}
	st := newStore(t)
	s, err := New(testOptions(t, f, st.DirectClient(), newFakeStats(steadyStats)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.engine.Once(context.Background())
	var ex *Exception
	if !errors.As(err, &ex) || ex.Type != TypeInvalidParameterException || ex.Message != "unknown container instance" {
		t.Fatalf("serveOnce = %v, want InvalidParameterException", err)
	}

	// Nothing listening: the endpoint is reported as failed so it is discovered again.
	o := testOptions(t, f, st.DirectClient(), newFakeStats(steadyStats))
	o.Endpoint = func(context.Context) (string, error) { return "http://127.0.0.1:1/tcs", nil }
	failed := false
	o.EndpointFailed = func() { failed = true }
	s, _ = New(o)
	if _, err := s.engine.Once(context.Background()); err == nil || !failed {
		t.Errorf("dial to a closed port: %v, EndpointFailed called: %v", err, failed)
	}
}

func TestURL(t *testing.T) {
	s := &Session{o: Options{Config: wssession.Config{Cluster: "prod", ContainerInstanceARN: "arn:aws:ecs:r:1:container-instance/prod/x", AgentVersion: "1.0", AgentHash: "h"}}}
	for endpoint, want := range map[string]string{
		"https://ecs-t-1.us-west-2.amazonaws.com":  "wss://ecs-t-1.us-west-2.amazonaws.com/ws?",
		"https://ecs-t-1.us-west-2.amazonaws.com/": "wss://ecs-t-1.us-west-2.amazonaws.com/ws?",
		"http://127.0.0.1:8080/tcs":                "ws://127.0.0.1:8080/tcs/ws?",
	} {
		u, err := s.URL(endpoint)
		if err != nil || !strings.HasPrefix(u, want) {
			t.Errorf("URL(%q) = %q, %v; want prefix %q", endpoint, u, err, want)
		}
		if !strings.HasSuffix(u, "?agentHash=h&agentVersion=1.0&cluster=prod&containerInstance=arn%3Aaws%3Aecs%3Ar%3A1%3Acontainer-instance%2Fprod%2Fx") {
			t.Errorf("URL(%q) = %q: query (no dockerVersion when the runtime version is unknown)", endpoint, u)
		}
	}
	for _, bad := range []string{"ftp://x", "://", "https://"} {
		if _, err := s.URL(bad); err == nil {
			t.Errorf("URL(%q) succeeded", bad)
		}
	}
}

func TestInstanceStatus(t *testing.T) {
	f := newFakeTCS(t)
	st := newStore(t)
	o := testOptions(t, f, st.DirectClient(), newFakeStats(steadyStats))
	o.InstanceStatus = func(context.Context) []InstanceStatus {
		return []InstanceStatus{{Type: "ContainerRuntime", Status: InstanceStatusOK, LastUpdated: At(epoch), LastStatusChange: At(epoch)}}
	}
	run(t, o)
	m := decode[PublishInstanceStatusRequest](t, f.next(TypePublishInstanceStatusRequest, nil))
	if m.Metadata == nil || m.Metadata.RequestID == "" || m.Metadata.Cluster != testCluster || len(m.Statuses) != 1 ||
		m.Statuses[0].Status != InstanceStatusOK || !m.Statuses[0].LastUpdated.Time().Equal(epoch) {
		t.Errorf("instance status %+v", m)
	}
}
