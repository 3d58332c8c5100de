//go:build cgroupv2

package cgroups

// These tests need a real cgroup v2 hierarchy with the cpu, memory and pids controllers
// and root: `make test-cgroupv2` (hack/cgroupv2-test.sh, test/e2e TestCgroupV2TaskLimits)
// builds this package's test binary with -tags cgroupv2 and runs it inside User-Mode Linux,
// booted with cgroup v2 mounted, because the hosts this project runs its CI on boot cgroup
// v1 (hybrid) with every controller bound to v1. ECSD_CGROUPV2_MOUNT names the hierarchy
// (default /sys/fs/cgroup). They fail, rather than skip, where there is none.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary a workload (alloc, spin) instead of running tests.
const helperEnv = "ECSD_CGROUPV2_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "alloc":
		// Touch 96 MiB, page by page, so that it is really charged to the cgroup.
		b := make([]byte, 96<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		fmt.Println("allocated", len(b))
		os.Exit(0)
	case "runc-alloc":
		// In the container: 48 MiB, under its own 64 MiB limit, over its task's 32 MiB.
		b := make([]byte, 48<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		fmt.Println("allocated", len(b))
		os.Exit(0)
	case "spin":
		end := time.Now().Add(time.Second)
		n := 0
		for time.Now().Before(end) {
			n++
		}
		os.Exit(0)
	}
	os.Exit(2)
}

// v2Manager is the task cgroup manager on the test's cgroup v2 hierarchy.
func v2Manager(t *testing.T) Manager {
	t.Helper()
	mount := os.Getenv("ECSD_CGROUPV2_MOUNT")
	if mount == "" {
		mount = DefaultMount
	}
	m := Manager{Mount: mount, Root: DefaultRoot}
	if !m.Unified() {
		t.Fatalf("%s is not a cgroup v2 hierarchy (no cgroup.controllers): run these tests with make test-cgroupv2", mount)
	}
	return m
}

// containerCgroup makes the leaf cgroup runc would make for a container beneath the task
// (processes may only live in leaves on cgroup v2) and returns it opened, for
// clone3(CLONE_INTO_CGROUP): a process started with it is charged from its first page.
func containerCgroup(t *testing.T, m Manager, taskID string) (string, *os.File) {
	t.Helper()
	dir := filepath.Join(m.Mount, m.Path(taskID), "ctr")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if err := m.Remove(taskID); err != nil {
			t.Errorf("remove task cgroup: %v", err)
		}
		if _, err := os.Stat(filepath.Join(m.Mount, m.Path(taskID))); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("task cgroup still there after Remove: %v", err)
		}
	})
	return dir, f
}

// startIn starts a command inside cgroup fd.
func startIn(t *testing.T, cg *os.File, name string, args ...string) (*exec.Cmd, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	return cmd, cmd.Start()
}

// helper starts the test binary as workload mode inside cgroup fd.
func helper(t *testing.T, cg *os.File, mode string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s helper: %v", mode, err)
	}
	return cmd
}

// keyed reads a "key value" per line cgroup file (cpu.stat, memory.events, pids.events).
func keyed(t *testing.T, path string) map[string]uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err == nil {
				out[f[0]] = n
			}
		}
	}
	return out
}

func TestCgroupV2LimitFiles(t *testing.T) {
	m := v2Manager(t)
	if missing := m.MissingControllers(); len(missing) != 0 {
		t.Errorf("controllers reported missing on a v2 hierarchy that has them: %v", missing)
	}
	l := Limits{CPUQuota: 20 * time.Millisecond, Period: 100 * time.Millisecond, MemoryBytes: 32 << 20, PidsLimit: 8}
	if err := m.Ensure("files", l); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	containerCgroup(t, m, "files")
	dir := filepath.Join(m.Mount, m.Path("files"))
	for f, want := range map[string]string{"cpu.max": "20000 100000", "memory.max": strconv.Itoa(32 << 20), "pids.max": "8"} {
		if got := readFile(t, filepath.Join(dir, f)); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	// The task delegates the controllers to its containers, so runc can limit each.
	if got := strings.Fields(readFile(t, filepath.Join(dir, "cgroup.subtree_control"))); strings.Join(got, " ") != "cpu memory pids" {
		t.Errorf("task cgroup.subtree_control = %v, want cpu memory pids", got)
	}
	// Idempotent: every container of a task calls Ensure.
	if err := m.Ensure("files", l); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}

	if err := m.Ensure("shares", Limits{CPUShares: 1024}); err != nil {
		t.Fatalf("Ensure with shares: %v", err)
	}
	t.Cleanup(func() { _ = m.Remove("shares") })
	if got := readFile(t, filepath.Join(m.Mount, m.Path("shares"), "cpu.weight")); got != "39" {
		t.Errorf("cpu.weight = %q, want 39 (1024 shares, runc's conversion)", got)
	}
}

// TestCgroupV2MemoryLimitOOMKills: a process in a container of the task that allocates past
// the task's memory.max is OOM-killed, and memory.events says so in the task's and in the
// container's cgroup (the container's is what the agent's OOM check reads).
func TestCgroupV2MemoryLimitOOMKills(t *testing.T) {
	m := v2Manager(t)
	if err := m.Ensure("oom", Limits{MemoryBytes: 32 << 20}); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	dir, cg := containerCgroup(t, m, "oom")
	cmd := helper(t, cg, "alloc")
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("allocating 96 MiB under a 32 MiB task limit: %v, want killed by SIGKILL", err)
	}
	if ev := keyed(t, filepath.Join(m.Mount, m.Path("oom"), "memory.events")); ev["oom_kill"] < 1 {
		t.Errorf("task memory.events %v: want oom_kill ≥ 1", ev)
	}
	if ev := keyed(t, filepath.Join(dir, "memory.events")); ev["oom_kill"] < 1 {
		t.Errorf("container memory.events %v: want oom_kill ≥ 1", ev)
	}
}

// TestCgroupV2PidsLimit: with pids.max 8, eight processes start in the task and the ninth
// fork fails with EAGAIN; pids.events counts the refusal.
func TestCgroupV2PidsLimit(t *testing.T) {
	m := v2Manager(t)
	if err := m.Ensure("pids", Limits{PidsLimit: 8}); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	dir, cg := containerCgroup(t, m, "pids")
	var started []*exec.Cmd
	t.Cleanup(func() {
		for _, c := range started {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	})
	var err error
	for range 20 {
		var c *exec.Cmd
		if c, err = startIn(t, cg, "sleep", "60"); err != nil {
			break
		}
		started = append(started, c)
	}
	if len(started) != 8 || !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("started %d processes under pids.max 8, then %v; want 8 then EAGAIN", len(started), err)
	}
	if got := readFile(t, filepath.Join(dir, "pids.current")); got != "8" {
		t.Errorf("container pids.current = %s, want 8", got)
	}
	// Kernels before 6.2 count the refusal where the fork happened (the container), later
	// ones in the cgroup whose limit was hit (the task) as well.
	task, ctr := keyed(t, filepath.Join(m.Mount, m.Path("pids"), "pids.events")), keyed(t, filepath.Join(dir, "pids.events"))
	if task["max"]+ctr["max"] < 1 {
		t.Errorf("pids.events: task %v, container %v: want a max event", task, ctr)
	}
}

// TestCgroupV2CPUQuotaThrottles: a busy loop for a second under cpu.max 20ms/100ms gets
// about a fifth of a CPU, and cpu.stat counts the throttling.
func TestCgroupV2CPUQuotaThrottles(t *testing.T) {
	m := v2Manager(t)
	if err := m.Ensure("cpu", Limits{CPUQuota: 20 * time.Millisecond, Period: 100 * time.Millisecond}); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	_, cg := containerCgroup(t, m, "cpu")
	start := time.Now()
	if err := helper(t, cg, "spin").Wait(); err != nil {
		t.Fatalf("spin: %v", err)
	}
	wall := time.Since(start)
	st := keyed(t, filepath.Join(m.Mount, m.Path("cpu"), "cpu.stat"))
	used := time.Duration(st["usage_usec"]) * time.Microsecond
	t.Logf("spun %v wall, %v CPU, cpu.stat %v", wall, used, st)
	if st["nr_throttled"] == 0 {
		t.Errorf("cpu.stat %v: want nr_throttled > 0 under a 20%% quota", st)
	}
	// 20% of the wall time, with room for the last period's overrun and start-up.
	if limit := wall/5 + 200*time.Millisecond; used > limit {
		t.Errorf("used %v of CPU in %v under a 20%% quota, want at most %v", used, wall, limit)
	}
}

// TestCgroupV2RefusedLimit: a limit the kernel refuses (a quota under cpu.max's 1 ms
// minimum) is an error naming the file, not a task that silently runs unlimited.
func TestCgroupV2RefusedLimit(t *testing.T) {
	m := v2Manager(t)
	t.Cleanup(func() { _ = m.Remove("refused") })
	err := m.Ensure("refused", Limits{CPUQuota: 500 * time.Microsecond, Period: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "cpu.max") || !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("a 0.5 ms quota: %v, want EINVAL writing cpu.max", err)
	}
}

// TestCgroupV2ControllerCannotBeDelegated: when the task root sits in a cgroup that has
// processes of its own, cgroup v2 refuses to delegate controllers below it (the "no
// internal processes" rule). Ensure then fails naming the controller and the file, rather than creating a
// task cgroup without its limits.
func TestCgroupV2ControllerCannotBeDelegated(t *testing.T) {
	base := v2Manager(t)
	busy := filepath.Join(base.Mount, "busy")
	if err := os.Mkdir(busy, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(busy)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sleeper, err := startIn(t, f, "sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	m := Manager{Mount: base.Mount, Root: "/busy/ecs"}
	t.Cleanup(func() {
		_ = sleeper.Process.Kill()
		_ = sleeper.Wait()
		_ = m.Remove("t1")
		_ = os.Remove(filepath.Join(busy, "ecs"))
		if err := os.Remove(busy); err != nil {
			t.Errorf("remove %s: %v", busy, err)
		}
	})
	err = m.Ensure("t1", Limits{MemoryBytes: 32 << 20, PidsLimit: 8})
	// The kernel says EBUSY or (6.1, a domain cgroup with processes) EOPNOTSUPP.
	if err == nil || !strings.Contains(err.Error(), "enable the memory controller") || !(errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EOPNOTSUPP)) {
		t.Fatalf("Ensure below a cgroup with processes: %v, want the kernel's refusal enabling the memory controller", err)
	}
	t.Logf("refused as it should be: %v", err)
}

// TestCgroupV2RuncContainerUnderTaskCgroup: a real container. runc (the runtime containerd
// drives) creates a container whose cgroups path is <task cgroup>/<container ID>, as the
// agent's containers get, with a container memory limit (64 MiB) above the task's (32 MiB).
// In its cgroup namespace the container sees its own cgroup with runc's 64 MiB, and
// allocating 48 MiB gets it OOM-killed by the task limit (exit 137), counted in the task's
// memory.events: the container lives beneath the task cgroup. The
// container's root is the machine's own root, bind-mounted read-only, so the test binary
// itself is the workload.
func TestCgroupV2RuncContainerUnderTaskCgroup(t *testing.T) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatalf("runc not found: %v", err)
	}
	m := v2Manager(t)
	if err := m.Ensure("runc", Limits{MemoryBytes: 32 << 20, PidsLimit: 64, CPUShares: 1024}); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Remove("runc"); err != nil {
			t.Errorf("remove task cgroup: %v", err)
		}
	})
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("/", rootfs, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind the root as the container's: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(rootfs, syscall.MNT_DETACH) })
	if out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v\n%s", err, out)
	}
	var spec map[string]any
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	const id = "0123456789abcdef0123456789abcdef01234567890abcdef0123456789abcd"
	spec["root"] = map[string]any{"path": rootfs, "readonly": true}
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = []string{"/bin/sh", "-c", "echo cgroup $(cat /proc/self/cgroup) memory.max $(cat /sys/fs/cgroup/memory.max); exec " + os.Args[0]}
	proc["env"] = append(proc["env"].([]any), helperEnv+"=runc-alloc")
	linux := spec["linux"].(map[string]any)
	linux["cgroupsPath"] = filepath.Join(m.Path("runc"), id)
	linux["resources"] = map[string]any{"memory": map[string]any{"limit": 64 << 20}, "cpu": map[string]any{"shares": 512}}
	if b, err = json.Marshal(spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}

	state := filepath.Join(t.TempDir(), "runc")
	cmd := exec.Command(runc, "--root", state, "run", "--bundle", bundle, "ctr")
	out, err := cmd.CombinedOutput()
	t.Cleanup(func() { _ = exec.Command(runc, "--root", state, "delete", "-f", "ctr").Run() })
	t.Logf("runc run: %v\n%s", err, out)
	// runc gives the container a private cgroup namespace on v2 (as Docker does): it sees
	// its own cgroup as the root, with the container limit runc wrote there.
	if want := "cgroup 0::/ memory.max 67108864"; !strings.Contains(string(out), want) {
		t.Errorf("the container does not see its own cgroup with its 64 MiB limit (want %q)", want)
	}
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 137 {
		t.Errorf("container allocating 48 MiB under a 32 MiB task limit: %v, want exit 137 (SIGKILL)", err)
	}
	if strings.Contains(string(out), "allocated") {
		t.Errorf("the container allocated past the task's memory limit")
	}
	if ev := keyed(t, filepath.Join(m.Mount, m.Path("runc"), "memory.events")); ev["oom_kill"] < 1 {
		t.Errorf("task memory.events %v: want oom_kill ≥ 1", ev)
	}
}
