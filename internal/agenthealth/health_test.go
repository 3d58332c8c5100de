package agenthealth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/ecsd/ecsd/controlplane/wssession"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func TestEvaluate(t *testing.T) {
	grace := time.Minute
	for _, tc := range []struct {
		name    string
		s       wssession.State
		now     time.Time
		healthy bool
		reason  string
		down    float64
	}{
		{"connected", wssession.State{Connected: true, Since: t0, Connects: 1}, t0.Add(time.Hour), true, "", 0},
		{"never connected, within the grace", wssession.State{Since: t0}, t0.Add(59 * time.Second), true, "", 59},
		{"never connected, at the grace", wssession.State{Since: t0}, t0.Add(time.Minute), true, "", 60},
		{"never connected, past the grace", wssession.State{Since: t0}, t0.Add(61 * time.Second), false, "ACS never connected for 1m1s, longer than 1m0s", 61},
		{"disconnected, within the grace", wssession.State{Since: t0, Connects: 3}, t0.Add(30 * time.Second), true, "", 30},
		{"disconnected, past the grace", wssession.State{Since: t0, Connects: 3}, t0.Add(90 * time.Second), false, "ACS disconnected for 1m30s, longer than 1m0s", 90},
		{"clock behind the change", wssession.State{Since: t0, Connects: 1}, t0.Add(-time.Second), true, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Evaluate(tc.s, tc.now, grace)
			if r.Healthy != tc.healthy || r.Reason != tc.reason || r.ACSDisconnectedSeconds != tc.down ||
				r.ACSConnected != tc.s.Connected || !r.ACSSince.Equal(t0) || r.ACSGraceSeconds != 60 {
				t.Errorf("Evaluate = %+v; want healthy %v, reason %q, down %v", r, tc.healthy, tc.reason, tc.down)
			}
		})
	}
}

// TestHandlerAndProbe: the probe passes a healthy agent, fails an unhealthy one with its
// reason, and fails anything that is not an agent answering a report.
func TestHandlerAndProbe(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	tr := wssession.NewTracker(clk)
	mux := http.NewServeMux()
	mux.Handle(Path, Handler(tr, time.Minute))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { // what introspection answers elsewhere
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"AvailableCommands":["/v1/metadata"]}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()
	c := &http.Client{Timeout: 5 * time.Second}

	if r, err := Probe(ctx, c, srv.URL+Path); err != nil || !r.Healthy {
		t.Fatalf("starting up: %+v, %v", r, err)
	}
	clk.Step(2 * time.Minute)
	r, err := Probe(ctx, c, srv.URL+Path)
	if !errors.Is(err, ErrUnhealthy) || r.Healthy || !strings.Contains(err.Error(), "ACS never connected for 2m0s") {
		t.Fatalf("never connected: %+v, %v", r, err)
	}
	tr.SetConnected(true)
	if r, err := Probe(ctx, c, srv.URL+Path); err != nil || !r.ACSConnected {
		t.Fatalf("connected: %+v, %v", r, err)
	}
	tr.SetConnected(false)
	clk.Step(61 * time.Second)
	if _, err := Probe(ctx, c, srv.URL+Path); !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "ACS disconnected for 1m1s") {
		t.Fatalf("disconnected: %v", err)
	}

	req, _ := http.NewRequest(http.MethodPost, srv.URL+Path, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}

	// Not a health report (an agent without the endpoint), and no agent at all.
	if _, err := Probe(ctx, c, srv.URL+"/elsewhere"); err == nil || errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "not a health report") {
		t.Errorf("not a report: %v", err)
	}
	ln := httptest.NewServer(http.NotFoundHandler())
	addr := ln.URL
	ln.Close()
	if _, err := Probe(ctx, c, addr+Path); err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("no agent: %v", err)
	}
}
