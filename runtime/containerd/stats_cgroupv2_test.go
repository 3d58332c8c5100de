//go:build cgroupv2 && !integration

package containerd

// The agent's container stats and OOM verdict on cgroup v2, read from a real unified
// hierarchy: the runc shim answers containerd's Metrics call with cgroup2.Manager.Stat() of
// the container's cgroup (memory.current, memory.max, memory.stat, memory.events, cpu.stat,
// pids.current, io.stat), and statsFromMetrics and oomKillIn are what the agent makes of it.
// This test makes that reading itself, with the same library, for a workload it places in a
// task cgroup made by runtime/cgroups. It runs inside User-Mode Linux (make test-cgroupv2):
// this project's hosts boot cgroup v1. ECSD_CGROUPV2_MOUNT names the hierarchy.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3/cgroup2"

	"github.com/ecsd/ecsd/runtime/cgroups"
)

const helperEnv = "ECSD_CGROUPV2_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "hold":
		// 16 MiB charged to the cgroup, some CPU time, then wait for stdin to close.
		b := make([]byte, 16<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); {
		}
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		b[0] = 2
		os.Exit(0)
	case "alloc":
		b := make([]byte, 96<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		os.Exit(0)
	}
	os.Exit(2)
}

// v2Task makes task cgroup taskID (limits l) and a container cgroup beneath it on the
// test's cgroup v2 hierarchy; it returns the manager and the container cgroup, opened.
func v2Task(t *testing.T, taskID string, l cgroups.Limits) (cgroups.Manager, string, *os.File) {
	t.Helper()
	mount := os.Getenv("ECSD_CGROUPV2_MOUNT")
	if mount == "" {
		mount = cgroups.DefaultMount
	}
	m := cgroups.Manager{Mount: mount, Root: cgroups.DefaultRoot}
	if !m.Unified() {
		t.Fatalf("%s is not a cgroup v2 hierarchy: run this test with make test-cgroupv2", mount)
	}
	if err := m.Ensure(taskID, l); err != nil {
		t.Fatalf("task cgroup: %v", err)
	}
	rel := filepath.Join(m.Path(taskID), "ctr")
	if err := os.Mkdir(filepath.Join(mount, rel), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(mount, rel))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if err := m.Remove(taskID); err != nil {
			t.Errorf("remove task cgroup: %v", err)
		}
	})
	return m, rel, f
}

// shimMetrics reads the container cgroup the way the runc shim answers Metrics on v2.
func shimMetrics(t *testing.T, m cgroups.Manager, rel string) any {
	t.Helper()
	cg, err := cgroup2.Load(rel, cgroup2.WithMountpoint(m.Mount))
	if err != nil {
		t.Fatalf("load %s: %v", rel, err)
	}
	st, err := cg.Stat()
	if err != nil {
		t.Fatalf("stat %s: %v", rel, err)
	}
	return st
}

func helperIn(t *testing.T, cg *os.File, mode string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	return cmd
}

func TestCgroupV2ContainerStats(t *testing.T) {
	m, rel, cg := v2Task(t, "stats", cgroups.Limits{MemoryBytes: 128 << 20, PidsLimit: 64})
	// What runc writes for a container with a 64 MiB limit.
	if err := os.WriteFile(filepath.Join(m.Mount, rel, "memory.max"), []byte("67108864"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := helperIn(t, cg, "hold")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("hold helper: %v", err)
		}
	}()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("hold helper: %q, %v", line, err)
	}

	now := time.Now()
	s, err := statsFromMetrics(shimMetrics(t, m, rel), now)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats: version %d cpu %dns user %dns memory %d/%d pids %d/%d anon %d", s.CgroupVersion, s.CPUUsageNanos, s.CPUUserNanos,
		s.MemoryUsage, s.MemoryLimit, s.Pids, s.PidsLimit, s.MemoryStat["anon"])
	if s.CgroupVersion != 2 || !s.Time.Equal(now) {
		t.Errorf("version %d time %v, want 2 and %v", s.CgroupVersion, s.Time, now)
	}
	if s.MemoryUsage < 16<<20 || s.MemoryUsage > 64<<20 {
		t.Errorf("memory usage %d, want the helper's 16 MiB and more (memory.current)", s.MemoryUsage)
	}
	if s.MemoryLimit != 64<<20 {
		t.Errorf("memory limit %d, want the container's memory.max 64 MiB", s.MemoryLimit)
	}
	if s.MemoryStat["anon"] < 16<<20 {
		t.Errorf("memory.stat anon %d, want at least 16 MiB (stat %v)", s.MemoryStat["anon"], s.MemoryStat)
	}
	if s.CPUUsageNanos < uint64(100*time.Millisecond) || s.CPUUserNanos == 0 {
		t.Errorf("cpu usage %dns user %dns, want the helper's spin (cpu.stat usage_usec in ns)", s.CPUUsageNanos, s.CPUUserNanos)
	}
	if s.Pids < 1 {
		t.Errorf("pids %d, want the helper's threads (pids.current)", s.Pids)
	}
	if oomKillIn(shimMetrics(t, m, rel)) {
		t.Error("OOM kill reported for a container nothing killed")
	}
}

// TestCgroupV2OOMVerdict: a container without a limit of its own, killed because its task
// reached the task memory limit, is reported as OOM-killed (what InspectContainer and the
// exit watcher ask before the task's cgroup goes away).
func TestCgroupV2OOMVerdict(t *testing.T) {
	m, rel, cg := v2Task(t, "oomverdict", cgroups.Limits{MemoryBytes: 32 << 20})
	cmd := helperIn(t, cg, "alloc")
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("allocating 96 MiB under a 32 MiB task limit: %v, want SIGKILL", err)
	}
	if !oomKillIn(shimMetrics(t, m, rel)) {
		t.Fatalf("no OOM kill in the container's metrics after the kernel killed it")
	}
	s, err := statsFromMetrics(shimMetrics(t, m, rel), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after the kill: memory usage %d failcnt %d", s.MemoryUsage, s.MemoryFailcnt)
}
