package tcs

import (
	"encoding/json"
	"time"
)

// maxTasksPerRequest is how many tasks one publish request may carry (the model's
// TaskMetrics max, the reference agent's page size for health as well).
const maxTasksPerRequest = 10

// batchMeta is what every request of one publish shares.
type batchMeta struct {
	cluster, containerInstance, messageID string
	at                                    time.Time
}

// metricsRequests splits one publish into requests: at most ten tasks and about 1 MiB of
// JSON each, instance metrics only in the first, fin only on the last, one messageId for
// all. With no tasks and idle set it is a single idle request; with no tasks otherwise
// (containers too young to have two samples) there is nothing to send.
func metricsRequests(m batchMeta, inst *InstanceMetrics, tasks []TaskMetric, idle bool) []PublishMetricsRequest {
	meta := func(fin bool) *MetricsMetadata {
		return &MetricsMetadata{Cluster: m.cluster, ContainerInstance: m.containerInstance, MessageID: m.messageID,
			Idle: idle && len(tasks) == 0, Fin: fin}
	}
	if len(tasks) == 0 {
		if !idle {
			return nil
		}
		return []PublishMetricsRequest{{Metadata: meta(true), InstanceMetrics: inst, Timestamp: At(m.at)}}
	}
	var out []PublishMetricsRequest
	start := 0
	for start < len(tasks) {
		req := PublishMetricsRequest{Metadata: meta(false), Timestamp: At(m.at)}
		if len(out) == 0 {
			req.InstanceMetrics = inst
		}
		size := jsonSize(req) + len(`,"taskMetrics":[]`)
		end := start
		for end < len(tasks) && end-start < maxTasksPerRequest {
			n := jsonSize(tasks[end]) + 1 // and a comma
			// A task too large on its own still goes, alone: TCS may refuse that one
			// request, but the rest of the batch is unaffected.
			if end > start && size+n > maxRequestSize {
				break
			}
			size += n
			end++
		}
		req.TaskMetrics = tasks[start:end]
		out = append(out, req)
		start = end
	}
	out[len(out)-1].Metadata.Fin = true
	return out
}

// healthRequests pages task health into requests of at most ten tasks, fin on the last.
// No task with a health check means no request, as the reference agent does.
func healthRequests(m batchMeta, tasks []TaskHealth) []PublishHealthRequest {
	var out []PublishHealthRequest
	for start := 0; start < len(tasks); start += maxTasksPerRequest {
		end := min(start+maxTasksPerRequest, len(tasks))
		out = append(out, PublishHealthRequest{
			Metadata: &HealthMetadata{Cluster: m.cluster, ContainerInstance: m.containerInstance,
				MessageID: m.messageID, Fin: end == len(tasks)},
			Tasks:     tasks[start:end],
			Timestamp: At(m.at),
		})
	}
	return out
}

// jsonSize is the encoded size of v; the types here always encode.
func jsonSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b)
}
