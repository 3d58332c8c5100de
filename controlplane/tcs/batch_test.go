package tcs

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func testTasks(n int) []TaskMetric {
	out := make([]TaskMetric, n)
	for i := range out {
		out[i] = TaskMetric{TaskArn: taskARN(fmt.Sprintf("t%02d", i)), TaskDefinitionFamily: "web", TaskDefinitionVersion: "1",
			ContainerMetrics: []ContainerMetric{{ContainerName: "app", CPUStatsSet: &CWStatsSet{Min: 1, Max: 1, SampleCount: 2, Sum: 2}}}}
	}
	return out
}

func TestMetricsRequestsBatching(t *testing.T) {
	m := batchMeta{cluster: testCluster, containerInstance: testCI, messageID: "batch-1", at: epoch}
	inst := &InstanceMetrics{Storage: &InstanceStorageMetrics{}}
	reqs := metricsRequests(m, inst, testTasks(25), false)
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	var arns []string
	for i, r := range reqs {
		wantN := []int{10, 10, 5}[i]
		if len(r.TaskMetrics) != wantN {
			t.Errorf("request %d has %d tasks, want %d", i, len(r.TaskMetrics), wantN)
		}
		if r.Metadata.Fin != (i == 2) || r.Metadata.Idle || r.Metadata.MessageID != "batch-1" ||
			r.Metadata.Cluster != testCluster || r.Metadata.ContainerInstance != testCI {
			t.Errorf("request %d metadata %+v", i, r.Metadata)
		}
		if (r.InstanceMetrics != nil) != (i == 0) {
			t.Errorf("request %d instance metrics %v", i, r.InstanceMetrics)
		}
		if !r.Timestamp.Time().Equal(epoch) {
			t.Errorf("request %d timestamp %v", i, r.Timestamp.Time())
		}
		for _, tm := range r.TaskMetrics {
			arns = append(arns, tm.TaskArn)
		}
	}
	if len(arns) != 25 || arns[0] != taskARN("t00") || arns[24] != taskARN("t24") {
		t.Errorf("tasks out of order or lost: %v", arns)
	}

	// Exactly ten: one request, fin.
	if reqs := metricsRequests(m, inst, testTasks(10), false); len(reqs) != 1 || !reqs[0].Metadata.Fin {
		t.Errorf("10 tasks: %d requests", len(reqs))
	}
	// Idle: one request, idle and fin, no task metrics, instance metrics kept.
	reqs = metricsRequests(m, inst, nil, true)
	if len(reqs) != 1 || !reqs[0].Metadata.Idle || !reqs[0].Metadata.Fin || reqs[0].TaskMetrics != nil || reqs[0].InstanceMetrics == nil {
		t.Errorf("idle: %+v", reqs)
	}
	b, _ := json.Marshal(reqs[0])
	if strings.Contains(string(b), "taskMetrics") || !strings.Contains(string(b), `"idle":true,"fin":true`) {
		t.Errorf("idle request JSON %s", b)
	}
	// Running containers but none with two samples yet: nothing to send.
	if reqs := metricsRequests(m, inst, nil, false); reqs != nil {
		t.Errorf("not idle, no tasks: %+v", reqs)
	}
}

func TestMetricsRequestsSizeLimit(t *testing.T) {
	m := batchMeta{messageID: "big"}
	tasks := testTasks(4)
	for i := range tasks {
		// ~400 KiB each: two fit in 1 MiB, three do not.
		tasks[i].ContainerMetrics[0].ContainerName = strings.Repeat("x", 400<<10)
	}
	reqs := metricsRequests(m, nil, tasks, false)
	if len(reqs) != 2 || len(reqs[0].TaskMetrics) != 2 || len(reqs[1].TaskMetrics) != 2 || !reqs[1].Metadata.Fin || reqs[0].Metadata.Fin {
		t.Fatalf("got %d requests", len(reqs))
	}
	for i, r := range reqs {
		if n := jsonSize(r); n > maxRequestSize {
			t.Errorf("request %d is %d bytes", i, n)
		}
	}
	// One task larger than the limit still goes, alone.
	tasks[0].ContainerMetrics[0].ContainerName = strings.Repeat("x", 2<<20)
	reqs = metricsRequests(m, nil, tasks[:2], false)
	if len(reqs) != 2 || len(reqs[0].TaskMetrics) != 1 {
		t.Fatalf("oversized task: %d requests", len(reqs))
	}
}

func TestHealthRequestsBatching(t *testing.T) {
	m := batchMeta{cluster: testCluster, containerInstance: testCI, messageID: "h-1", at: epoch.Add(time.Second)}
	if reqs := healthRequests(m, nil); reqs != nil {
		t.Errorf("no tasks: %+v", reqs)
	}
	tasks := make([]TaskHealth, 25)
	for i := range tasks {
		tasks[i] = TaskHealth{TaskArn: taskARN(fmt.Sprint(i))}
	}
	reqs := healthRequests(m, tasks)
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		if len(r.Tasks) != []int{10, 10, 5}[i] || r.Metadata.Fin != (i == 2) || r.Metadata.MessageID != "h-1" {
			t.Errorf("request %d: %d tasks, metadata %+v", i, len(r.Tasks), r.Metadata)
		}
	}
}
