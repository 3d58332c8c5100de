//go:build integration

package containerd

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecsd/ecsd/runtime"
)

// TestStatsBusyContainer runs a container that spins and is CPU-throttled, and checks the
// fields a Docker stats document is built from against this host's cgroup layout. Block I/O
// is only checked for shape: this VM's kernel attributes no I/O to blkio cgroups at all (even
// the root reports "Total 0"), so the values are covered by the unit tests instead.
func TestStatsBusyContainer(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	pullBusybox(t, r)
	cfg := busybox(t, "sh", "-c", "while :; do :; done")
	cfg.MemoryLimit = 64 << 20
	run(t, r, cfg)
	ctx := testCtx(t)

	first, err := r.Stats(ctx, cfg.ID)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	// Cap the spinning container to 20 % of a CPU so throttling shows up.
	setCPUQuota(t, r, cfg.ID)

	var s runtime.Stats
	deadline := time.Now().Add(20 * time.Second)
	for {
		if s, err = r.Stats(ctx, cfg.ID); err != nil {
			t.Fatalf("Stats: %v", err)
		}
		if s.CPUUsageNanos > first.CPUUsageNanos+50e6 && s.CPUThrottledPeriods > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never showed CPU growth and throttling: first %+v last %+v", first, s)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
	if !s.Time.After(first.Time) {
		t.Errorf("Time %v not after %v", s.Time, first.Time)
	}
	if s.CPUUserNanos == 0 || s.CPUUserNanos+s.CPUKernelNanos == 0 {
		t.Errorf("user %d kernel %d, want user time for a spinning shell", s.CPUUserNanos, s.CPUKernelNanos)
	}
	if s.CPUPeriods < s.CPUThrottledPeriods || s.CPUThrottledNanos == 0 {
		t.Errorf("throttling periods %d throttled %d time %d", s.CPUPeriods, s.CPUThrottledPeriods, s.CPUThrottledNanos)
	}
	if s.MemoryUsage == 0 || s.MemoryLimit != 64<<20 || s.Pids == 0 {
		t.Errorf("memory usage %d limit %d pids %d", s.MemoryUsage, s.MemoryLimit, s.Pids)
	}

	switch s.CgroupVersion {
	case 1:
		var sum uint64
		for _, v := range s.PerCPUNanos {
			sum += v
		}
		// The per-CPU file and the total are read separately; allow what a spinning
		// process adds in between.
		if len(s.PerCPUNanos) == 0 || sum+50e6 < s.CPUUsageNanos || sum > s.CPUUsageNanos+50e6 {
			t.Errorf("per-CPU %v (sum %d), total %d", s.PerCPUNanos, sum, s.CPUUsageNanos)
		}
		if s.MemoryMaxUsage < s.MemoryUsage {
			t.Errorf("max usage %d < usage %d", s.MemoryMaxUsage, s.MemoryUsage)
		}
		for _, k := range []string{"cache", "rss", "total_cache", "total_rss", "pgfault", "hierarchical_memory_limit"} {
			if _, ok := s.MemoryStat[k]; !ok {
				t.Errorf("memory.stat lacks v1 key %q: %v", k, s.MemoryStat)
			}
		}
		if s.MemoryStat["total_rss"] == 0 || s.MemoryCache != s.MemoryStat["total_cache"] {
			t.Errorf("memory.stat %v, cache %d", s.MemoryStat, s.MemoryCache)
		}
		// v1 always reports the blkio lists, empty or not, with v1's capitalised ops.
		if s.BlkioServiceBytes == nil || s.BlkioServiced == nil {
			t.Errorf("v1 blkio lists missing: %#v %#v", s.BlkioServiceBytes, s.BlkioServiced)
		}
		for _, e := range append(s.BlkioServiceBytes, s.BlkioServiced...) {
			if !isV1BlkioOp(e.Op) {
				t.Errorf("blkio entry %+v has no v1 op", e)
			}
		}
	case 2:
		if s.PerCPUNanos != nil || s.MemoryStat["anon"] == 0 || s.BlkioServiced != nil {
			t.Errorf("v2 per-CPU %v memory.stat %v serviced %v", s.PerCPUNanos, s.MemoryStat, s.BlkioServiced)
		}
		for _, e := range s.BlkioServiceBytes {
			if e.Op != "read" && e.Op != "write" {
				t.Errorf("blkio entry %+v is not a v2 read/write", e)
			}
		}
	default:
		t.Errorf("cgroup version %d", s.CgroupVersion)
	}
}

// isV1BlkioOp reports whether op is one the v1 blkio files list.
func isV1BlkioOp(op string) bool {
	switch op {
	case "Read", "Write", "Sync", "Async", "Discard", "Total":
		return true
	}
	return false
}

// setCPUQuota limits the container's cgroup to 20 ms of CPU per 100 ms, writing the
// cgroup file directly because ContainerConfig has no CPU quota.
func setCPUQuota(t *testing.T, r *Runtime, id string) {
	t.Helper()
	ctx := r.withNS(testCtx(t))
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", task.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file, value string
		switch {
		case hasController(parts[1], "cpu"):
			file, value = filepath.Join("/sys/fs/cgroup/cpu", parts[2], "cpu.cfs_quota_us"), "20000"
		case parts[0] == "0" && parts[1] == "" && isUnified():
			file, value = filepath.Join("/sys/fs/cgroup", parts[2], "cpu.max"), "20000 100000"
		default:
			continue
		}
		if err := os.WriteFile(file, []byte(value), 0o644); err != nil {
			t.Fatalf("set CPU quota: %v", err)
		}
		return
	}
	t.Fatalf("no cpu cgroup for pid %d", task.Pid())
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

func isUnified() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}
