package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/cgroups"
)

// TestTaskPidsLimitV1Host runs ECS_TASK_PIDS_LIMIT through the agent binary and the test
// containerd on this machine's own hierarchy, cgroup v1 (hybrid): the task cgroup's pids.max
// is the limit, and a container forking 30 sleeps has a fork refused and stays within it. With
// ECS_PROPAGATE_TASK_MEMORY_LIMIT_CGROUPV2 set on this v1 host the agent says at start that it
// has no effect. (TestCgroupV2TaskLimits covers the same limits on v2, in UML.)
func TestTaskPidsLimitV1Host(t *testing.T) {
	const task = "pidslimit"
	// Registered first, so it runs after the agent host's cleanup has removed the
	// containers: the task cgroup then is empty. (SIGTERM leaves tasks running.)
	t.Cleanup(func() {
		if err := (cgroups.Manager{Mount: cgroups.DefaultMount, Root: cgroups.DefaultRoot}).Remove(task); err != nil {
			t.Errorf("remove the task cgroup: %v", err)
		}
	})
	h := newAgentHost(t)
	h.env = append(h.env, "ECS_TASK_PIDS_LIMIT=12", "ECS_PROPAGATE_TASK_MEMORY_LIMIT_CGROUPV2=true")
	h.addTask(task, fmt.Sprintf(`[{"name":"app","image":%q,"essential":true,"command":["sh","-c",%q]}]`, testenv.BusyboxImage(),
		"(i=0; while [ $i -lt 30 ]; do sleep 300 & i=$((i+1)); done) & exec sleep 300"))
	h.start()
	defer h.kill(syscall.SIGTERM)
	h.waitLog("ECS_PROPAGATE_TASK_MEMORY_LIMIT_CGROUPV2 has no effect: this host does not run the unified cgroup v2 hierarchy")
	h.waitRuntime(task+"-app running", running(task+"-app"))

	dir := "/sys/fs/cgroup/pids/ecs/" + task
	if _, err := os.Stat("/sys/fs/cgroup/pids"); err != nil {
		t.Fatalf("this test expects a cgroup v1 pids hierarchy at /sys/fs/cgroup/pids: %v", err)
	}
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("task cgroup: %v", err)
		}
		return strings.TrimSpace(string(b))
	}
	if got := read("pids.max"); got != "12" {
		t.Fatalf("task pids.max = %s, want 12 (ECS_TASK_PIDS_LIMIT)", got)
	}
	// A subshell forks sleeps until the kernel refuses one (ash then gives up), while the
	// container's main process stays. v1 counts the refusal in the container's own cgroup,
	// beneath the task's.
	events := filepath.Join(runtimeID(task, "app"), "pids.events")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(read(events), "max ") || strings.Contains(read(events), "max 0") {
		if time.Now().After(deadline) {
			t.Fatalf("container pids.events %q after forking 30 sleeps under a limit of 12: want a refused fork", read(events))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n, err := strconv.Atoi(read("pids.current")); err != nil || n > 12 || n < 2 {
		t.Fatalf("task pids.current = %d (%v), want the container's processes, at most 12", n, err)
	}
	if st, err := h.rt.InspectContainer(context.Background(), runtimeID(task, "app")); err != nil || st.Status != runtime.StatusRunning {
		t.Fatalf("container after its forks were refused: %+v %v", st, err)
	}
}
