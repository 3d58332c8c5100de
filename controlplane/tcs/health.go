package tcs

import (
	"context"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// maxStatusMessage bounds the health-check output sent as a status message: the output
// is a tail of whatever the check printed, and one container must not eat the request
// size budget of ten tasks.
const maxStatusMessage = 1024

// Health returns the health of every running container that has a health check, grouped
// by running task; tasks without such a container are left out, as the reference agent
// does. A container whose check has not reported yet is UNKNOWN since now.
func (c *Collector) Health(ctx context.Context) ([]TaskHealth, error) {
	tasks, err := runningTasks(ctx, c.reader)
	if err != nil {
		return nil, err
	}
	now := c.now()
	var out []TaskHealth
	for _, rt := range tasks {
		var hs []ContainerHealth
		for _, ctr := range rt.containers {
			if !hasHealthCheck(ctr) {
				continue
			}
			hs = append(hs, containerHealth(ctr, now))
		}
		if len(hs) == 0 {
			continue
		}
		out = append(out, TaskHealth{
			TaskArn: rt.task.Spec.ARN, TaskDefinitionFamily: rt.task.Spec.Family,
			TaskDefinitionVersion: rt.task.Spec.Version, Containers: hs,
		})
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
	h := ContainerHealth{ContainerName: c.Spec.Name, HealthStatus: HealthUnknown, StatusSince: At(now)}
	st := c.Status.Health
	if st == nil {
		return h
	}
	switch st.Status {
	case api.HealthHealthy:
		h.HealthStatus = HealthHealthy
	case api.HealthUnhealthy:
		h.HealthStatus = HealthUnhealthy
	}
	if st.Since != nil {
		h.StatusSince = At(st.Since.Time)
	}
	h.StatusMessage = truncate(st.Output, maxStatusMessage)
	return h
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
