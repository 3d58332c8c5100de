package objectapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/go-logr/logr/testr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/server/bearer"
	"github.com/ecsd/ecsd/store"
)

// limitedEnv is an env whose handler has small limits.
func limitedEnv(t *testing.T, l Limits) *env {
	t.Helper()
	e := newEnv(t, fixture()...)
	h, err := NewHandler(Options{Store: e.st, DataDir: e.dataDir, Logger: testr.New(t), Token: bearer.New(testToken), Limits: l})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	e.h.Close()
	e.h = h
	e.srv.Config.Handler = h
	return e
}

// Watches beyond the bound get 429 with Retry-After; closing one frees its slot.
func TestWatchLimit(t *testing.T) {
	e := limitedEnv(t, Limits{MaxWatches: 3, MaxWatchesPerClient: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, cancelFirst := context.WithCancel(ctx)
	w1 := e.open(first, nsPath+"/tasks?watch=true", "")
	w1.mustNext()
	w2 := e.open(ctx, nsPath+"/containers?watch=true", "")
	w2.mustNext()
	code, hdr, body := e.getWithHeader(nsPath + "/tasks?watch=true")
	if code != http.StatusTooManyRequests || hdr.Get("Retry-After") != strconv.Itoa(retryAfterSeconds) {
		t.Fatalf("third watch from one client: %d Retry-After %q %s, want 429 with Retry-After", code, hdr.Get("Retry-After"), body)
	}
	// A list is not a watch: it still answers.
	if code, _ := e.get(nsPath+"/tasks", ""); code != http.StatusOK {
		t.Fatalf("list while the watches are at their bound: %d", code)
	}
	cancelFirst()
	w1.resp.Body.Close()
	testenv.WaitFor(t, "the closed watch's slot to be freed", func() bool { return e.h.watches.inUse() == 1 })
	w3 := e.open(ctx, nsPath+"/tasks?watch=true", "")
	w3.mustNext()
}

// Log follows have their own bound.
func TestFollowLimit(t *testing.T) {
	e := limitedEnv(t, Limits{MaxFollows: 1, MaxFollowsPerClient: 1})
	e.writeLog("line\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := e.open(ctx, logPath+"?follow=true", "")
	if l, err := s.r.ReadString('\n'); err != nil || l != "line\n" {
		t.Fatalf("follow: %q %v", l, err)
	}
	if code, _, _ := e.getWithHeader(logPath + "?follow=true"); code != http.StatusTooManyRequests {
		t.Fatalf("second follow: %d, want 429", code)
	}
	if code, _ := e.get(logPath, ""); code != http.StatusOK {
		t.Fatalf("a plain log read while follows are at their bound: %d", code)
	}
}

func (e *env) getWithHeader(path string) (int, http.Header, []byte) {
	e.t.Helper()
	return rawGet(e.t, e.srv.URL+path, "Bearer "+testToken, "")
}

// Many watchers of one kind share one store watch and each receive every change, in order.
func TestManyWatchersShareOneHub(t *testing.T) {
	e := newEnv(t, fixture()...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rv := e.st.ResourceVersion()
	var ws []*streamResp
	for range 50 {
		ws = append(ws, e.open(ctx, nsPath+"/tasks?watch=true&resourceVersion="+rv, ""))
	}
	for i := range 5 {
		setStatus(e, webTask(), func(t *api.Task) { t.Status.StoppedReason = "r" + strconv.Itoa(i) })
	}
	for n, w := range ws {
		for i := range 5 {
			ev := w.mustNext()
			var tk api.Task
			decodeObject(t, ev.Object, &tk)
			if ev.Type != "MODIFIED" || tk.Status.StoppedReason != "r"+strconv.Itoa(i) {
				t.Fatalf("watcher %d event %d: %s %q", n, i, ev.Type, tk.Status.StoppedReason)
			}
		}
	}
}

func decodeObject(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}

// A watcher that falls more than the history behind is told 410 Expired, never handed a
// gap; the hub's view of the objects stays whole.
func TestHubLaggingWatcherExpires(t *testing.T) {
	e := newEnvWith(t, []store.Option{store.WithHistory(4)}, fixture()...)
	hb := e.h.hubs[e.h.resources.byPlural("instances")]
	_, _, seq := hb.snapshot()
	for i := range 10 {
		setStatus(e, instance(), func(in *api.Instance) { in.Status.ManifestSeqNum = int64(i + 1) })
	}
	testenv.WaitFor(t, "the hub to see every change", func() bool {
		objs, _, _ := hb.snapshot()
		return len(objs) == 1 && objs[0].(*api.Instance).Status.ManifestSeqNum == 10
	})
	if _, _, err := hb.since(seq, nil); !apierrors.IsResourceExpired(err) {
		t.Fatalf("since a seq that left the ring: %v, want 410 Expired", err)
	}
	hb.mu.Lock()
	first := hb.first
	hb.mu.Unlock()
	evs, _, err := hb.since(first, nil)
	if err != nil || len(evs) != 4 || evs[3].obj.(*api.Instance).Status.ManifestSeqNum != 10 {
		t.Fatalf("since the oldest kept event: %d events, %v", len(evs), err)
	}
}
