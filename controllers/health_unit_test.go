package controllers

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
)

// TestHealthParamsOf covers how a Docker-shaped health check becomes a command to run
// (spec §6.5) and Docker's defaults.
func TestHealthParamsOf(t *testing.T) {
	hc := func(test ...string) *api.HealthCheck { return &api.HealthCheck{Test: test} }
	for _, tc := range []struct {
		name     string
		hc       *api.HealthCheck
		disabled bool
		want     *healthParams
	}{
		{name: "no health check", hc: nil},
		{name: "an empty test", hc: hc()},
		{name: "NONE disables the image's check", hc: hc("NONE")},
		{name: "CMD without a command", hc: hc("CMD")},
		{name: "ECS_DISABLE_DOCKER_HEALTH_CHECK", hc: hc("CMD", "true"), disabled: true},
		{name: "CMD runs its arguments as they are", hc: hc("CMD", "curl", "-f", "http://localhost/"),
			want: &healthParams{cmd: []string{"curl", "-f", "http://localhost/"}, interval: 30 * time.Second, timeout: 30 * time.Second, retries: 3}},
		{name: "CMD-SHELL runs through /bin/sh -c", hc: hc("CMD-SHELL", "curl -f http://localhost/ || exit 1"),
			want: &healthParams{cmd: []string{"/bin/sh", "-c", "curl -f http://localhost/ || exit 1"}, interval: 30 * time.Second, timeout: 30 * time.Second, retries: 3}},
		{name: "CMD-SHELL joins several words", hc: hc("CMD-SHELL", "test", "-f", "/ready"),
			want: &healthParams{cmd: []string{"/bin/sh", "-c", "test -f /ready"}, interval: 30 * time.Second, timeout: 30 * time.Second, retries: 3}},
		{name: "a bare command list is CMD", hc: hc("/bin/check", "--quick"),
			want: &healthParams{cmd: []string{"/bin/check", "--quick"}, interval: 30 * time.Second, timeout: 30 * time.Second, retries: 3}},
		{name: "the definition's interval, timeout, start period and retries are kept",
			hc: &api.HealthCheck{Test: []string{"CMD", "true"}, Interval: metav1.Duration{Duration: 5 * time.Second},
				Timeout: metav1.Duration{Duration: 2 * time.Second}, StartPeriod: metav1.Duration{Duration: time.Minute}, Retries: 10},
			want: &healthParams{cmd: []string{"true"}, interval: 5 * time.Second, timeout: 2 * time.Second, startPeriod: time.Minute, retries: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := healthParamsOf(unitContainer("app", api.ContainerStatusRunning, api.ContainerStatusRunning,
				func(c *api.Container) { c.Spec.HealthCheck = tc.hc }), HealthOptions{Disable: tc.disabled})
			switch {
			case tc.want == nil && got != nil:
				t.Fatalf("a check would run: %+v", got)
			case tc.want == nil:
			case got == nil:
				t.Fatalf("no check would run, want %+v", tc.want)
			case !slices.Equal(got.cmd, tc.want.cmd) || got.interval != tc.want.interval || got.timeout != tc.want.timeout ||
				got.startPeriod != tc.want.startPeriod || got.retries != tc.want.retries:
				t.Fatalf("params %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestNextHealthCheck: a check is due an interval after the start, then an interval after
// the last check.
func TestNextHealthCheck(t *testing.T) {
	e := &HealthReconciler{Clock: testutil.Clock(), Options: DefaultOptions().Health}
	check := func(c *api.Container) {
		c.Spec.HealthCheck = &api.HealthCheck{Test: []string{"CMD", "true"}, Interval: metav1.Duration{Duration: 30 * time.Second}}
	}
	started := func(ago time.Duration) func(*api.Container) {
		return func(c *api.Container) { c.Status.StartedAt = unitAgo(ago) }
	}
	checked := func(ago time.Duration) func(*api.Container) {
		return func(c *api.Container) {
			c.Status.Health = &api.Health{Status: api.HealthHealthy, CheckedAt: unitAgo(ago)}
		}
	}
	running := api.ContainerStatusRunning
	for _, tc := range []struct {
		name     string
		c        *api.Container
		min, max time.Duration // 0, 0: none to run
	}{
		{"no health check: none", unitContainer("app", running, running, started(time.Second)), 0, 0},
		{"not running: none", unitContainer("app", api.ContainerStatusCreated, running, check), 0, 0},
		{"stopped: none", unitContainer("app", api.ContainerStatusStopped, api.ContainerStatusStopped, check, started(time.Hour)), 0, 0},
		{"running without a start time: one interval", unitContainer("app", running, running, check), 30 * time.Second, 30 * time.Second},
		{"an interval after the start", unitContainer("app", running, running, check, started(10*time.Second)), 15 * time.Second, 20 * time.Second},
		{"an interval after the last check", unitContainer("app", running, running, check, started(time.Hour), checked(25*time.Second)), time.Second, 5 * time.Second},
		{"a check from before a restart does not count", unitContainer("app", running, running, check, checked(time.Hour), started(20*time.Second)), 5 * time.Second, 10 * time.Second},
		{"overdue: at once", unitContainer("app", running, running, check, started(time.Hour)), time.Millisecond, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := e.nextHealthCheck(tc.c)
			if got < tc.min || got > tc.max {
				t.Fatalf("next check in %s, want between %s and %s", got, tc.min, tc.max)
			}
		})
	}
}
