package stats

import (
	"github.com/ecsd/ecsd/runtime"
)

// Sample is one reading of a container: its cgroup usage, the host CPU counters Docker pairs
// with every reading, and the counters of the network namespace it uses.
type Sample struct {
	Runtime runtime.Stats
	// SystemCPUNanos is the host's total CPU time from /proc/stat, converted from clock ticks
	// to nanoseconds; OnlineCPUs the number of CPUs it lists.
	SystemCPUNanos uint64
	OnlineCPUs     uint32
	// Networks is nil when the container has no network namespace of its own (host mode).
	Networks map[string]NetworkStats
}

// Convert builds the document for the container with runtime ID id from its latest sample
// cur and the one before, prev (nil for the first). machineMemory caps the reported limit
// (0: no cap): an unlimited cgroup reports a huge number, and Docker shows the host's memory
// instead so that usage/limit stays meaningful.
//
// precpu_stats and preread come from prev unless the container's CPU time went backwards,
// which means its task was replaced (restart in place): a delta across two processes would
// be meaningless, so the document then looks like a first sample.
func Convert(id string, cur Sample, prev *Sample, machineMemory uint64) Stats {
	rs := cur.Runtime
	doc := Stats{
		Read:        rs.Time.UTC(),
		PidsStats:   PidsStats{Current: rs.Pids, Limit: rs.PidsLimit},
		BlkioStats:  blkioStats(rs),
		CPUStats:    cpuStats(cur),
		MemoryStats: memoryStats(rs, machineMemory),
		Name:        "/" + id,
		ID:          id,
	}
	if len(cur.Networks) > 0 {
		doc.Networks = cur.Networks
	}
	if prev != nil && prev.Runtime.CPUUsageNanos <= rs.CPUUsageNanos {
		doc.PreRead = prev.Runtime.Time.UTC()
		doc.PreCPUStats = cpuStats(*prev)
	}
	return doc
}

func cpuStats(s Sample) CPUStats {
	rs := s.Runtime
	perCPU := rs.PerCPUNanos
	// cpuacct.usage_percpu lists every possible CPU; like the ECS agent, report only as
	// many as are online so the list matches online_cpus.
	if s.OnlineCPUs > 0 && len(perCPU) > int(s.OnlineCPUs) {
		perCPU = perCPU[:s.OnlineCPUs]
	}
	return CPUStats{
		CPUUsage: CPUUsage{
			TotalUsage:        rs.CPUUsageNanos,
			PercpuUsage:       perCPU,
			UsageInKernelmode: rs.CPUKernelNanos,
			UsageInUsermode:   rs.CPUUserNanos,
		},
		SystemUsage: s.SystemCPUNanos,
		OnlineCPUs:  s.OnlineCPUs,
		ThrottlingData: ThrottlingData{
			Periods:          rs.CPUPeriods,
			ThrottledPeriods: rs.CPUThrottledPeriods,
			ThrottledTime:    rs.CPUThrottledNanos,
		},
	}
}

func memoryStats(rs runtime.Stats, machineMemory uint64) MemoryStats {
	limit := rs.MemoryLimit
	if machineMemory > 0 && limit > machineMemory {
		limit = machineMemory
	}
	return MemoryStats{
		Usage:    rs.MemoryUsage,
		MaxUsage: rs.MemoryMaxUsage,
		Stats:    rs.MemoryStat,
		Failcnt:  rs.MemoryFailcnt,
		Limit:    limit,
	}
}

// blkioStats copies the runtime's lists. Docker prints every v1 list as [] even when the
// kernel reports nothing (most of them come from the CFQ scheduler, gone from modern
// kernels), but on v2 fills io_service_bytes_recursive alone and leaves the rest null.
func blkioStats(rs runtime.Stats) BlkioStats {
	b := BlkioStats{
		IoServiceBytesRecursive: blkioEntries(rs.BlkioServiceBytes),
		IoServicedRecursive:     blkioEntries(rs.BlkioServiced),
	}
	if rs.CgroupVersion == 1 {
		empty := func(l []BlkioStatEntry) []BlkioStatEntry {
			if l == nil {
				return []BlkioStatEntry{}
			}
			return l
		}
		b.IoServiceBytesRecursive = empty(b.IoServiceBytesRecursive)
		b.IoServicedRecursive = empty(b.IoServicedRecursive)
		b.IoQueuedRecursive = []BlkioStatEntry{}
		b.IoServiceTimeRecursive = []BlkioStatEntry{}
		b.IoWaitTimeRecursive = []BlkioStatEntry{}
		b.IoMergedRecursive = []BlkioStatEntry{}
		b.IoTimeRecursive = []BlkioStatEntry{}
		b.SectorsRecursive = []BlkioStatEntry{}
	}
	return b
}

func blkioEntries(in []runtime.BlkioEntry) []BlkioStatEntry {
	if in == nil {
		return nil
	}
	out := make([]BlkioStatEntry, len(in))
	for i, e := range in {
		out[i] = BlkioStatEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value}
	}
	return out
}
