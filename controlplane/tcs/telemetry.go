package tcs

import (
	"context"

	"github.com/ecsd/ecsd/internal/stats"
)

// Telemetry is what a session publishes: the agent's one container sampler
// (*stats.Sampler), which the task metadata endpoint reads as well. The session does not
// sample; it only takes the windows and health the sampler keeps.
type Telemetry interface {
	// Flush hands over the publish windows of the containers with enough samples and
	// starts new ones; idle means no task runs.
	Flush() (tasks []stats.TaskUsage, idle bool)
	// Health is the health of the running tasks' health-checked containers.
	Health(ctx context.Context) ([]stats.TaskHealth, error)
}

// taskMetrics turns the sampler's windows into TCS's shape.
func taskMetrics(in []stats.TaskUsage) []TaskMetric {
	var out []TaskMetric
	for _, t := range in {
		tm := TaskMetric{TaskArn: t.Task.ARN, TaskDefinitionFamily: t.Task.Family, TaskDefinitionVersion: t.Task.Version}
		for _, c := range t.Containers {
			m := ContainerMetric{ContainerName: c.Name, CPUStatsSet: statsSet(c.CPU), MemoryStatsSet: statsSet(c.Memory)}
			if c.Restarts != nil {
				m.RestartStatsSet = &RestartStatsSet{RestartCount: *c.Restarts}
			}
			tm.ContainerMetrics = append(tm.ContainerMetrics, m)
		}
		out = append(out, tm)
	}
	return out
}

func statsSet(s *stats.Set) *CWStatsSet {
	if s == nil {
		return nil
	}
	return &CWStatsSet{Min: s.Min, Max: s.Max, SampleCount: s.Count, Sum: s.Sum}
}
