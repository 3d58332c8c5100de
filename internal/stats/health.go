package stats

import (
	"context"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// TaskHealth is the health of one running task's health-checked containers, in
// definition order.
type TaskHealth struct {
	Task       TaskRef
	Containers []ContainerHealth
}

// ContainerHealth is one container's last health-check result.
type ContainerHealth struct {
	Name string
	// Status is HEALTHY, UNHEALTHY or UNKNOWN (no result yet).
	Status api.HealthState
	// Since is when Status began; now for a check that has not reported yet.
	Since time.Time
	// Output is the tail of what the last check printed.
	Output string
}

// Health returns the health of every running container that has a health check, grouped
// by running task (sorted by ARN); tasks without such a container are left out. It reads
// the store now rather than at the last pass: health is not sampled from the runtime, and
// TCS reports the state at publish time. It lists the same running tasks as a pass does,
// so TCS's metrics and health never disagree on what runs.
func (s *Sampler) Health(ctx context.Context) ([]TaskHealth, error) {
	l, err := list(ctx, s.reader)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var out []TaskHealth
	for _, rt := range l.tasks {
		var hs []ContainerHealth
		for _, c := range rt.containers {
			if hasHealthCheck(c) {
				hs = append(hs, containerHealth(c, now))
			}
		}
		if len(hs) > 0 {
			out = append(out, TaskHealth{Task: refOf(rt.task), Containers: hs})
		}
	}
	return out, nil
}

// hasHealthCheck reports whether the container has a health check ecsd runs; Docker's
// ["NONE"] disables an image's check.
func hasHealthCheck(c *api.Container) bool {
	hc := c.Spec.HealthCheck
	return hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE"
}

func containerHealth(c *api.Container, now time.Time) ContainerHealth {
	h := ContainerHealth{Name: c.Spec.Name, Status: api.HealthUnknown, Since: now}
	st := c.Status.Health
	if st == nil {
		return h
	}
	if st.Status == api.HealthHealthy || st.Status == api.HealthUnhealthy {
		h.Status = st.Status
	}
	if st.Since != nil {
		h.Since = st.Since.Time
	}
	h.Output = st.Output
	return h
}
