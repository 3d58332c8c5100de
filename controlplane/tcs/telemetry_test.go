package tcs

import (
	"testing"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/stats"
)

// TestTelemetryShape: the sampler's windows and health become TCS's messages field for
// field: sets as CWStatsSets, a restart count only for restart-policy containers, health
// states by TCS's names, status messages cut to the bound without splitting a rune.
func TestTelemetryShape(t *testing.T) {
	task := stats.TaskRef{ARN: taskARN("t1"), Family: "web", Version: "3"}
	two := int64(2)
	metrics := taskMetrics([]stats.TaskUsage{{Task: task, Containers: []stats.ContainerUsage{
		{Name: "app", CPU: &stats.Set{Min: 10, Max: 20, Sum: 40, Count: 3}, Memory: &stats.Set{Min: 80, Max: 110, Sum: 380, Count: 4}, Restarts: &two},
		{Name: "side", CPU: &stats.Set{Min: 1, Max: 1, Sum: 2, Count: 2}},
	}}})
	wantMetrics := []TaskMetric{{TaskArn: taskARN("t1"), TaskDefinitionFamily: "web", TaskDefinitionVersion: "3", ContainerMetrics: []ContainerMetric{
		{ContainerName: "app", CPUStatsSet: &CWStatsSet{Min: 10, Max: 20, SampleCount: 3, Sum: 40},
			MemoryStatsSet: &CWStatsSet{Min: 80, Max: 110, SampleCount: 4, Sum: 380}, RestartStatsSet: &RestartStatsSet{RestartCount: 2}},
		{ContainerName: "side", CPUStatsSet: &CWStatsSet{Min: 1, Max: 1, SampleCount: 2, Sum: 2}},
	}}}
	if g, w := jsonOf(t, metrics), jsonOf(t, wantMetrics); g != w {
		t.Errorf("metrics =\n%s\nwant\n%s", g, w)
	}
	if m := taskMetrics(nil); m != nil {
		t.Errorf("no windows gave %+v", m)
	}

	since := epoch.Add(-time.Minute)
	long := "é" + string(make([]byte, maxStatusMessage)) // 2 + 1024 bytes
	health := taskHealth([]stats.TaskHealth{{Task: task, Containers: []stats.ContainerHealth{
		{Name: "a", Status: api.HealthHealthy, Since: since, Output: "ok"},
		{Name: "b", Status: api.HealthUnknown, Since: epoch},
		{Name: "c", Status: api.HealthUnhealthy, Since: since, Output: long},
	}}})
	wantHealth := []TaskHealth{{TaskArn: taskARN("t1"), TaskDefinitionFamily: "web", TaskDefinitionVersion: "3", Containers: []ContainerHealth{
		{ContainerName: "a", HealthStatus: HealthHealthy, StatusSince: At(since), StatusMessage: "ok"},
		{ContainerName: "b", HealthStatus: HealthUnknown, StatusSince: At(epoch)},
		{ContainerName: "c", HealthStatus: HealthUnhealthy, StatusSince: At(since), StatusMessage: long[:maxStatusMessage]},
	}}}
	if g, w := jsonOf(t, health), jsonOf(t, wantHealth); g != w {
		t.Errorf("health =\n%s\nwant\n%s", g, w)
	}
	if s := truncate("héllo", 2); s != "h" {
		t.Errorf("truncate split a rune: %q", s)
	}
}
