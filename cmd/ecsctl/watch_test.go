package main

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
)

// rowsStarting are the squeezed lines of out that start with prefix.
func rowsStarting(out, prefix string) []string {
	var rows []string
	for _, l := range lines(out) {
		if strings.HasPrefix(l, prefix) {
			rows = append(rows, l)
		}
	}
	return rows
}

// setKnown moves a task to a known status in the store, as a controller would.
func (e *env) setKnown(t *testing.T, name string, s api.TaskState) {
	t.Helper()
	var task api.Task
	if err := e.st.Get(context.Background(), client.ObjectKey{Namespace: api.Namespace, Name: name}, &task); err != nil {
		t.Fatal(err)
	}
	task.Status.KnownStatus = s
	if err := e.st.UpdateStatus(context.Background(), &task); err != nil {
		t.Fatal(err)
	}
}

// TestGetWatch checks that -w prints the table, then a row for each later change.
func TestGetWatch(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	b := e.start(t, "get", "t", "-w")
	b.out.waitFor(t, "the initial table", func(s string) bool {
		return strings.HasPrefix(squeeze(s), "NAME FAMILY:REVISION") && len(rowsStarting(s, "web1 ")) == 1 && len(rowsStarting(s, "batch1 ")) == 1
	})
	e.create(t, newTask("late1", "late", "7", "host", "main"))
	b.out.waitFor(t, "a row for the new task", func(s string) bool { return len(rowsStarting(s, "late1 late:7 RUNNING NONE host 0/1")) == 1 })
	e.setKnown(t, "web1", api.TaskStatusStopped)
	out := b.out.waitFor(t, "web1's new status", func(s string) bool { return len(rowsStarting(s, "web1 web:3 RUNNING STOPPED")) == 1 })
	if n := strings.Count(squeeze(out), "NAME FAMILY:REVISION"); n != 1 {
		t.Errorf("the header was printed %d times:\n%s", n, out)
	}
	if code := b.stop(t); code != 0 {
		t.Errorf("interrupted get -w exited %d; stderr %q", code, b.errOut.String())
	}
}

// TestGetWatchOneObject checks that watching a named object prints its changes only.
func TestGetWatchOneObject(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	b := e.start(t, "get", "task", "web1", "-w", "-o", "name")
	b.out.waitFor(t, "the object", func(s string) bool { return s == "task.ecs.ecsd.io/web1\n" })
	e.setKnown(t, "batch1", api.TaskStatusZombie) // not watched: must not show
	e.setKnown(t, "web1", api.TaskStatusStopped)
	out := b.out.waitFor(t, "the change", func(s string) bool { return s != "task.ecs.ecsd.io/web1\n" })
	if out != "task.ecs.ecsd.io/web1\ntask.ecs.ecsd.io/web1\n" {
		t.Errorf("got %q", out)
	}
	if code := b.stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestGetWatchOnly checks that --watch-only skips the listing.
func TestGetWatchOnly(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	b := e.start(t, "get", "containers", "--watch-only", "-o", "custom-columns=NAME:.metadata.name,KNOWN:.status.knownStatus")
	testutil.Eventually(t, "the watch to start", func() bool { return len(e.watchRequests()) == 1 })
	e.create(t, &api.Container{ObjectMeta: objMeta("late1-main", nil), Spec: api.ContainerSpec{TaskName: "late1", Name: "main", Image: "x"},
		Status: api.ContainerStatus{KnownStatus: api.ContainerStatusPulled}})
	out := b.out.waitFor(t, "the new container", func(s string) bool { return strings.Contains(s, "late1-main") })
	if got := lines(out); len(got) != 2 || got[0] != "NAME KNOWN" || got[1] != "late1-main PULLED" {
		t.Errorf("got %q", got)
	}
}

// TestGetWatchResumes checks that a watch the server ends is opened again from the last
// resourceVersion seen: nothing is missed and nothing is printed twice.
func TestGetWatchResumes(t *testing.T) {
	cut := make(chan struct{})
	var once sync.Once
	e := newEnv(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("watch") == "true" {
				first := false
				once.Do(func() { first = true })
				if first { // the server ends the first watch when the test says so
					ctx, cancel := context.WithCancel(r.Context())
					defer cancel()
					go func() {
						select {
						case <-cut:
						case <-ctx.Done():
						}
						cancel()
					}()
					r = r.WithContext(ctx)
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	e.seed(t)
	b := e.start(t, "get", "t", "-w", "--no-headers")
	b.out.waitFor(t, "the initial rows", func(s string) bool { return len(lines(s)) == 2 })
	late := newTask("late1", "late", "1", "host", "main")
	e.create(t, late)
	b.out.waitFor(t, "late1", func(s string) bool { return len(rowsStarting(s, "late1 ")) == 1 })

	close(cut)
	testutil.Eventually(t, "the watch to be opened again", func() bool { return len(e.watchRequests()) == 2 })
	if rv := e.watchRequests()[1].URL.Query().Get("resourceVersion"); rv != late.ResourceVersion {
		t.Errorf("the watch resumed from resourceVersion %q, want %q (late1's)", rv, late.ResourceVersion)
	}
	e.create(t, newTask("late2", "late", "2", "host", "main"))
	out := b.out.waitFor(t, "late2 after the resume", func(s string) bool { return len(rowsStarting(s, "late2 ")) == 1 })
	if n := len(rowsStarting(out, "late1 ")); n != 1 {
		t.Errorf("late1 printed %d times:\n%s", n, out)
	}
	if code := b.stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}
}
