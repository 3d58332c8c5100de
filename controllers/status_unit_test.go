package controllers

import (
	"fmt"
	"strings"
	"testing"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
)

// TestSetContainerKnownOnlyMovesForward covers spec §6.2: a container's known status never
// goes back, and every move is in its history with the reason.
func TestSetContainerKnownOnlyMovesForward(t *testing.T) {
	for _, tc := range []struct {
		name      string
		from, to  api.ContainerState
		moved     bool
		wantKnown api.ContainerState
	}{
		{"NONE to PULLED", "", api.ContainerStatusPulled, true, api.ContainerStatusPulled},
		{"PULLED to CREATED", api.ContainerStatusPulled, api.ContainerStatusCreated, true, api.ContainerStatusCreated},
		{"a step may be skipped: CREATED to STOPPED", api.ContainerStatusCreated, api.ContainerStatusStopped, true, api.ContainerStatusStopped},
		{"RUNNING to RUNNING is no move", api.ContainerStatusRunning, api.ContainerStatusRunning, false, api.ContainerStatusRunning},
		{"STOPPED never goes back to RUNNING", api.ContainerStatusStopped, api.ContainerStatusRunning, false, api.ContainerStatusStopped},
		{"RUNNING never goes back to CREATED", api.ContainerStatusRunning, api.ContainerStatusCreated, false, api.ContainerStatusRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := unitContainer("app", tc.from, api.ContainerStatusRunning)
			now := testutil.Epoch()
			moved := setContainerKnown(c, tc.to, "because", now)
			if moved != tc.moved || c.Status.KnownStatus != tc.wantKnown {
				t.Fatalf("moved %v to %s, want moved %v to %s", moved, c.Status.KnownStatus, tc.moved, tc.wantKnown)
			}
			if !tc.moved {
				if len(c.Status.History) != 0 {
					t.Fatalf("history %+v after no move", c.Status.History)
				}
				return
			}
			h := c.Status.History
			if len(h) != 1 || h[0].From != string(tc.from.OrNone()) || h[0].To != string(tc.to) || h[0].Reason != "because" {
				t.Fatalf("history %+v, want one %s→%s transition saying why", h, tc.from.OrNone(), tc.to)
			}
			if !h[0].Time.Time.Equal(now) {
				t.Fatalf("transition time %v, want %v", h[0].Time, now)
			}
		})
	}
}

func TestStopContainerKeepsTheFirstReason(t *testing.T) {
	c := unitContainer("app", api.ContainerStatusRunning, api.ContainerStatusRunning)
	stopContainer(c, "CannotPullContainerError: not found")
	stopContainer(c, "Essential container in task exited")
	if c.Status.DesiredStatus != api.ContainerStatusStopped {
		t.Fatalf("desired %s, want STOPPED", c.Status.DesiredStatus)
	}
	if c.Status.Reason != "CannotPullContainerError: not found" {
		t.Fatalf("reason %q, want the first one", c.Status.Reason)
	}
}

func TestDesiredContainerDefaultsToNone(t *testing.T) {
	for _, tc := range []struct {
		desired, want api.ContainerState
	}{
		{"", api.ContainerStatusNone},
		{api.ContainerStatusRunning, api.ContainerStatusRunning},
		{api.ContainerStatusStopped, api.ContainerStatusStopped},
	} {
		if got := desiredContainer(unitContainer("app", "", tc.desired)); got != tc.want {
			t.Errorf("desired %q: got %s, want %s", tc.desired, got, tc.want)
		}
	}
}

// TestAppendHistoryIsBounded: an object's history never grows past MaxHistory, and what is
// dropped is the oldest.
func TestAppendHistoryIsBounded(t *testing.T) {
	var h []api.Transition
	for i := range api.MaxHistory + 5 {
		h = appendHistory(h, "A", "B", fmt.Sprint(i), testutil.Epoch())
	}
	if len(h) != api.MaxHistory {
		t.Fatalf("history has %d entries, want %d", len(h), api.MaxHistory)
	}
	if h[0].Reason != "5" || h[len(h)-1].Reason != fmt.Sprint(api.MaxHistory+4) {
		t.Fatalf("history runs %s..%s, want the newest %d", h[0].Reason, h[len(h)-1].Reason, api.MaxHistory)
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("x", 1500)
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 1024, "short"},
		{strings.Repeat("y", 1024), 1024, strings.Repeat("y", 1024)},
		{long, 1024, long[:1024]}, // ECS's 1024-byte reason limit
		{"", 10, ""},
	} {
		if got := truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("truncate(%d bytes, %d) has %d bytes, want %d", len(tc.in), tc.n, len(got), len(tc.want))
		}
	}
}
