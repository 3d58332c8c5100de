package controllers

import (
	"testing"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/runtime"
)

// TestRecordExit covers what a user sees of an exit (spec §6.5): the exit code, the finish
// time, OOM kills and processes that never ran.
func TestRecordExit(t *testing.T) {
	fin := testutil.Epoch().Add(time.Minute)
	for _, tc := range []struct {
		name       string
		reason     string // the container's reason before the exit
		st         runtime.ContainerState
		wantReason string
		wantWhy    string // the history entry's reason
	}{
		{name: "a plain exit records its code", st: runtime.ContainerState{Status: runtime.StatusStopped, ExitCode: 3, FinishedAt: fin},
			wantWhy: "exited with code 3"},
		{name: "an exit after a stop keeps the stop's reason", reason: "Essential container in task exited",
			st:         runtime.ContainerState{Status: runtime.StatusStopped, ExitCode: 143, FinishedAt: fin},
			wantReason: "Essential container in task exited", wantWhy: "exited with code 143"},
		{name: "an OOM kill says OutOfMemoryError", st: runtime.ContainerState{Status: runtime.StatusStopped, ExitCode: 137, OOMKilled: true, FinishedAt: fin},
			wantReason: ReasonOOM, wantWhy: ReasonOOM},
		{name: "a process that never ran says why as a failed start",
			st:         runtime.ContainerState{Status: runtime.StatusStopped, ExitCode: 127, StartError: "exec /app: no such file or directory", FinishedAt: fin},
			wantReason: "CannotStartContainerError: exec /app: no such file or directory", wantWhy: "CannotStartContainerError: exec /app: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := unitContainer("app", api.ContainerStatusRunning, api.ContainerStatusRunning)
			c.Status.Reason = tc.reason
			if !recordExit(c, tc.st, testutil.Epoch()) {
				t.Fatal("recordExit reported no change")
			}
			if c.Status.KnownStatus != api.ContainerStatusStopped {
				t.Errorf("known %s, want STOPPED", c.Status.KnownStatus)
			}
			if c.Status.ExitCode == nil || *c.Status.ExitCode != tc.st.ExitCode {
				t.Errorf("exit code %v, want %d", c.Status.ExitCode, tc.st.ExitCode)
			}
			if c.Status.FinishedAt == nil || !c.Status.FinishedAt.Time.Equal(fin) {
				t.Errorf("finishedAt %v, want %v", c.Status.FinishedAt, fin)
			}
			if c.Status.Reason != tc.wantReason {
				t.Errorf("reason %q, want %q", c.Status.Reason, tc.wantReason)
			}
			if h := c.Status.History; len(h) != 1 || h[0].Reason != tc.wantWhy {
				t.Errorf("history %+v, want one transition saying %q", h, tc.wantWhy)
			}
		})
	}
}

func TestRecordExitWithoutFinishTimeUsesNow(t *testing.T) {
	c := unitContainer("app", api.ContainerStatusRunning, api.ContainerStatusRunning)
	now := testutil.Epoch().Add(time.Hour)
	recordExit(c, runtime.ContainerState{Status: runtime.StatusStopped}, now)
	if f := c.Status.FinishedAt; f == nil || !f.Time.Equal(now) {
		t.Fatalf("finishedAt %v, want now", f)
	}
}

func TestRecordExitIsIdempotent(t *testing.T) {
	c := unitContainer("app", api.ContainerStatusStopped, api.ContainerStatusStopped, unitExit(0))
	if recordExit(c, runtime.ContainerState{Status: runtime.StatusStopped, ExitCode: 9}, testutil.Epoch()) {
		t.Fatal("a second exit of a STOPPED container changed it")
	}
	if *c.Status.ExitCode != 0 || len(c.Status.History) != 0 {
		t.Fatalf("status changed: exit %d history %+v", *c.Status.ExitCode, c.Status.History)
	}
}

// TestShouldRestart covers the restart policy rows of spec §6.2.
func TestShouldRestart(t *testing.T) {
	start := testutil.Epoch()
	exitAfter := func(code int32, ran time.Duration) runtime.ContainerState {
		return runtime.ContainerState{Status: runtime.StatusStopped, ExitCode: code, FinishedAt: start.Add(ran)}
	}
	policy := func(p *api.RestartPolicy) func(*api.Container) {
		return func(c *api.Container) {
			c.Spec.RestartPolicy = p
			c.Status.StartedAt = unitAt(0)
		}
	}
	enabled := func(period int64, ignored ...int32) *api.RestartPolicy {
		return &api.RestartPolicy{Enabled: true, RestartAttemptPeriod: period, IgnoredExitCodes: ignored}
	}
	running := api.ContainerStatusRunning
	for _, tc := range []struct {
		name string
		c    *api.Container
		st   runtime.ContainerState
		want bool
	}{
		{"no restart policy: the exit is reported", unitContainer("app", running, running), exitAfter(1, time.Hour), false},
		{"a disabled policy: the exit is reported", unitContainer("app", running, running, policy(&api.RestartPolicy{Enabled: false})), exitAfter(1, time.Hour), false},
		{"enabled, ran long enough: restarted", unitContainer("app", running, running, policy(enabled(10))), exitAfter(1, time.Minute), true},
		{"enabled, exit code 0 restarts too", unitContainer("app", running, running, policy(enabled(10))), exitAfter(0, time.Minute), true},
		{"an ignored exit code is reported", unitContainer("app", running, running, policy(enabled(10, 0, 42))), exitAfter(42, time.Minute), false},
		{"an exit code not in the ignored list restarts", unitContainer("app", running, running, policy(enabled(10, 0, 42))), exitAfter(1, time.Minute), true},
		{"ran less than restartAttemptPeriod: reported", unitContainer("app", running, running, policy(enabled(300))), exitAfter(1, 299*time.Second), false},
		{"ran exactly restartAttemptPeriod: restarted", unitContainer("app", running, running, policy(enabled(300))), exitAfter(1, 300*time.Second), true},
		{"the period counts from the last restart, not the first start",
			unitContainer("app", running, running, policy(enabled(60)), func(c *api.Container) { c.Status.LastRestartAt = unitAt(time.Hour) }),
			exitAfter(1, time.Hour+30*time.Second), false},
		{"long enough since the last restart: restarted again",
			unitContainer("app", running, running, policy(enabled(60)), func(c *api.Container) { c.Status.LastRestartAt = unitAt(time.Hour) }),
			exitAfter(1, time.Hour+61*time.Second), true},
		{"a period of 0 restarts at once", unitContainer("app", running, running, policy(enabled(0))), exitAfter(1, 0), true},
		{"desired STOPPED: never restarted", unitContainer("app", running, api.ContainerStatusStopped, policy(enabled(0))), exitAfter(1, time.Hour), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := shouldRestart(tc.c, tc.st); got != tc.want {
				t.Fatalf("shouldRestart = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNeedsStart(t *testing.T) {
	for _, tc := range []struct {
		known, desired api.ContainerState
		want           bool
	}{
		{api.ContainerStatusPulled, api.ContainerStatusRunning, false},
		{api.ContainerStatusCreated, api.ContainerStatusRunning, true},
		{api.ContainerStatusRunning, api.ContainerStatusRunning, true}, // watched for exits and health
		{api.ContainerStatusStopped, api.ContainerStatusRunning, false},
		{api.ContainerStatusCreated, api.ContainerStatusStopped, false},
		{api.ContainerStatusRunning, api.ContainerStatusStopped, false},
		{api.ContainerStatusCreated, "", false},
	} {
		if got := needsStart(unitContainer("app", tc.known, tc.desired)); got != tc.want {
			t.Errorf("known %s desired %q: needsStart = %v, want %v", tc.known, tc.desired, got, tc.want)
		}
	}
}
