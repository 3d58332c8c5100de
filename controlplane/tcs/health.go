package tcs

import (
	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/stats"
)

// maxStatusMessage bounds the health-check output sent as a status message: the output
// is a tail of whatever the check printed, and one container must not eat the request
// size budget of ten tasks.
const maxStatusMessage = 1024

// taskHealth turns the sampler's health view into TCS's shape.
func taskHealth(in []stats.TaskHealth) []TaskHealth {
	var out []TaskHealth
	for _, t := range in {
		th := TaskHealth{TaskArn: t.Task.ARN, TaskDefinitionFamily: t.Task.Family, TaskDefinitionVersion: t.Task.Version}
		for _, c := range t.Containers {
			th.Containers = append(th.Containers, ContainerHealth{
				ContainerName: c.Name, HealthStatus: healthStatus(c.Status), StatusSince: At(c.Since),
				StatusMessage: truncate(c.Output, maxStatusMessage),
			})
		}
		out = append(out, th)
	}
	return out
}

func healthStatus(s api.HealthState) string {
	switch s {
	case api.HealthHealthy:
		return HealthHealthy
	case api.HealthUnhealthy:
		return HealthUnhealthy
	}
	return HealthUnknown
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
