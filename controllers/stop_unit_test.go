package controllers

import (
	"testing"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// TestStopTimeout covers spec §6.4: a container's own stopTimeout, else
// ECS_CONTAINER_STOP_TIMEOUT.
func TestStopTimeout(t *testing.T) {
	e := &StopReconciler{Options: StopOptions{Timeout: 45 * time.Second}}
	for _, tc := range []struct {
		name    string
		seconds int64
		want    time.Duration
	}{
		{"the container's stopTimeout", 5, 5 * time.Second},
		{"a long stopTimeout is kept", 120, 2 * time.Minute},
		{"none set: ECS_CONTAINER_STOP_TIMEOUT", 0, 45 * time.Second},
		{"a negative value is none", -1, 45 * time.Second},
	} {
		c := unitContainer("app", api.ContainerStatusRunning, api.ContainerStatusStopped, func(c *api.Container) { c.Spec.StopTimeout = tc.seconds })
		if got := e.stopTimeout(c); got != tc.want {
			t.Errorf("%s: stopTimeout = %s, want %s", tc.name, got, tc.want)
		}
	}
}
