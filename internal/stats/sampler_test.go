package stats

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/runtime"
)

// counter counts calls by key; fn gets the 0-based call number.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) next(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	n := c.n[key]
	c.n[key]++
	return n
}

func (c *counter) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

// fakeRuntime reports CPU time growing by 1 s per call, stamped by the test clock, unless
// fn is set, which then answers call n for id.
type fakeRuntime struct {
	calls counter
	clock func() time.Time
	fail  map[string]error
	fn    func(id string, n int) (runtime.Stats, error)
}

func (f *fakeRuntime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	if err := ctx.Err(); err != nil {
		return runtime.Stats{}, err
	}
	n := f.calls.next(id)
	if err := f.fail[id]; err != nil {
		return runtime.Stats{}, err
	}
	if f.fn != nil {
		return f.fn(id, n)
	}
	return runtime.Stats{Time: f.clock(), CgroupVersion: 1, CPUUsageNanos: uint64(n+1) * 1e9,
		MemoryUsage: 10 << 20, MemoryLimit: 64 << 20, Pids: 1}, nil
}

// fakeNet reports eth0 counters growing by rxStep/txStep bytes per read of a path.
type fakeNet struct {
	calls counter
}

const rxStep, txStep = 10000, 2000

func (f *fakeNet) read(path string) (map[string]NetworkStats, error) {
	n := uint64(f.calls.next(path))
	return map[string]NetworkStats{"eth0": {RxBytes: (n + 1) * rxStep, TxBytes: (n + 1) * txStep, RxPackets: 10 * (n + 1)}}, nil
}

func newReader(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	s := k8sruntime.NewScheme()
	if err := api.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
}

func task(name, mode string, containers ...string) *api.Task {
	t := &api.Task{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: api.Namespace},
		Spec: api.TaskSpec{ARN: "arn:aws:ecs:us-west-2:1:task/c/" + name, NetworkMode: mode, Containers: containers}}
	if mode == networkModeAWSVPC {
		t.Status.Network = &api.NetworkStatus{Mode: mode, ID: name, NetNSPath: "/ns/" + name}
	}
	return t
}

// ctr is a container of task; runtimeID "" leaves it without one; a bridge container gets
// its own namespace /ns/<runtimeID>.
func ctr(taskName, name, runtimeID string, state api.ContainerState, bridge bool) *api.Container {
	c := &api.Container{ObjectMeta: metav1.ObjectMeta{Name: api.ContainerName(taskName, name), Namespace: api.Namespace},
		Spec:   api.ContainerSpec{TaskName: taskName, Name: name},
		Status: api.ContainerStatus{KnownStatus: state, RuntimeID: runtimeID}}
	if bridge {
		c.Status.Network = &api.NetworkStatus{Mode: "bridge", ID: runtimeID, NetNSPath: "/ns/" + runtimeID}
	}
	return c
}

func newTestSampler(t *testing.T, r client.Reader, clock *clocktesting.FakeClock, interval time.Duration) (*Sampler, *fakeRuntime, *fakeNet) {
	t.Helper()
	rt := &fakeRuntime{clock: clock.Now}
	nets := &fakeNet{}
	c, err := New(Options{Reader: r, Runtime: rt, Interval: interval, NumCPU: 2, Clock: clock, Logger: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	host := counter{}
	c.hostCPU = func() (uint64, uint32, error) { return uint64(host.next("")+1) * 100e9, 2, nil }
	c.readNet = nets.read
	c.machineMemory = 1 << 30
	return c, rt, nets
}

func doc(t *testing.T, c *Sampler, id string) Stats {
	t.Helper()
	d, ok := c.ContainerStats(id, false)
	if !ok {
		t.Fatalf("no stats for %s", id)
	}
	return d.(Stats)
}

func docV4(t *testing.T, c *Sampler, id string) StatsV4 {
	t.Helper()
	d, ok := c.ContainerStats(id, true)
	if !ok {
		t.Fatalf("no v4 stats for %s", id)
	}
	return d.(StatsV4)
}

func TestSamplerDocuments(t *testing.T) {
	ctx := context.Background()
	r := newReader(t,
		task("t1", "bridge", "app", "init"),
		ctr("t1", "app", "rid-app", api.ContainerStatusRunning, true),
		ctr("t1", "init", "", api.ContainerStatusCreated, false),
		task("t2", networkModeAWSVPC, "a", "b"),
		ctr("t2", "a", "rid-a", api.ContainerStatusRunning, false),
		ctr("t2", "b", "rid-b", api.ContainerStatusRunning, false),
		task("t3", "host", "h"),
		ctr("t3", "h", "rid-h", api.ContainerStatusRunning, false),
		ctr("t3", "gone", "rid-gone", api.ContainerStatusStopped, false),
	)
	clock := clocktesting.NewFakeClock(t0)
	c, rt, nets := newTestSampler(t, r, clock, 10*time.Second)
	if _, ok := c.ContainerStats("rid-app", true); ok {
		t.Fatal("stats before the first sample")
	}

	if err := c.Sample(ctx); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]int{"rid-app": 1, "rid-a": 1, "rid-b": 1, "rid-h": 1, "rid-gone": 0} {
		if n := rt.calls.count(id); n != want {
			t.Errorf("%s sampled %d times, want %d", id, n, want)
		}
	}
	// The awsvpc namespace is read once for both containers; host mode has none.
	if nets.calls.count("/ns/rid-app") != 1 || nets.calls.count("/ns/t2") != 1 || len(nets.calls.n) != 2 {
		t.Errorf("network reads %v", nets.calls.n)
	}
	app := doc(t, c, "rid-app")
	if app.Name != "/rid-app" || app.ID != "rid-app" || !app.Read.Equal(t0) || !app.PreRead.IsZero() ||
		app.CPUStats.CPUUsage.TotalUsage != 1e9 || app.CPUStats.SystemUsage != 100e9 || app.CPUStats.OnlineCPUs != 2 ||
		app.Networks["eth0"].RxBytes != rxStep || app.MemoryStats.Limit != 64<<20 {
		t.Errorf("first app document %+v", app)
	}
	if v4 := docV4(t, c, "rid-app"); v4.NetworkRateStats != nil || v4.Stats.ID != "rid-app" {
		t.Errorf("rate after one sample: %+v", v4.NetworkRateStats)
	}
	if a := doc(t, c, "rid-a"); a.Networks["eth0"].RxBytes != rxStep/2 || a.Networks["eth0"].RxPackets != 5 {
		t.Errorf("awsvpc container networks %+v, want the task's shared by 2", a.Networks)
	}
	if h := docV4(t, c, "rid-h"); h.Networks != nil || h.NetworkRateStats != nil {
		t.Errorf("host-mode container has networks %+v rate %+v", h.Networks, h.NetworkRateStats)
	}

	// Within the interval nothing is due.
	clock.Step(time.Second)
	if err := c.Sample(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rt.calls.count("rid-app"); n != 1 {
		t.Fatalf("resampled after 1s of a 10s interval (%d calls)", n)
	}

	clock.Step(9 * time.Second)
	if err := c.Sample(ctx); err != nil {
		t.Fatal(err)
	}
	app = doc(t, c, "rid-app")
	if !app.PreRead.Equal(t0) || !app.Read.Equal(t0.Add(10*time.Second)) ||
		app.PreCPUStats.CPUUsage.TotalUsage != 1e9 || app.CPUStats.CPUUsage.TotalUsage != 2e9 ||
		app.PreCPUStats.SystemUsage != 100e9 || app.CPUStats.SystemUsage != 200e9 {
		t.Errorf("second app document: read %v preread %v cpu %+v precpu %+v", app.Read, app.PreRead, app.CPUStats, app.PreCPUStats)
	}
	wantRate := NetworkRateStats{RxBytesPerSec: rxStep / 10, TxBytesPerSec: txStep / 10}
	if v4 := docV4(t, c, "rid-app"); v4.NetworkRateStats == nil || *v4.NetworkRateStats != wantRate {
		t.Errorf("bridge rate %+v, want %+v", v4.NetworkRateStats, wantRate)
	}
	wantShared := NetworkRateStats{RxBytesPerSec: rxStep / 2 / 10, TxBytesPerSec: txStep / 2 / 10}
	for _, id := range []string{"rid-a", "rid-b"} {
		if v4 := docV4(t, c, id); v4.NetworkRateStats == nil || *v4.NetworkRateStats != wantShared {
			t.Errorf("%s: task rate %+v, want %+v", id, v4.NetworkRateStats, wantShared)
		}
	}
	if nets.calls.count("/ns/t2") != 2 {
		t.Errorf("task namespace read %d times in two passes", nets.calls.count("/ns/t2"))
	}

	// A container that starts is sampled on the next pass, not an interval later; one
	// that stops (and its task's awsvpc state) is forgotten.
	clock.Step(time.Second)
	setStatus(t, r, "t1-init", func(s *api.ContainerStatus) {
		s.KnownStatus, s.RuntimeID = api.ContainerStatusRunning, "rid-init"
	})
	setStatus(t, r, "t1-app", func(s *api.ContainerStatus) { s.KnownStatus = api.ContainerStatusStopped })
	for _, n := range []string{"t2-a", "t2-b"} {
		setStatus(t, r, n, func(s *api.ContainerStatus) { s.KnownStatus = api.ContainerStatusStopped })
	}
	if err := c.Sample(ctx); err != nil {
		t.Fatal(err)
	}
	if rt.calls.count("rid-init") != 1 || rt.calls.count("rid-h") != 2 {
		t.Errorf("calls init %d host %d, want 1 and 2", rt.calls.count("rid-init"), rt.calls.count("rid-h"))
	}
	if _, ok := c.ContainerStats("rid-init", false); !ok {
		t.Error("new container has no stats after the next pass")
	}
	for _, id := range []string{"rid-app", "rid-a"} {
		if _, ok := c.ContainerStats(id, true); ok {
			t.Errorf("stopped container %s still has stats", id)
		}
	}
	c.mu.RLock()
	left := len(c.taskNets)
	c.mu.RUnlock()
	if left != 0 {
		t.Errorf("awsvpc state of a stopped task kept (%d)", left)
	}
}

func setStatus(t *testing.T, r client.Client, name string, f func(*api.ContainerStatus)) {
	t.Helper()
	ctx := context.Background()
	var c api.Container
	if err := r.Get(ctx, client.ObjectKey{Namespace: api.Namespace, Name: name}, &c); err != nil {
		t.Fatal(err)
	}
	f(&c.Status)
	if err := r.Update(ctx, &c); err != nil {
		t.Fatal(err)
	}
}

func TestSamplerRuntimeErrors(t *testing.T) {
	r := newReader(t, task("t1", "bridge", "app"), ctr("t1", "app", "rid-app", api.ContainerStatusRunning, false))
	clock := clocktesting.NewFakeClock(t0)
	c, rt, _ := newTestSampler(t, r, clock, 10*time.Second)
	rt.fail = map[string]error{"rid-app": fmt.Errorf("shim gone: %w", runtime.ErrNotFound)}
	for range 2 {
		if err := c.Sample(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := c.ContainerStats("rid-app", false); ok {
		t.Error("stats for a container whose reads fail")
	}
	// Without a first sample the container stays due: it is retried every pass.
	if n := rt.calls.count("rid-app"); n != 2 {
		t.Errorf("%d reads in two passes, want 2", n)
	}
}

// TestSamplerRun runs the loop on a fake clock: a container is sampled at once; one started
// later is sampled at the next discovery tick (a second), without resampling the first
// before its interval is up; at the interval both are sampled again and rates appear; Run
// returns when its context ends.
func TestSamplerRun(t *testing.T) {
	r := newReader(t, task("t1", "bridge", "app", "late"),
		ctr("t1", "app", "rid-app", api.ContainerStatusRunning, true),
		ctr("t1", "late", "", api.ContainerStatusCreated, true))
	clock := clocktesting.NewFakeClock(t0)
	c, rt, _ := newTestSampler(t, r, clock, 10*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	testutil.Eventually(t, "first sample", func() bool { _, ok := c.ContainerStats("rid-app", false); return ok })
	setStatus(t, r, "t1-late", func(s *api.ContainerStatus) { s.KnownStatus, s.RuntimeID = api.ContainerStatusRunning, "rid-late" })
	// The ticker exists: Run makes it before its first pass.
	clock.Step(time.Second)
	testutil.Eventually(t, "prompt sample of a new container", func() bool { _, ok := c.ContainerStats("rid-late", false); return ok })
	if n := rt.calls.count("rid-app"); n != 1 {
		t.Errorf("rid-app sampled %d times within its interval", n)
	}
	// A tick that comes while a pass runs may be dropped, but a pass always starts after
	// the last step and sees the clock at the interval.
	for range 9 {
		clock.Step(time.Second)
	}
	testutil.Eventually(t, "a network rate", func() bool {
		d, ok := c.ContainerStats("rid-app", true)
		return ok && d.(StatsV4).NetworkRateStats != nil && d.(StatsV4).NetworkRateStats.RxBytesPerSec > 0
	})
	if n := rt.calls.count("rid-app"); n != 2 {
		t.Errorf("rid-app sampled %d times in one interval and a bit, want 2", n)
	}
	cancel()
	waitDone(t, done)
}

func waitDone(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
