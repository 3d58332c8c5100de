package tmds

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRateLimit(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, func(o *Options) { o.SteadyRPS, o.BurstRPS = 2, 3 })
	path := "/v4/" + epApp
	for i := 0; i < 3; i++ {
		if rec := do(h, bridgeIP+":1", path); rec.Code != http.StatusOK {
			t.Fatalf("request %d within burst: status %d", i, rec.Code)
		}
	}
	rec := do(h, bridgeIP+":2", path)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("over burst: status %d, want 429", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if body := rec.Body.String(); body != "You have reached maximum request limit." {
		t.Errorf("body = %q", body)
	}
	throttled := 0
	for _, l := range f.logLines() {
		if strings.HasPrefix(l, "audit ") && strings.Contains(l, `"status"=429`) {
			throttled++
		}
	}
	if throttled != 1 {
		t.Errorf("audited 429s = %d, want 1", throttled)
	}

	// The bucket is per (IP, path): another path and another caller are unaffected.
	if rec := do(h, bridgeIP+":1", path+"/task"); rec.Code != http.StatusOK {
		t.Errorf("other path: status %d", rec.Code)
	}
	if rec := do(h, "127.0.0.1:1", path); rec.Code != http.StatusOK {
		t.Errorf("other caller: status %d", rec.Code)
	}
	// Even answers that are errors or unknown routes count.
	for i := 0; i < 3; i++ {
		do(h, bridgeIP+":1", "/nowhere")
	}
	if rec := do(h, bridgeIP+":1", "/nowhere"); rec.Code != http.StatusTooManyRequests {
		t.Errorf("unknown route over burst: status %d, want 429", rec.Code)
	}

	// Tokens come back at the steady rate.
	f.now = f.now.Add(500 * time.Millisecond)
	if rec := do(h, bridgeIP+":1", path); rec.Code != http.StatusOK {
		t.Errorf("after one refill interval: status %d", rec.Code)
	}
	if rec := do(h, bridgeIP+":1", path); rec.Code != http.StatusTooManyRequests {
		t.Errorf("second request after one interval: status %d, want 429", rec.Code)
	}
	f.now = f.now.Add(2 * time.Second)
	for i := 0; i < 3; i++ {
		if rec := do(h, bridgeIP+":1", path); rec.Code != http.StatusOK {
			t.Fatalf("after full refill, request %d: status %d", i, rec.Code)
		}
	}
}

// TestRateLimitCoversCredentialsAndAgentAPI checks that everything on the server shares
// the limiter, and that unclean paths are redirected before it (as the reference does).
func TestRateLimitCoversCredentialsAndAgentAPI(t *testing.T) {
	f := newFixture(t)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprint(w, r.URL.Path)
	})
	h := f.handler(t, func(o *Options) { o.SteadyRPS, o.BurstRPS, o.AgentAPI = 1, 1, api })
	for _, p := range []string{"/v2/credentials/" + credApp, "/api/" + epApp + "/task-protection/v1/state"} {
		first := do(h, bridgeIP+":1", p)
		if first.Code == http.StatusTooManyRequests {
			t.Fatalf("%s: first request throttled", p)
		}
		if rec := do(h, bridgeIP+":1", p); rec.Code != http.StatusTooManyRequests {
			t.Errorf("%s: second request status %d, want 429", p, rec.Code)
		}
	}
	for i := 0; i < 3; i++ {
		if rec := do(h, bridgeIP+":1", "//api/x"); rec.Code != http.StatusMovedPermanently {
			t.Errorf("redirect %d: status %d, want 301", i, rec.Code)
		}
	}
	rec := do(h, "127.0.0.1:9", "/api/"+epApp+"/task-protection/v1/state")
	if rec.Code != http.StatusTeapot || rec.Body.String() != "/api/"+epApp+"/task-protection/v1/state" {
		t.Errorf("agent API pass-through: %d %q", rec.Code, rec.Body)
	}
}

func TestLimiterEviction(t *testing.T) {
	l := newLimiter(40, 60)
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	for i := 0; i < 100; i++ {
		l.allow("10.0.0.1", fmt.Sprintf("/v2/credentials/%d", i), now)
	}
	if n := l.size(); n != 100 {
		t.Fatalf("buckets = %d, want 100", n)
	}
	// Once every bucket is full again it is dropped on the next sweep.
	l.allow("10.0.0.2", "/v4/x", now.Add(l.idle))
	if n := l.size(); n != 1 {
		t.Fatalf("buckets after idle sweep = %d, want 1", n)
	}
	// A flood of distinct paths within the idle window stays bounded.
	for i := 0; i < maxBuckets+500; i++ {
		l.allow("10.0.0.3", fmt.Sprintf("/flood/%d", i), now.Add(l.idle))
	}
	if n := l.size(); n > maxBuckets {
		t.Fatalf("buckets = %d, exceeds bound %d", n, maxBuckets)
	}
}

func TestClientIP(t *testing.T) {
	for _, tc := range []struct {
		remote, xff, real, want string
	}{
		{"172.17.0.3:4000", "1.2.3.4", "", "172.17.0.3"},
		{"[::1]:4000", "", "", "::1"},
		{"odd", "", "", "odd"},
		{"", "1.2.3.4, 5.6.7.8", "9.9.9.9", "1.2.3.4"},
		{"", "", "9.9.9.9", "9.9.9.9"},
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if tc.real != "" {
			r.Header.Set("X-Real-IP", tc.real)
		}
		if got := clientIP(r); got != tc.want {
			t.Errorf("clientIP(%q, %q, %q) = %q, want %q", tc.remote, tc.xff, tc.real, got, tc.want)
		}
	}
}
