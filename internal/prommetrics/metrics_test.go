package prommetrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/controllers/datadir"
	"github.com/ecsd/ecsd/controlplane/wssession"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/store"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func newStore(t *testing.T) *store.Store {
	t.Helper()
	sch := k8sruntime.NewScheme()
	if err := api.AddToScheme(sch); err != nil {
		t.Fatal(err)
	}
	st, err := store.New(context.Background(), sch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// gather returns every sample of reg as "name{label=value,...}" → value (histograms: their
// sample count as name_count and sum as name_sum).
func gather(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName() + labels(m)
			switch {
			case m.Gauge != nil:
				out[name] = m.GetGauge().GetValue()
			case m.Counter != nil:
				out[name] = m.GetCounter().GetValue()
			case m.Histogram != nil:
				out[mf.GetName()+"_count"] = float64(m.GetHistogram().GetSampleCount())
				out[mf.GetName()+"_sum"] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

func labels(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func wantSamples(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("no sample %s", k)
		} else if g != v {
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
}

func create(t *testing.T, c client.Client, obj client.Object, status func()) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	if status != nil {
		status()
		if err := c.Status().Update(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
	}
}

func TestObjectsAndBacklog(t *testing.T) {
	st := newStore(t)
	c := st.DirectClient()
	clk := clocktesting.NewFakeClock(t0.Add(time.Minute))
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Sources{Reader: c, Clock: clk}); err != nil {
		t.Fatal(err)
	}
	before := gather(t, reg)
	wantSamples(t, before, map[string]float64{"ecsd_tasks{status=RUNNING}": 0, "ecsd_tasks{status=NONE}": 0,
		"ecsd_containers{status=STOPPED}": 0, "ecsd_state_changes_pending": 0, "ecsd_state_changes_oldest_pending_seconds": 0,
		"ecsd_images": 0, "ecsd_image_store_bytes": 0})

	// t1 runs, reported; t2 ran and stopped 30 s ago, STOPPED not yet reported.
	t1 := &api.Task{ObjectMeta: metav1.ObjectMeta{Name: "t1", Namespace: api.Namespace}, Spec: api.TaskSpec{ARN: "arn:t1", Containers: []string{"app"}}}
	create(t, c, t1, func() {
		t1.Status.KnownStatus, t1.Status.SentStatus = api.TaskStatusRunning, api.TaskStatusRunning
		t1.Status.History = []api.Transition{{To: "RUNNING", Time: metav1.NewTime(t0)}}
	})
	c1 := &api.Container{ObjectMeta: metav1.ObjectMeta{Name: "t1-app", Namespace: api.Namespace}, Spec: api.ContainerSpec{TaskName: "t1", Name: "app"}}
	create(t, c, c1, func() {
		c1.Status.KnownStatus, c1.Status.SentStatus = api.ContainerStatusRunning, api.ContainerStatusRunning
		c1.Status.StartedAt = &metav1.Time{Time: t0}
	})
	t2 := &api.Task{ObjectMeta: metav1.ObjectMeta{Name: "t2", Namespace: api.Namespace}, Spec: api.TaskSpec{ARN: "arn:t2", Containers: []string{"app"}}}
	create(t, c, t2, func() {
		t2.Status.KnownStatus, t2.Status.SentStatus = api.TaskStatusStopped, api.TaskStatusRunning
		t2.Status.History = []api.Transition{{To: "RUNNING", Time: metav1.NewTime(t0)}, {To: "STOPPED", Time: metav1.NewTime(t0.Add(30 * time.Second))}}
	})
	c2 := &api.Container{ObjectMeta: metav1.ObjectMeta{Name: "t2-app", Namespace: api.Namespace}, Spec: api.ContainerSpec{TaskName: "t2", Name: "app"}}
	create(t, c, c2, func() {
		c2.Status.KnownStatus, c2.Status.SentStatus = api.ContainerStatusStopped, api.ContainerStatusRunning
		c2.Status.StartedAt = &metav1.Time{Time: t0}
		c2.Status.History = []api.Transition{{To: "STOPPED", Time: metav1.NewTime(t0.Add(30 * time.Second))}}
	})
	img := &api.Image{ObjectMeta: metav1.ObjectMeta{Name: "sha256-a", Namespace: api.Namespace}, Spec: api.ImageSpec{Digest: "sha256:a"}}
	create(t, c, img, func() { img.Status.Size = 1 << 20 })
	img2 := &api.Image{ObjectMeta: metav1.ObjectMeta{Name: "sha256-b", Namespace: api.Namespace}, Spec: api.ImageSpec{Digest: "sha256:b"}}
	create(t, c, img2, func() { img2.Status.Size = 3 << 20 })

	wantSamples(t, gather(t, reg), map[string]float64{
		"ecsd_tasks{status=RUNNING}": 1, "ecsd_tasks{status=STOPPED}": 1, "ecsd_tasks{status=NONE}": 0,
		"ecsd_containers{status=RUNNING}": 1, "ecsd_containers{status=STOPPED}": 1,
		"ecsd_state_changes_pending": 2, "ecsd_state_changes_oldest_pending_seconds": 30,
		"ecsd_images": 2, "ecsd_image_store_bytes": 4 << 20,
	})
	clk.Step(10 * time.Second)
	wantSamples(t, gather(t, reg), map[string]float64{"ecsd_state_changes_oldest_pending_seconds": 40})
}

func TestSessions(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	acs, tcs := wssession.NewTracker(clk), wssession.NewTracker(clk)
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Sources{Reader: newStore(t).DirectClient(), ACS: acs, TCS: tcs, Clock: clk, Version: "1.2.3", GitHash: "abc"}); err != nil {
		t.Fatal(err)
	}
	clk.Step(20 * time.Second)
	got := gather(t, reg)
	wantSamples(t, got, map[string]float64{"ecsd_acs_connected": 0, "ecsd_acs_disconnected_seconds": 20,
		"ecsd_acs_reconnects_total": 0, "ecsd_tcs_connected": 0, "ecsd_build_info{git_hash=abc,version=1.2.3}": 1})
	if _, ok := got["ecsd_acs_last_message_age_seconds"]; ok {
		t.Error("a last message age before any message")
	}

	acs.SetConnected(true)
	tcs.SetConnected(true)
	clk.Step(5 * time.Second)
	acs.FrameReceived()
	clk.Step(3 * time.Second)
	wantSamples(t, gather(t, reg), map[string]float64{"ecsd_acs_connected": 1, "ecsd_acs_disconnected_seconds": 0,
		"ecsd_acs_last_message_age_seconds": 3, "ecsd_tcs_connected": 1})

	acs.SetConnected(false)
	clk.Step(7 * time.Second)
	wantSamples(t, gather(t, reg), map[string]float64{"ecsd_acs_connected": 0, "ecsd_acs_disconnected_seconds": 7,
		"ecsd_acs_last_message_age_seconds": 10, "ecsd_acs_reconnects_total": 0})
	acs.SetConnected(true)
	wantSamples(t, gather(t, reg), map[string]float64{"ecsd_acs_connected": 1, "ecsd_acs_reconnects_total": 1, "ecsd_tcs_reconnects_total": 0})
}

func TestLogTotals(t *testing.T) {
	totals := datadir.LogTotals{WrittenBytes: 100, DroppedLines: 2, DroppedBytes: 30, ShippedEvents: 7, ShipDroppedEvents: 1}
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Sources{Reader: newStore(t).DirectClient(), LogTotals: func() datadir.LogTotals { return totals }}); err != nil {
		t.Fatal(err)
	}
	wantSamples(t, gather(t, reg), map[string]float64{"ecsd_container_log_written_bytes_total": 100,
		"ecsd_container_log_dropped_lines_total": 2, "ecsd_container_log_dropped_bytes_total": 30,
		"ecsd_container_log_shipped_events_total": 7, "ecsd_container_log_ship_dropped_events_total": 1})
	totals.ShippedEvents = 9
	wantSamples(t, gather(t, reg), map[string]float64{"ecsd_container_log_shipped_events_total": 9})
}

// TestLaunchAndPull: the launch histogram times a task from its first sight with nothing
// done to RUNNING; tasks seen part-way, or stopped before running, are not launches. The
// pull histogram observes each recorded pull.
func TestLaunchAndPull(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := newStore(t)
	c := st.DirectClient()
	clk := clocktesting.NewFakeClock(t0)
	reg := prometheus.NewRegistry()
	m, err := New(reg, Sources{Reader: c, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	// A task an earlier agent left half-way: seen at start, never timed.
	old := &api.Task{ObjectMeta: metav1.ObjectMeta{Name: "old", Namespace: api.Namespace}, Spec: api.TaskSpec{ARN: "arn:old", DesiredStatus: api.TaskStatusRunning}}
	create(t, c, old, func() { old.Status.KnownStatus = api.TaskStatusCreated })
	if err := m.Watch(ctx, st.Cache()); err != nil {
		t.Fatal(err)
	}
	go func() { _ = st.Cache().Start(ctx) }()
	if !st.Cache().WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	setStatus := func(obj client.Object, f func()) {
		t.Helper()
		if err := store.RetryOnConflict(func() error {
			if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return err
			}
			f()
			return c.Status().Update(ctx, obj)
		}); err != nil {
			t.Fatal(err)
		}
	}
	launched := func(n float64) {
		t.Helper()
		testutil.Eventually(t, "launches observed", func() bool { return gather(t, reg)["ecsd_task_launch_seconds_count"] == n })
	}
	setStatus(old, func() { old.Status.KnownStatus = api.TaskStatusRunning })

	tk := &api.Task{ObjectMeta: metav1.ObjectMeta{Name: "t1", Namespace: api.Namespace}, Spec: api.TaskSpec{ARN: "arn:t1", DesiredStatus: api.TaskStatusRunning}}
	create(t, c, tk, nil)
	testutil.Eventually(t, "the new task timed", func() bool { m.mu.Lock(); defer m.mu.Unlock(); return len(m.launching) == 1 })
	clk.Step(1500 * time.Millisecond)
	setStatus(tk, func() { tk.Status.KnownStatus = api.TaskStatusCreated })
	clk.Step(500 * time.Millisecond)
	setStatus(tk, func() { tk.Status.KnownStatus = api.TaskStatusRunning })
	launched(1)
	if got := gather(t, reg)["ecsd_task_launch_seconds_sum"]; got != 2 {
		t.Errorf("launch took %v s, want 2 (the old task must not count)", got)
	}

	// Stopped before it ran: forgotten, not observed.
	t2 := &api.Task{ObjectMeta: metav1.ObjectMeta{Name: "t2", Namespace: api.Namespace}, Spec: api.TaskSpec{ARN: "arn:t2", DesiredStatus: api.TaskStatusRunning}}
	create(t, c, t2, nil)
	testutil.Eventually(t, "t2 timed", func() bool { m.mu.Lock(); defer m.mu.Unlock(); return len(m.launching) == 1 })
	setStatus(t2, func() { t2.Status.KnownStatus = api.TaskStatusStopped })
	testutil.Eventually(t, "t2 forgotten", func() bool { m.mu.Lock(); defer m.mu.Unlock(); return len(m.launching) == 0 })
	launched(1)

	ctr := &api.Container{ObjectMeta: metav1.ObjectMeta{Name: "t1-app", Namespace: api.Namespace}, Spec: api.ContainerSpec{TaskName: "t1", Name: "app"}}
	create(t, c, ctr, nil)
	setStatus(ctr, func() {
		ctr.Status.PullStartedAt = &metav1.Time{Time: t0}
		ctr.Status.PullStoppedAt = &metav1.Time{Time: t0.Add(250 * time.Millisecond)}
	})
	testutil.Eventually(t, "the pull observed", func() bool { return gather(t, reg)["ecsd_image_pull_seconds_count"] == 1 })
	if got := gather(t, reg)["ecsd_image_pull_seconds_sum"]; got != 0.25 {
		t.Errorf("pull took %v s, want 0.25", got)
	}
	setStatus(ctr, func() { ctr.Status.KnownStatus = api.ContainerStatusRunning })
	if got := gather(t, reg)["ecsd_image_pull_seconds_count"]; got != 1 {
		t.Errorf("%v pulls after a later change, want 1", got)
	}
}

func TestHandler(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Sources{Reader: newStore(t).DirectClient(), ACS: wssession.NewTracker(clk), Clock: clk}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(reg, testr.New(t)))
	defer srv.Close()
	resp, err := http.Get(srv.URL + Path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "\necsd_acs_connected 0\n") ||
		!strings.Contains(string(body), "# TYPE ecsd_tasks gauge") {
		t.Errorf("GET %s: %d\n%s", Path, resp.StatusCode, body)
	}
	for _, tc := range []struct {
		method, path string
		want         int
	}{{http.MethodPost, Path, http.StatusMethodNotAllowed}, {http.MethodGet, "/", http.StatusNotFound},
		{http.MethodGet, "/v1/metadata", http.StatusNotFound}, {http.MethodHead, Path, http.StatusOK}} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}
