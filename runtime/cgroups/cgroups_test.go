package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests run on plain directories that imitate cgroupfs (the kernel would create the
// interface files; here the test does), so they run anywhere. cgroupv2_test.go checks the
// same code against a real cgroup v2 hierarchy (make test-cgroupv2, in User-Mode Linux).

// fakeTask is the task whose cgroup fakeV2 lays out.
const fakeTask = "t1"

// fakeV2 lays out a unified hierarchy at a temporary mount whose root offers avail and
// whose /ecs/<fakeTask> already exists, as mkdir would make it on cgroupfs.
func fakeV2(t *testing.T, avail string) Manager {
	t.Helper()
	mount := t.TempDir()
	for _, d := range []string{mount, filepath.Join(mount, "ecs"), filepath.Join(mount, "ecs", fakeTask)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, v := range map[string]string{"cgroup.controllers": avail, "cgroup.subtree_control": ""} {
			if err := os.WriteFile(filepath.Join(d, f), []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return Manager{Mount: mount, Root: DefaultRoot}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestEnsureV2WritesLimits(t *testing.T) {
	m := fakeV2(t, "cpuset cpu io memory pids")
	l := Limits{CPUQuota: 50 * time.Millisecond, Period: 100 * time.Millisecond, MemoryBytes: 64 << 20, PidsLimit: 100}
	if err := m.Ensure("t1", l); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(m.Mount, "ecs", fakeTask)
	for f, want := range map[string]string{"cpu.max": "50000 100000", "memory.max": "67108864", "pids.max": "100"} {
		if got := readFile(t, filepath.Join(dir, f)); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	if err := m.Ensure("t1", Limits{CPUShares: 1024}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "cpu.weight")); got != "39" {
		t.Errorf("cpu.weight = %q, want 39 (runc's conversion of 1024 shares)", got)
	}
}

// TestEnsureV2MissingController: a limit whose controller the hierarchy lacks is a clear
// error, not a silently unlimited task; a controller no limit needs is no error.
func TestEnsureV2MissingController(t *testing.T) {
	m := fakeV2(t, "cpu io memory")
	err := m.Ensure("t1", Limits{PidsLimit: 10})
	if !errors.Is(err, ErrControllerUnavailable) || !strings.Contains(err.Error(), "pids controller") {
		t.Fatalf("pids limit without a pids controller: %v, want ErrControllerUnavailable naming pids", err)
	}
	if err := m.Ensure("t1", Limits{MemoryBytes: 1 << 20}); err != nil {
		t.Fatalf("memory limit where pids is missing: %v", err)
	}
}

func TestEnsureV1PidsLimit(t *testing.T) {
	mount := t.TempDir()
	for _, sub := range []string{"cpu", "memory", "pids"} {
		if err := os.MkdirAll(filepath.Join(mount, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m := Manager{Mount: mount, Root: DefaultRoot}
	if err := m.Ensure("t1", Limits{PidsLimit: 42}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(mount, "pids", "ecs", "t1", "pids.max")); got != "42" {
		t.Errorf("pids.max = %q, want 42", got)
	}

	noPids := Manager{Mount: t.TempDir(), Root: DefaultRoot}
	if err := os.MkdirAll(filepath.Join(noPids.Mount, "memory"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := noPids.Ensure("t1", Limits{PidsLimit: 42}); !errors.Is(err, ErrControllerUnavailable) {
		t.Fatalf("v1 without a pids hierarchy: %v, want ErrControllerUnavailable", err)
	}
}

func TestCPUWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{0: 1, 2: 1, 1024: 39, 262144: 10000, 1 << 30: 10000} {
		if got := cpuWeight(shares); got != want {
			t.Errorf("cpuWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

func TestMissingControllers(t *testing.T) {
	if got := fakeV2(t, "cpuset cpu io memory pids").MissingControllers(); len(got) != 0 {
		t.Errorf("v2 with cpu and memory: missing %v", got)
	}
	if got := fakeV2(t, "io pids").MissingControllers(); strings.Join(got, " ") != "cpu memory" {
		t.Errorf("v2 with io and pids only: missing %v, want cpu memory", got)
	}
	v1 := Manager{Mount: t.TempDir(), Root: DefaultRoot}
	if err := os.MkdirAll(filepath.Join(v1.Mount, "memory"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := v1.MissingControllers(); strings.Join(got, " ") != "cpu" {
		t.Errorf("v1 with a memory hierarchy only: missing %v, want cpu", got)
	}
}
