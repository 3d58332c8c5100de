// Package agenthealth is the agent's own health, as `ecs-agent --healthcheck` asks for
// it: the agent answers on its introspection port (Handler, at Path) and the probe (Probe)
// turns the answer into an exit status, as the reference agent's image health check does
// with /v1/metadata. Healthy means the agent answers and ACS is connected, or has been
// disconnected for less than a grace period, since a dropped session is normal and the
// reconnect backoff repairs it.
package agenthealth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ecsd/ecsd/controlplane/wssession"
)

// Path is the health endpoint on the introspection port. It sits outside the reference
// agent's /v1 paths, whose answers stay as the reference's.
const Path = "/ecsd/v1/health"

// maxBody bounds the answer the probe reads.
const maxBody = 64 << 10

// ErrUnhealthy is returned by Probe for an agent that answered and is not healthy.
var ErrUnhealthy = errors.New("agent unhealthy")

// Report is the health endpoint's answer (JSON).
type Report struct {
	Healthy bool `json:"healthy"`
	// Reason says why not, for an unhealthy agent.
	Reason string `json:"reason,omitempty"`
	// ACSConnected tells whether the ACS session is up; ACSSince is when it came up or
	// went down (the agent's start if it never came up).
	ACSConnected bool      `json:"acsConnected"`
	ACSSince     time.Time `json:"acsSince"`
	// ACSDisconnectedSeconds is how long ACS has been down (0 while connected), and
	// ACSGraceSeconds how long it may be before the agent is unhealthy.
	ACSDisconnectedSeconds float64 `json:"acsDisconnectedSeconds"`
	ACSGraceSeconds        float64 `json:"acsGraceSeconds"`
}

// Evaluate judges an ACS session's state at now.
func Evaluate(s wssession.State, now time.Time, grace time.Duration) Report {
	r := Report{Healthy: true, ACSConnected: s.Connected, ACSSince: s.Since.UTC(), ACSGraceSeconds: grace.Seconds()}
	if s.Connected {
		return r
	}
	down := max(now.Sub(s.Since), 0)
	r.ACSDisconnectedSeconds = down.Seconds()
	if down > grace {
		r.Healthy = false
		what := "disconnected"
		if s.Connects == 0 {
			what = "never connected"
		}
		r.Reason = fmt.Sprintf("ACS %s for %s, longer than %s", what, down.Round(time.Second), grace)
	}
	return r
}

// Handler answers GET and HEAD with the Report of the session tracker's state: 200 when
// healthy, 503 when not. Who may call: anyone who reaches the introspection port; the
// answer holds connection times, nothing about tasks and no secret.
func Handler(acs *wssession.Tracker, grace time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "only GET and HEAD", http.StatusMethodNotAllowed)
			return
		}
		rep := Evaluate(acs.State(), acs.Now(), grace)
		status := http.StatusOK
		if !rep.Healthy {
			status = http.StatusServiceUnavailable
		}
		b, err := json.Marshal(rep)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(b)
	})
}

// Probe asks the agent at url (its introspection port's Path) for its health. It returns
// the agent's report and nil when healthy, the report and an error wrapping ErrUnhealthy
// when the agent says it is not, and another error when the agent does not answer
// properly (not running, wedged past the client's timeout, not an ecsd agent).
func Probe(ctx context.Context, c *http.Client, url string) (Report, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Report{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return Report{}, fmt.Errorf("the agent does not answer: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return Report{}, fmt.Errorf("reading the agent's answer: %w", err)
	}
	var rep Report
	var has struct {
		Healthy *bool `json:"healthy"`
	}
	if json.Unmarshal(body, &rep) != nil || json.Unmarshal(body, &has) != nil || has.Healthy == nil ||
		(resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable) {
		return Report{}, fmt.Errorf("%s answered %s, not a health report", url, resp.Status)
	}
	if resp.StatusCode != http.StatusOK || !rep.Healthy {
		return rep, fmt.Errorf("%w: %s", ErrUnhealthy, rep.Reason)
	}
	return rep, nil
}
