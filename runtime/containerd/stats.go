package containerd

import (
	"context"
	"fmt"
	"time"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"

	"github.com/ecsd/ecsd/runtime"
)

// Stats returns the cumulative usage of the container's cgroup, decoding whichever
// cgroup version the shim reports (v1 on hybrid hosts like this one, v2 on unified).
func (r *Runtime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	ctx = r.withNS(ctx)
	m, err := r.metrics(ctx, id)
	if err != nil {
		return runtime.Stats{}, wrapErr(err, "stats for container %s", id)
	}
	s, err := statsFromMetrics(m, time.Now())
	if err != nil {
		return runtime.Stats{}, fmt.Errorf("stats for container %s: %w", id, err)
	}
	return s, nil
}

// statsFromMetrics converts decoded shim metrics taken at now. It is separate from Stats so
// that the v2 mapping can be tested on a host that only has cgroup v1.
func statsFromMetrics(m any, now time.Time) (runtime.Stats, error) {
	switch m := m.(type) {
	case *v1.Metrics:
		return statsV1(m, now), nil
	case *v2.Metrics:
		return statsV2(m, now), nil
	default:
		return runtime.Stats{}, fmt.Errorf("unexpected metrics type %T", m)
	}
}

// statsV1 maps cgroup v1 metrics field for field onto what Docker reports for v1.
func statsV1(m *v1.Metrics, now time.Time) runtime.Stats {
	s := runtime.Stats{Time: now, CgroupVersion: 1}
	if c := m.CPU; c != nil {
		if u := c.Usage; u != nil {
			s.CPUUsageNanos = u.Total
			s.CPUUserNanos = u.User
			s.CPUKernelNanos = u.Kernel
			s.PerCPUNanos = u.PerCPU
		}
		if t := c.Throttling; t != nil {
			s.CPUPeriods = t.Periods
			s.CPUThrottledPeriods = t.ThrottledPeriods
			s.CPUThrottledNanos = t.ThrottledTime
		}
	}
	if mem := m.Memory; mem != nil {
		if u := mem.Usage; u != nil {
			s.MemoryUsage = u.Usage
			s.MemoryMaxUsage = u.Max
			s.MemoryLimit = u.Limit
			s.MemoryFailcnt = u.Failcnt
		}
		s.MemoryCache = mem.TotalCache
		s.MemoryStat = memoryStatV1(mem)
	}
	if p := m.Pids; p != nil {
		s.Pids = p.Current
		s.PidsLimit = p.Limit
	}
	if b := m.Blkio; b != nil {
		// Non-nil even when empty: Docker's v1 output has [] rather than null here.
		s.BlkioServiceBytes = blkioV1(b.IoServiceBytesRecursive)
		s.BlkioServiced = blkioV1(b.IoServicedRecursive)
	}
	return s
}

// memoryStatV1 is memory.stat under the key names Docker uses for cgroup v1.
func memoryStatV1(m *v1.MemoryStat) map[string]uint64 {
	return map[string]uint64{
		"cache":                     m.Cache,
		"rss":                       m.RSS,
		"rss_huge":                  m.RSSHuge,
		"mapped_file":               m.MappedFile,
		"dirty":                     m.Dirty,
		"writeback":                 m.Writeback,
		"pgpgin":                    m.PgPgIn,
		"pgpgout":                   m.PgPgOut,
		"pgfault":                   m.PgFault,
		"pgmajfault":                m.PgMajFault,
		"inactive_anon":             m.InactiveAnon,
		"active_anon":               m.ActiveAnon,
		"inactive_file":             m.InactiveFile,
		"active_file":               m.ActiveFile,
		"unevictable":               m.Unevictable,
		"hierarchical_memory_limit": m.HierarchicalMemoryLimit,
		"hierarchical_memsw_limit":  m.HierarchicalSwapLimit,
		"total_cache":               m.TotalCache,
		"total_rss":                 m.TotalRSS,
		"total_rss_huge":            m.TotalRSSHuge,
		"total_mapped_file":         m.TotalMappedFile,
		"total_dirty":               m.TotalDirty,
		"total_writeback":           m.TotalWriteback,
		"total_pgpgin":              m.TotalPgPgIn,
		"total_pgpgout":             m.TotalPgPgOut,
		"total_pgfault":             m.TotalPgFault,
		"total_pgmajfault":          m.TotalPgMajFault,
		"total_inactive_anon":       m.TotalInactiveAnon,
		"total_active_anon":         m.TotalActiveAnon,
		"total_inactive_file":       m.TotalInactiveFile,
		"total_active_file":         m.TotalActiveFile,
		"total_unevictable":         m.TotalUnevictable,
	}
}

func blkioV1(in []*v1.BlkIOEntry) []runtime.BlkioEntry {
	out := make([]runtime.BlkioEntry, 0, len(in))
	for _, e := range in {
		if e != nil {
			out = append(out, runtime.BlkioEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
		}
	}
	return out
}

// statsV2 maps cgroup v2 metrics the way Docker does for v2: microsecond counters become
// nanoseconds, failcnt is the memory.events oom count, and io.stat yields read and write
// bytes per device.
func statsV2(m *v2.Metrics, now time.Time) runtime.Stats {
	s := runtime.Stats{Time: now, CgroupVersion: 2}
	if c := m.CPU; c != nil {
		s.CPUUsageNanos = c.UsageUsec * 1000
		s.CPUUserNanos = c.UserUsec * 1000
		s.CPUKernelNanos = c.SystemUsec * 1000
		s.CPUPeriods = c.NrPeriods
		s.CPUThrottledPeriods = c.NrThrottled
		s.CPUThrottledNanos = c.ThrottledUsec * 1000
	}
	if mem := m.Memory; mem != nil {
		s.MemoryUsage = mem.Usage
		s.MemoryLimit = mem.UsageLimit
		s.MemoryCache = mem.InactiveFile
		s.MemoryStat = memoryStatV2(mem)
	}
	if m.MemoryEvents != nil {
		s.MemoryFailcnt = m.MemoryEvents.Oom
	}
	if p := m.Pids; p != nil {
		s.Pids = p.Current
		s.PidsLimit = p.Limit
	}
	if m.Io != nil {
		for _, e := range m.Io.Usage {
			if e == nil {
				continue
			}
			s.BlkioServiceBytes = append(s.BlkioServiceBytes,
				runtime.BlkioEntry{Major: e.Major, Minor: e.Minor, Op: "read", Value: e.Rbytes},
				runtime.BlkioEntry{Major: e.Major, Minor: e.Minor, Op: "write", Value: e.Wbytes})
		}
	}
	return s
}

// memoryStatV2 is memory.stat under the key names Docker uses for cgroup v2.
func memoryStatV2(m *v2.MemoryStat) map[string]uint64 {
	return map[string]uint64{
		"anon":                   m.Anon,
		"file":                   m.File,
		"kernel_stack":           m.KernelStack,
		"slab":                   m.Slab,
		"sock":                   m.Sock,
		"shmem":                  m.Shmem,
		"file_mapped":            m.FileMapped,
		"file_dirty":             m.FileDirty,
		"file_writeback":         m.FileWriteback,
		"anon_thp":               m.AnonThp,
		"inactive_anon":          m.InactiveAnon,
		"active_anon":            m.ActiveAnon,
		"inactive_file":          m.InactiveFile,
		"active_file":            m.ActiveFile,
		"unevictable":            m.Unevictable,
		"slab_reclaimable":       m.SlabReclaimable,
		"slab_unreclaimable":     m.SlabUnreclaimable,
		"pgfault":                m.Pgfault,
		"pgmajfault":             m.Pgmajfault,
		"workingset_refault":     m.WorkingsetRefault,
		"workingset_activate":    m.WorkingsetActivate,
		"workingset_nodereclaim": m.WorkingsetNodereclaim,
		"pgrefill":               m.Pgrefill,
		"pgscan":                 m.Pgscan,
		"pgsteal":                m.Pgsteal,
		"pgactivate":             m.Pgactivate,
		"pgdeactivate":           m.Pgdeactivate,
		"pglazyfree":             m.Pglazyfree,
		"pglazyfreed":            m.Pglazyfreed,
		"thp_fault_alloc":        m.ThpFaultAlloc,
		"thp_collapse_alloc":     m.ThpCollapseAlloc,
	}
}

// metrics fetches and decodes the task's cgroup metrics.
func (r *Runtime) metrics(ctx context.Context, id string) (any, error) {
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return nil, err
	}
	t, err := c.Task(ctx, nil)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, errNotRunning(id)
		}
		return nil, err
	}
	m, err := t.Metrics(ctx)
	if err != nil {
		return nil, err
	}
	if m.Data == nil {
		return nil, fmt.Errorf("no metrics data: %w", errdefs.ErrNotFound)
	}
	return typeurl.UnmarshalAny(m.Data)
}

// oomKilled asks the container's memory cgroup whether the kernel OOM killer acted in it
// (v1 memory.oom_control oom_kill, v2 memory.events oom_kill). It only works while the
// task still exists; any error counts as "no".
func (r *Runtime) oomKilled(ctx context.Context, id string) bool {
	m, err := r.metrics(ctx, id)
	if err != nil {
		return false
	}
	return oomKillIn(m)
}

// oomKillIn reports whether decoded shim metrics count an OOM kill. On cgroup v2 the
// oom_kill count of memory.events is hierarchical: a container killed because its task's
// memory.max (a limit on the parent cgroup) was reached still counts it in its own cgroup,
// while the "oom" count stays with the task's.
func oomKillIn(m any) bool {
	switch m := m.(type) {
	case *v1.Metrics:
		return m.MemoryOomControl != nil && m.MemoryOomControl.OomKill > 0
	case *v2.Metrics:
		return m.MemoryEvents != nil && m.MemoryEvents.OomKill > 0
	}
	return false
}
