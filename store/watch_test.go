package store

import (
	"context"
	"strconv"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

var taskGVK = v1alpha1.GroupVersion.WithKind("Task")

// next reads one event or fails after a generous timeout (a safety net, not a sleep).
func next(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case e, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	return watch.Event{}
}

func TestWatchFromResourceVersion(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	tk := task("t1")
	if err := s.Create(ctx, tk); err != nil {
		t.Fatal(err)
	}
	afterCreate := tk.ResourceVersion
	tk.Status.KnownStatus = v1alpha1.TaskStatusPulled
	if err := s.UpdateStatus(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, tk); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		rv   string
		want []watch.EventType
	}{
		{"from before create", "1", []watch.EventType{watch.Added, watch.Modified, watch.Deleted}},
		{"from after create", afterCreate, []watch.EventType{watch.Modified, watch.Deleted}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := s.Watch(ctx, taskGVK, tt.rv, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			last := uint64(0)
			for _, want := range tt.want {
				e := next(t, w)
				o := e.Object.(*v1alpha1.Task)
				rv, _ := strconv.ParseUint(o.ResourceVersion, 10, 64)
				if e.Type != want || rv <= last {
					t.Fatalf("got %s at rv %d after %d, want %s with a larger rv", e.Type, rv, last, want)
				}
				last = rv
			}
		})
	}

	// "From now" sees only later writes.
	w, err := s.Watch(ctx, taskGVK, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := s.Create(ctx, task("t2")); err != nil {
		t.Fatal(err)
	}
	if e := next(t, w); e.Type != watch.Added || e.Object.(*v1alpha1.Task).Name != "t2" {
		t.Fatalf("got %s %v", e.Type, e.Object)
	}
}

func TestWatchTooOldIsGone(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, WithHistory(4))
	tk := task("t1")
	if err := s.Create(ctx, tk); err != nil {
		t.Fatal(err)
	}
	first := tk.ResourceVersion
	for i := range 6 {
		tk.Status.StoppedReason = strconv.Itoa(i)
		if err := s.UpdateStatus(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	w, err := s.Watch(ctx, taskGVK, first, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := next(t, w)
	if e.Type != watch.Error {
		t.Fatalf("got %s, want Error", e.Type)
	}
	if err := apierrors.FromObject(e.Object); !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("got %v, want 410 Gone", err)
	}
	if _, ok := <-w.ResultChan(); ok {
		t.Fatal("gone watch not closed")
	}
}

func TestWatchSelectorTransitions(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	w, err := s.Watch(ctx, taskGVK, "", labels.SelectorFromSet(labels.Set{"pick": "me"}))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	tk := task("t1")
	if err := s.Create(ctx, tk); err != nil { // not matching: no event
		t.Fatal(err)
	}
	tk.Labels["pick"] = "me"
	if err := s.Update(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if e := next(t, w); e.Type != watch.Added {
		t.Fatalf("starting to match: got %s, want Added", e.Type)
	}
	delete(tk.Labels, "pick")
	if err := s.Update(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if e := next(t, w); e.Type != watch.Deleted {
		t.Fatalf("stopping to match: got %s, want Deleted", e.Type)
	}
}

func TestSlowWatcherIsClosedNotBlocking(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, WithHistory(2))
	w, err := s.Watch(ctx, taskGVK, "", nil) // never read until the end
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	tk := task("t1")
	if err := s.Create(ctx, tk); err != nil {
		t.Fatal(err)
	}
	// More writes than the watcher can buffer; writers must not block.
	for i := range 2 * (2 + watchBuffer) {
		tk.Status.StoppedReason = strconv.Itoa(i)
		if err := s.UpdateStatus(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for range w.ResultChan() {
		n++
	}
	if n == 0 || n > 2+watchBuffer+1 {
		t.Fatalf("slow watcher got %d events before closing", n)
	}
}

func TestWatchStopsWithContext(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := s.Watch(ctx, taskGVK, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	for range w.ResultChan() {
	}
	s.mu.RLock()
	n := 0
	for _, st := range s.state {
		n += len(st.watchers)
	}
	s.mu.RUnlock()
	if n != 0 {
		t.Fatalf("%d watchers still registered", n)
	}
}

func TestListerWatcher(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	lw, err := s.ListerWatcher(taskGVK)
	if err != nil {
		t.Fatal(err)
	}
	if !lw.IsWatchListSemanticsUnSupported() {
		t.Fatal("client-go would wait for a WatchList bookmark forever")
	}
	if err := s.Create(ctx, task("t1")); err != nil {
		t.Fatal(err)
	}
	obj, err := lw.List(metav1.ListOptions{ResourceVersion: "0", LabelSelector: v1alpha1.LabelFamily + "=web"})
	if err != nil {
		t.Fatal(err)
	}
	l := obj.(*v1alpha1.TaskList)
	if len(l.Items) != 1 || l.ResourceVersion != s.ResourceVersion() {
		t.Fatalf("list %d items at rv %s, store at %s", len(l.Items), l.ResourceVersion, s.ResourceVersion())
	}
	w, err := lw.Watch(metav1.ListOptions{ResourceVersion: l.ResourceVersion, FieldSelector: "metadata.name=t2"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for _, n := range []string{"t3", "t2"} {
		if err := s.Create(ctx, task(n)); err != nil {
			t.Fatal(err)
		}
	}
	if e := next(t, w); e.Object.(client.Object).GetName() != "t2" {
		t.Fatalf("field selector let %s through", e.Object.(client.Object).GetName())
	}
}
