package objectapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/store"
)

// A watch from a list's resourceVersion sees exactly the changes after it, read by
// client-go's own watch decoder.
func TestWatchFromResourceVersionWithClientGo(t *testing.T) {
	e := newEnv(t, fixture()...)
	dc, err := dynamic.NewForConfig(&rest.Config{Host: e.srv.URL, BearerToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	tasks := dc.Resource(api.GroupVersion.WithResource("tasks")).Namespace(api.Namespace)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := tasks.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A change before the watch starts, after the list: the watch must replay it.
	setStatus(e, webTask(), func(t *api.Task) { t.Status.StoppedReason = "first" })
	w, err := tasks.Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	setStatus(e, webTask(), func(t *api.Task) { t.Status.KnownStatus = api.TaskStatusStopped })

	for _, want := range []string{"first", "STOPPED"} {
		ev, ok := <-w.ResultChan()
		if !ok {
			t.Fatalf("watch closed before %q", want)
		}
		u := ev.Object.(*unstructured.Unstructured)
		reason, _, _ := unstructured.NestedString(u.Object, "status", "stoppedReason")
		known, _, _ := unstructured.NestedString(u.Object, "status", "knownStatus")
		if ev.Type != watch.Modified || u.GetName() != "web1" || (want == "first" && reason != want) || (want == "STOPPED" && known != want) {
			t.Fatalf("event %s %s reason=%q known=%q, want MODIFIED web1 with %q", ev.Type, u.GetName(), reason, known, want)
		}
	}
}

// Without a resourceVersion a watch starts with the current objects, as ADDED events.
func TestWatchStartsWithCurrentObjects(t *testing.T) {
	e := newEnv(t, fixture()...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := e.open(ctx, nsPath+"/tasks?watch=1", "")
	got := map[string]bool{}
	for range 2 {
		ev := s.mustNext()
		var task api.Task
		if err := json.Unmarshal(ev.Object, &task); err != nil {
			t.Fatal(err)
		}
		if ev.Type != "ADDED" || task.Kind != "Task" {
			t.Errorf("initial event %s %s", ev.Type, task.Kind)
		}
		got[task.Name] = true
	}
	if !got["web1"] || !got["batch1"] {
		t.Errorf("initial events for %v, want web1 and batch1", got)
	}
	e.create(&api.Task{ObjectMeta: om("new1", taskLabels("new1", "web")), Spec: api.TaskSpec{Family: "web", Version: "1"}})
	if ev := s.mustNext(); ev.Type != "ADDED" {
		t.Errorf("after a create: %s", ev.Type)
	}
}

// Selectors apply to a watch as to a list: an object that stops matching is DELETED.
func TestWatchSelectors(t *testing.T) {
	e := newEnv(t, fixture()...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rv := e.st.ResourceVersion()
	q := url.Values{"watch": {"true"}, "resourceVersion": {rv},
		"labelSelector": {api.LabelFamily + "=web"}, "fieldSelector": {"metadata.name=web1"}}
	s := e.open(ctx, nsPath+"/tasks?"+q.Encode(), "")

	// batch1 does not match: its change is not delivered; web1's is.
	setStatus(e, batchTask(), func(t *api.Task) { t.Status.StoppedReason = "batch change" })
	setStatus(e, webTask(), func(t *api.Task) { t.Status.StoppedReason = "web change" })
	ev := s.mustNext()
	var task api.Task
	_ = json.Unmarshal(ev.Object, &task)
	if ev.Type != "MODIFIED" || task.Name != "web1" || task.Status.StoppedReason != "web change" {
		t.Fatalf("event %s %s %q, want MODIFIED web1 with the web change", ev.Type, task.Name, task.Status.StoppedReason)
	}
	// Relabelled out of the selector: DELETED.
	task = *webTask()
	if err := e.st.Get(ctx, client.ObjectKeyFromObject(&task), &task); err != nil {
		t.Fatal(err)
	}
	task.Labels[api.LabelFamily] = "other"
	if err := e.st.Update(ctx, &task); err != nil {
		t.Fatal(err)
	}
	if ev := s.mustNext(); ev.Type != "DELETED" {
		t.Fatalf("after relabelling: %s, want DELETED", ev.Type)
	}
}

// timeoutSeconds ends the watch: the response ends without the client doing anything.
func TestWatchTimeoutSeconds(t *testing.T) {
	e := newEnv(t, fixture()...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	s := e.open(ctx, nsPath+"/tasks?watch=true&timeoutSeconds=1&resourceVersion="+e.st.ResourceVersion(), "")
	if _, err := s.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("watch with timeoutSeconds=1: %v, want the stream to end", err)
	}
	if d := time.Since(start); d < time.Second || d > 10*time.Second {
		t.Errorf("watch ended after %v, want about 1s", d)
	}
}

// WatchList-style clients ask for the initial events and a bookmark marking their end.
func TestWatchInitialEventsBookmark(t *testing.T) {
	e := newEnv(t, fixture()...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := e.open(ctx, nsPath+"/instances?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan", "")
	if ev := s.mustNext(); ev.Type != "ADDED" {
		t.Fatalf("first event %s, want ADDED", ev.Type)
	}
	ev := s.mustNext()
	var m metav1.PartialObjectMetadata
	_ = json.Unmarshal(ev.Object, &m)
	if ev.Type != "BOOKMARK" || m.Annotations[metav1.InitialEventsAnnotationKey] != "true" || m.ResourceVersion == "" || m.Kind != "Instance" {
		t.Fatalf("second event %s %+v, want a BOOKMARK ending the initial events", ev.Type, m)
	}
}

// A resourceVersion older than the store's history gets an ERROR event with 410 Gone,
// which makes a client list again.
func TestWatchTooOldResourceVersion(t *testing.T) {
	e := newEnvWith(t, []store.Option{store.WithHistory(4)}, fixture()...)
	for i := range 10 { // more than the store's history
		setStatus(e, instance(), func(in *api.Instance) { in.Status.ManifestSeqNum = int64(i + 1) })
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := e.open(ctx, nsPath+"/instances?watch=true&resourceVersion=2", "")
	ev := s.mustNext()
	var st metav1.Status
	_ = json.Unmarshal(ev.Object, &st)
	if ev.Type != "ERROR" || st.Code != http.StatusGone || st.Reason != metav1.StatusReasonExpired || st.Kind != "Status" {
		t.Fatalf("event %s %+v, want ERROR 410 Expired", ev.Type, st)
	}
	if _, err := s.next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the error: %v, want the stream to end", err)
	}
}

// The introspection server has 5 s read and write timeouts; a watch and a followed log
// must outlive them. Here they are 300 ms and the streams last well beyond.
func TestStreamsOutliveServerTimeouts(t *testing.T) {
	e := newEnv(t, fixture()...)
	const timeout = 300 * time.Millisecond
	srv := httptest.NewUnstartedServer(e.h)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = timeout, timeout
	srv.Start()
	e.useServer(srv)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := e.open(ctx, nsPath+"/tasks?watch=true&resourceVersion="+e.st.ResourceVersion(), "")
	// Let both server deadlines pass: that is the condition under test.
	<-time.After(3 * timeout)
	setStatus(e, webTask(), func(t *api.Task) { t.Status.StoppedReason = "late" })
	ev, err := s.next()
	if err != nil || ev.Type != "MODIFIED" {
		t.Fatalf("after the server timeouts: %s %v, want the MODIFIED event", ev.Type, err)
	}
}

// Close ends every stream in progress.
func TestCloseEndsWatches(t *testing.T) {
	e := newEnv(t, fixture()...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := e.open(ctx, nsPath+"/tasks?watch=true&resourceVersion="+e.st.ResourceVersion(), "")
	e.h.Close()
	if _, err := s.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after Close: %v, want the stream to end", err)
	}
}
