package containerd

import (
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"

	"github.com/ecsd/ecsd/runtime"
)

// TestStatsFromMetricsV2 checks the cgroup v2 mapping on a constructed proto, since this
// host only has cgroup v1: microseconds become nanoseconds, memory.stat gets Docker's v2
// names, failcnt is the oom count, and io.stat becomes read/write byte pairs.
func TestStatsFromMetricsV2(t *testing.T) {
	now := time.Unix(1700000000, 5)
	m := &v2.Metrics{
		Pids: &v2.PidsStat{Current: 7, Limit: 100},
		CPU: &v2.CPUStat{UsageUsec: 3000, UserUsec: 2000, SystemUsec: 1000,
			NrPeriods: 40, NrThrottled: 4, ThrottledUsec: 250},
		Memory: &v2.MemoryStat{
			Anon: 1, File: 2, KernelStack: 3, Slab: 4, Sock: 5, Shmem: 6, FileMapped: 7, FileDirty: 8,
			FileWriteback: 9, AnonThp: 10, InactiveAnon: 11, ActiveAnon: 12, InactiveFile: 13,
			ActiveFile: 14, Unevictable: 15, SlabReclaimable: 16, SlabUnreclaimable: 17, Pgfault: 18,
			Pgmajfault: 19, WorkingsetRefault: 20, WorkingsetActivate: 21, WorkingsetNodereclaim: 22,
			Pgrefill: 23, Pgscan: 24, Pgsteal: 25, Pgactivate: 26, Pgdeactivate: 27, Pglazyfree: 28,
			Pglazyfreed: 29, ThpFaultAlloc: 30, ThpCollapseAlloc: 31,
			Usage: 4096, UsageLimit: 1 << 30, MaxUsage: 8192, SwapUsage: 99,
		},
		MemoryEvents: &v2.MemoryEvents{Max: 9, Oom: 3, OomKill: 1},
		Io: &v2.IOStat{Usage: []*v2.IOEntry{
			{Major: 8, Minor: 0, Rbytes: 100, Wbytes: 200, Rios: 1, Wios: 2},
			nil,
			{Major: 253, Minor: 1, Rbytes: 300, Wbytes: 400, Rios: 3, Wios: 4},
		}},
	}
	got, err := statsFromMetrics(m, now)
	if err != nil {
		t.Fatal(err)
	}
	want := runtime.Stats{
		Time: now, CgroupVersion: 2,
		CPUUsageNanos: 3_000_000, CPUUserNanos: 2_000_000, CPUKernelNanos: 1_000_000,
		CPUPeriods: 40, CPUThrottledPeriods: 4, CPUThrottledNanos: 250_000,
		MemoryUsage: 4096, MemoryLimit: 1 << 30, MemoryFailcnt: 3, MemoryCache: 13,
		MemoryStat: map[string]uint64{
			"anon": 1, "file": 2, "kernel_stack": 3, "slab": 4, "sock": 5, "shmem": 6, "file_mapped": 7,
			"file_dirty": 8, "file_writeback": 9, "anon_thp": 10, "inactive_anon": 11, "active_anon": 12,
			"inactive_file": 13, "active_file": 14, "unevictable": 15, "slab_reclaimable": 16,
			"slab_unreclaimable": 17, "pgfault": 18, "pgmajfault": 19, "workingset_refault": 20,
			"workingset_activate": 21, "workingset_nodereclaim": 22, "pgrefill": 23, "pgscan": 24,
			"pgsteal": 25, "pgactivate": 26, "pgdeactivate": 27, "pglazyfree": 28, "pglazyfreed": 29,
			"thp_fault_alloc": 30, "thp_collapse_alloc": 31,
		},
		Pids: 7, PidsLimit: 100,
		BlkioServiceBytes: []runtime.BlkioEntry{
			{Major: 8, Minor: 0, Op: "read", Value: 100}, {Major: 8, Minor: 0, Op: "write", Value: 200},
			{Major: 253, Minor: 1, Op: "read", Value: 300}, {Major: 253, Minor: 1, Op: "write", Value: 400},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("v2 stats\n got %+v\nwant %+v", got, want)
	}
	// Docker reports neither a v2 high-water mark, per-CPU usage nor I/O counts; neither do we.
	if got.MemoryMaxUsage != 0 || got.PerCPUNanos != nil || got.BlkioServiced != nil {
		t.Errorf("v2-only gaps filled: max %d percpu %v serviced %v", got.MemoryMaxUsage, got.PerCPUNanos, got.BlkioServiced)
	}
}

func TestStatsFromMetricsV1(t *testing.T) {
	now := time.Unix(1700000000, 0)
	m := &v1.Metrics{
		Pids: &v1.PidsStat{Current: 2, Limit: 0},
		CPU: &v1.CPUStat{
			Usage:      &v1.CPUUsage{Total: 900, Kernel: 300, User: 600, PerCPU: []uint64{500, 400}},
			Throttling: &v1.Throttle{Periods: 10, ThrottledPeriods: 2, ThrottledTime: 77},
		},
		Memory: &v1.MemoryStat{
			Cache: 11, RSS: 12, TotalCache: 21, TotalRSS: 22, HierarchicalMemoryLimit: 1 << 62,
			Usage: &v1.MemoryEntry{Usage: 1000, Max: 2000, Limit: 64 << 20, Failcnt: 5},
		},
		Blkio: &v1.BlkIOStat{
			IoServiceBytesRecursive: []*v1.BlkIOEntry{{Major: 202, Minor: 0, Op: "Read", Value: 1}, {Major: 202, Minor: 0, Op: "Total", Value: 1}},
			IoServicedRecursive:     []*v1.BlkIOEntry{{Major: 202, Minor: 0, Op: "Read", Value: 3}},
		},
	}
	got, err := statsFromMetrics(m, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.CgroupVersion != 1 || got.CPUUsageNanos != 900 || got.CPUKernelNanos != 300 || got.CPUUserNanos != 600 ||
		!reflect.DeepEqual(got.PerCPUNanos, []uint64{500, 400}) ||
		got.CPUPeriods != 10 || got.CPUThrottledPeriods != 2 || got.CPUThrottledNanos != 77 {
		t.Errorf("cpu: %+v", got)
	}
	if got.MemoryUsage != 1000 || got.MemoryMaxUsage != 2000 || got.MemoryLimit != 64<<20 || got.MemoryFailcnt != 5 ||
		got.MemoryCache != 21 || got.Pids != 2 || got.PidsLimit != 0 {
		t.Errorf("memory/pids: %+v", got)
	}
	if len(got.MemoryStat) != 32 || got.MemoryStat["cache"] != 11 || got.MemoryStat["rss"] != 12 ||
		got.MemoryStat["total_cache"] != 21 || got.MemoryStat["total_rss"] != 22 ||
		got.MemoryStat["hierarchical_memory_limit"] != 1<<62 {
		t.Errorf("memory.stat: %v", got.MemoryStat)
	}
	for k := range got.MemoryStat {
		if strings.ContainsAny(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZ ") {
			t.Errorf("memory.stat key %q is not a cgroup name", k)
		}
	}
	wantBytes := []runtime.BlkioEntry{{Major: 202, Op: "Read", Value: 1}, {Major: 202, Op: "Total", Value: 1}}
	if !reflect.DeepEqual(got.BlkioServiceBytes, wantBytes) ||
		!reflect.DeepEqual(got.BlkioServiced, []runtime.BlkioEntry{{Major: 202, Op: "Read", Value: 3}}) {
		t.Errorf("blkio: %+v / %+v", got.BlkioServiceBytes, got.BlkioServiced)
	}

	// A v1 cgroup without blkio entries still reports empty, non-nil lists (Docker prints []).
	got, _ = statsFromMetrics(&v1.Metrics{Blkio: &v1.BlkIOStat{}}, now)
	if got.BlkioServiceBytes == nil || got.BlkioServiced == nil {
		t.Errorf("empty v1 blkio = %#v %#v, want empty non-nil", got.BlkioServiceBytes, got.BlkioServiced)
	}
}

func TestStatsFromMetricsUnknown(t *testing.T) {
	if _, err := statsFromMetrics(&v1.PidsStat{}, time.Now()); err == nil {
		t.Fatal("no error for an unknown metrics type")
	}
}
