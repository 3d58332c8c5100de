package stats

import (
	"cmp"
	"slices"
	"time"
)

// ContainerSnapshot is the latest sample of one running container in plain figures, for a
// metrics exposition (issue 16's endpoint formats these; nothing here knows its format).
// Counters are cumulative, as the runtime reports them, so that a scraper derives rates
// over its own interval; gauges are the values at At.
type ContainerSnapshot struct {
	// RuntimeID is the container's runtime (containerd) ID; Name its name in its task.
	RuntimeID string
	Name      string
	// Task is the container's task; its ARN is empty for a task the agent has not
	// accepted from ECS yet.
	Task TaskRef
	// At is when the sample was taken.
	At time.Time

	// CPUUsageNanos is the CPU time consumed (counter).
	CPUUsageNanos uint64
	// CPUThrottledNanos is the time throttled by the CFS quota (counter).
	CPUThrottledNanos uint64
	// MemoryUsageBytes is the cgroup's usage, MemoryWorkingSetBytes that minus page
	// cache (what TCS reports), MemoryLimitBytes the limit capped at the host's memory.
	MemoryUsageBytes      uint64
	MemoryWorkingSetBytes uint64
	MemoryLimitBytes      uint64
	// Pids is the number of processes.
	Pids uint64
	// RestartCount is how often the agent restarted the container (restart policy).
	RestartCount int32

	// HasNetwork is false for host networking, whose counters are the host's.
	HasNetwork bool
	// NetworkRxBytes and NetworkTxBytes are the byte counters over all interfaces of the
	// container's namespace (counters); an awsvpc task's are split evenly among its
	// containers, so that summing containers gives the task's traffic once.
	NetworkRxBytes uint64
	NetworkTxBytes uint64
}

// Snapshot returns the latest sample of every sampled running container, sorted by task
// ARN, container name and runtime ID. It copies: the result stays valid after later passes.
func (s *Sampler) Snapshot() []ContainerSnapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]ContainerSnapshot, 0, len(s.containers))
	for id, tr := range s.containers {
		rs := tr.last.Runtime
		cs := ContainerSnapshot{
			RuntimeID: id, Name: tr.name, Task: tr.task, At: rs.Time,
			CPUUsageNanos: rs.CPUUsageNanos, CPUThrottledNanos: rs.CPUThrottledNanos,
			MemoryUsageBytes: rs.MemoryUsage, MemoryWorkingSetBytes: rs.MemoryUsage,
			MemoryLimitBytes: tr.doc.MemoryStats.Limit,
			Pids:             rs.Pids, RestartCount: tr.restartCount,
			HasNetwork: tr.doc.Networks != nil,
		}
		if rs.MemoryCache < rs.MemoryUsage {
			cs.MemoryWorkingSetBytes -= rs.MemoryCache
		}
		for _, n := range tr.doc.Networks {
			cs.NetworkRxBytes += n.RxBytes
			cs.NetworkTxBytes += n.TxBytes
		}
		out = append(out, cs)
	}
	slices.SortFunc(out, func(a, b ContainerSnapshot) int {
		return cmp.Or(cmp.Compare(a.Task.ARN, b.Task.ARN), cmp.Compare(a.Name, b.Name), cmp.Compare(a.RuntimeID, b.RuntimeID))
	})
	return out
}
