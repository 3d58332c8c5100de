package datadir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/store"
)

type fakeSpace struct{ s store.CheckpointSpace }

func (f *fakeSpace) CheckpointSpace() store.CheckpointSpace { return f.s }
func (f *fakeSpace) RetryCheckpointReserve()                {}

// logLines collects what the monitor logs.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(prefix, args string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, args)
}

func (l *logLines) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// writeStatus writes a logger status record as ecsd-logger does, with a fresh mtime.
func writeStatus(t *testing.T, logPath string, seq int, at time.Time, body string) {
	t.Helper()
	rec := fmt.Sprintf(`{"seq":%d,%s,"updated":"%s","end":%d}`, seq, body, at.Format(time.RFC3339Nano), seq)
	path := logPath + ".status"
	if err := os.WriteFile(path, []byte(rec), 0o640); err != nil {
		t.Fatal(err)
	}
	mt := time.Unix(int64(1000+seq), 0)
	if err := os.Chtimes(path, mt, mt); err != nil {
		t.Fatal(err)
	}
}

func TestMonitorReportsFullAndRecovered(t *testing.T) {
	ctx := context.Background()
	sch := k8sruntime.NewScheme()
	if err := api.AddToScheme(sch); err != nil {
		t.Fatal(err)
	}
	st, err := store.New(ctx, sch)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := st.DirectClient()
	inst := &api.Instance{ObjectMeta: metav1.ObjectMeta{Name: "instance", Namespace: api.Namespace}}
	if err := c.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctr := &api.Container{ObjectMeta: metav1.ObjectMeta{Name: "t1-app", Namespace: api.Namespace},
		Spec: api.ContainerSpec{TaskName: "t1", Name: "app"}}
	if err := c.Create(ctx, ctr); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "app.log")
	ctr.Status.LogPath = logPath
	ctr.Status.KnownStatus = api.ContainerStatusRunning
	if err := c.Status().Update(ctx, ctr); err != nil {
		t.Fatal(err)
	}

	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0)
	space := &fakeSpace{}
	free := uint64(100 << 20)
	logs := &logLines{}
	m := New(c, c, space, Options{DataDir: dir, Instance: client.ObjectKeyFromObject(inst), Clock: clk,
		Log:       funcr.New(logs.add, funcr.Options{}),
		FreeBytes: func(string) (uint64, error) { return free, nil }})

	condition := func() *metav1.Condition {
		t.Helper()
		got := &api.Instance{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
			t.Fatal(err)
		}
		return meta.FindStatusCondition(got.Status.Conditions, api.InstanceConditionDataDirFull)
	}
	container := func() *api.Container {
		t.Helper()
		got := &api.Container{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(ctr), got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	lastHistory := func() api.Transition {
		h := container().Status.History
		if len(h) == 0 {
			t.Fatal("no history")
		}
		return h[len(h)-1]
	}

	m.Check(ctx)
	if cond := condition(); cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != api.InstanceReasonHasSpace {
		t.Fatalf("idle: condition %+v", cond)
	}
	if container().Status.LogDrops != nil {
		t.Fatal("idle: drops recorded")
	}

	// The container's logger starts dropping for lack of space.
	clk.Step(time.Minute)
	writeStatus(t, logPath, 2, clk.Now(), `"dropping":true,"since":"`+clk.Now().Format(time.RFC3339Nano)+
		`","reason":"write /data/app.log: no space left on device","noSpace":true,"droppedBytes":100,"droppedLines":2,"episodes":1,"writtenBytes":5`)
	free = 0
	m.Check(ctx)
	cond := condition()
	if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != api.InstanceReasonNoSpace ||
		!cond.LastTransitionTime.Time.Equal(clk.Now()) || !strings.Contains(cond.Message, "container logs are dropping output") {
		t.Fatalf("full: condition %+v", cond)
	}
	d := container().Status.LogDrops
	if d == nil || !d.Dropping || d.Bytes != 100 || d.Lines != 2 || d.Episodes != 1 || !strings.Contains(d.Reason, "no space left") || d.Since == nil {
		t.Fatalf("full: drops %+v", d)
	}
	if h := lastHistory(); h.From != HistoryLogWriting || h.To != HistoryLogDropping || !strings.Contains(h.Reason, "no space left") {
		t.Fatalf("full: history %+v", h)
	}
	if !logs.has("the data directory is full") {
		t.Fatalf("no log line for the full data directory: %q", logs.lines)
	}
	since := cond.LastTransitionTime

	// Still full, more dropped: counts move, no new history, the condition keeps its time.
	clk.Step(10 * time.Second)
	writeStatus(t, logPath, 3, clk.Now(), `"dropping":true,"since":"`+t0.Add(time.Minute).Format(time.RFC3339Nano)+
		`","reason":"write /data/app.log: no space left on device","noSpace":true,"droppedBytes":5000,"droppedLines":90,"episodes":1,"writtenBytes":5`)
	n := len(container().Status.History)
	m.Check(ctx)
	if d := container().Status.LogDrops; d.Bytes != 5000 || len(container().Status.History) != n {
		t.Fatalf("still full: drops %+v, history %d → %d", d, n, len(container().Status.History))
	}
	if cond := condition(); !cond.LastTransitionTime.Equal(&since) {
		t.Fatalf("still full: transition time moved to %v", cond.LastTransitionTime)
	}

	// Space returns, the logger resumes.
	clk.Step(10 * time.Second)
	writeStatus(t, logPath, 4, clk.Now(), `"dropping":false,"droppedBytes":5100,"droppedLines":92,"episodes":1,"writtenBytes":400`)
	free = 50 << 20
	m.Check(ctx)
	if cond := condition(); cond.Status != metav1.ConditionFalse || !cond.LastTransitionTime.Time.Equal(clk.Now()) {
		t.Fatalf("recovered: condition %+v", cond)
	}
	if d := container().Status.LogDrops; d == nil || d.Dropping || d.Bytes != 5100 || d.Since != nil {
		t.Fatalf("recovered: drops %+v", d)
	}
	if h := lastHistory(); h.To != HistoryLogWriting || !strings.Contains(h.Reason, "5100 bytes (92 lines)") {
		t.Fatalf("recovered: history %+v", h)
	}
	if !logs.has("the data directory has space again") {
		t.Fatal("no log line for the recovery")
	}

	// Little space free is full even before a write fails, and it takes a margin to recover.
	for _, step := range []struct {
		free    uint64
		reserve bool
		full    bool
	}{{512 << 10, false, true}, {2 << 20, false, true}, {5 << 20, false, false}, {5 << 20, true, true}, {5 << 20, false, false}} {
		free, space.s.NoSpace = step.free, step.reserve
		m.Check(ctx)
		if got := condition().Status == metav1.ConditionTrue; got != step.full {
			t.Fatalf("free %d, reserve exhausted %v: full = %v, want %v", step.free, step.reserve, got, step.full)
		}
	}
}

// TestLogTotals: the loggers' counts add up across containers and checks, only grow, keep
// the share of a container that went away, and count a logger that started afresh.
func TestLogTotals(t *testing.T) {
	ctx := context.Background()
	sch := k8sruntime.NewScheme()
	if err := api.AddToScheme(sch); err != nil {
		t.Fatal(err)
	}
	st, err := store.New(ctx, sch)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := st.DirectClient()
	dir := t.TempDir()
	newContainer := func(name string) (*api.Container, string) {
		t.Helper()
		ctr := &api.Container{ObjectMeta: metav1.ObjectMeta{Name: "t1-" + name, Namespace: api.Namespace},
			Spec: api.ContainerSpec{TaskName: "t1", Name: name}}
		if err := c.Create(ctx, ctr); err != nil {
			t.Fatal(err)
		}
		ctr.Status.LogPath = filepath.Join(dir, name+".log")
		if err := c.Status().Update(ctx, ctr); err != nil {
			t.Fatal(err)
		}
		return ctr, ctr.Status.LogPath
	}
	a, aLog := newContainer("a")
	_, bLog := newContainer("b")
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	m := New(c, c, &fakeSpace{}, Options{DataDir: dir, Clock: clk, FreeBytes: func(string) (uint64, error) { return 100 << 20, nil }})
	want := func(what string, w LogTotals) {
		t.Helper()
		if got := m.LogTotals(); got != w {
			t.Fatalf("%s: totals %+v, want %+v", what, got, w)
		}
	}
	m.Check(ctx)
	want("no status files", LogTotals{})

	writeStatus(t, aLog, 1, clk.Now(), `"dropping":false,"droppedBytes":0,"droppedLines":0,"episodes":0,"writtenBytes":100`)
	writeStatus(t, bLog, 2, clk.Now(), `"dropping":false,"droppedBytes":10,"droppedLines":1,"episodes":1,"writtenBytes":50,`+
		`"ship":{"dropping":false,"droppedEvents":2,"droppedBytes":20,"episodes":1,"shippedEvents":7}`)
	m.Check(ctx)
	want("first read of both", LogTotals{WrittenBytes: 150, DroppedBytes: 10, DroppedLines: 1, ShippedEvents: 7, ShipDroppedEvents: 2})
	m.Check(ctx)
	want("unchanged files", LogTotals{WrittenBytes: 150, DroppedBytes: 10, DroppedLines: 1, ShippedEvents: 7, ShipDroppedEvents: 2})

	writeStatus(t, aLog, 3, clk.Now(), `"dropping":false,"droppedBytes":0,"droppedLines":0,"episodes":0,"writtenBytes":130`)
	writeStatus(t, bLog, 4, clk.Now(), `"dropping":false,"droppedBytes":10,"droppedLines":1,"episodes":1,"writtenBytes":50,`+
		`"ship":{"dropping":false,"droppedEvents":2,"droppedBytes":20,"episodes":1,"shippedEvents":12}`)
	m.Check(ctx)
	want("more written and shipped", LogTotals{WrittenBytes: 180, DroppedBytes: 10, DroppedLines: 1, ShippedEvents: 12, ShipDroppedEvents: 2})

	// a's logger starts afresh (counts below the previous ones), then a goes away.
	writeStatus(t, aLog, 5, clk.Now(), `"dropping":false,"droppedBytes":0,"droppedLines":0,"episodes":0,"writtenBytes":20`)
	m.Check(ctx)
	want("a fresh logger", LogTotals{WrittenBytes: 200, DroppedBytes: 10, DroppedLines: 1, ShippedEvents: 12, ShipDroppedEvents: 2})
	if err := c.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	m.Check(ctx)
	want("a removed", LogTotals{WrittenBytes: 200, DroppedBytes: 10, DroppedLines: 1, ShippedEvents: 12, ShipDroppedEvents: 2})
}
