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

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/lsm"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
)

// writeTask writes an ACS task file with task-level members extra (JSON members with a
// trailing comma, or "") and the given containers.
func (h *agentHost) writeTask(id, desired, extra, containersJSON string) {
	h.t.Helper()
	js := fmt.Sprintf(`{"arn":"arn:aws:ecs:local:000000000000:task/e2e/%s","family":"e2e","version":"1","desiredStatus":%q,"networkMode":"host",%s"containers":%s}`, id, desired, extra, containersJSON)
	if err := os.WriteFile(filepath.Join(h.tasks, id+".json"), []byte(js), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// securityOpts is a container's dockerConfig carrying dockerSecurityOptions the way the
// backend sends them: in hostConfig.SecurityOpt.
func securityOpts(opts ...string) string {
	q := make([]string, len(opts))
	for i, o := range opts {
		q[i] = strconv.Quote(o)
	}
	host := `{"SecurityOpt":[` + strings.Join(q, ",") + `]}`
	return `"dockerConfig":{"hostConfig":` + strconv.Quote(host) + `}`
}

// execIn runs cmd in the task container and returns its output; it fails the test unless
// the command exits 0.
func (h *agentHost) execIn(task, name string, cmd ...string) string {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code, out, err := h.rt.Exec(ctx, runtimeID(task, name), cmd)
	if err != nil || code != 0 {
		h.t.Fatalf("exec %q in %s-%s: exit %d, %v, output %q", cmd, task, name, code, err, out)
	}
	return strings.TrimSpace(out)
}

// TestSecurityOptionsAndInit: no-new-privileges reaches the kernel; AppArmor and SELinux
// options this host cannot apply stop their task with the reason instead of being dropped;
// initProcessEnabled puts ecsd-init at PID 1, which reaps orphans.
func TestSecurityOptionsAndInit(t *testing.T) {
	h := newAgentHost(t)
	img := testenv.BusyboxImage()
	h.addTask("nnp", fmt.Sprintf(`[{"name":"app","image":%q,"essential":true,"command":%s,%s}]`, img, service, securityOpts("no-new-privileges")))
	h.addTask("plain", fmt.Sprintf(`[{"name":"app","image":%q,"essential":true,"command":%s}]`, img, service))
	h.addTask("aa", fmt.Sprintf(`[{"name":"app","image":%q,"essential":true,"command":%s,%s}]`, img, service, securityOpts("apparmor:ecsd-e2e-no-such-profile")))
	h.addTask("selinux", fmt.Sprintf(`[{"name":"app","image":%q,"essential":true,"command":%s,%s}]`, img, service, securityOpts("label:type:spc_t")))
	// The inner shell leaves a short sleep behind as an orphan; PID 1 must reap it.
	h.addTask("init", fmt.Sprintf(`[{"name":"app","image":%q,"essential":true,"linuxParameters":{"initProcessEnabled":true},"command":["sh","-c","sh -c 'sleep 0.5 & echo $! > /tmp/orphan'; exec sleep 1000"]}]`, img))
	h.start()
	defer h.kill(syscall.SIGTERM)
	h.waitRuntime("nnp, plain and init running", running("nnp-app", "plain-app", "init-app"))

	if got := h.execIn("nnp", "app", "grep", "NoNewPrivs", "/proc/1/status"); got != "NoNewPrivs:\t1" {
		t.Errorf("no-new-privileges container: %q, want NoNewPrivs 1", got)
	}
	if got := h.execIn("plain", "app", "grep", "NoNewPrivs", "/proc/1/status"); got != "NoNewPrivs:\t0" {
		t.Errorf("container without the option: %q, want NoNewPrivs 0 (Docker's default)", got)
	}

	host := lsm.Default()
	if host.AppArmorEnabled() {
		h.waitLog("apparmor:ecsd-e2e-no-such-profile: the AppArmor profile is not loaded on this host")
	} else {
		h.waitLog("apparmor:ecsd-e2e-no-such-profile: AppArmor is not enabled on this host")
	}
	_, _, policyErr := host.ContainerContexts()
	switch {
	case !host.SELinuxEnabled():
		h.waitLog("label:type:spc_t: SELinux is not enabled on this host")
	case policyErr != nil:
		h.waitLog("label:type:spc_t: " + policyErr.Error())
	default:
		// Applied: the process runs with the type asked for, at a level of its own.
		if got := h.execIn("selinux", "app", "cat", "/proc/self/attr/current"); !strings.Contains(got, ":spc_t:s0:c") {
			t.Errorf("the labelled container's process runs as %q, want type spc_t at a level of two categories", got)
		}
	}

	if got := h.execIn("init", "app", "cat", "/proc/1/cmdline"); !strings.HasPrefix(got, "/sbin/ecsd-init\x00--\x00sh") {
		t.Errorf("PID 1 runs %q, want ecsd-init running the command", got)
	}
	orphan := h.execIn("init", "app", "cat", "/tmp/orphan")
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Gone entirely: exited and reaped, not a zombie.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		code, out, err := h.rt.Exec(ctx, runtimeID("init", "app"), []string{"cat", "/proc/" + orphan + "/stat"})
		cancel()
		if err == nil && code != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orphan %s never reaped: %q (%v)", orphan, out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.kill(syscall.SIGTERM)
	tasks, _ := h.objects()
	for _, id := range []string{"aa", "selinux"} {
		if st := tasks[id].Status; st.KnownStatus != api.TaskStatusStopped || !strings.Contains(st.StoppedReason, "dockerSecurityOptions") {
			t.Errorf("task %s: %s, reason %q; want STOPPED naming the option", id, st.KnownStatus, st.StoppedReason)
		}
	}
}

// TestTaskPIDAndIPCNamespaces: the containers of a pidMode/ipcMode "task" task see each
// other's processes and share /dev/shm and their IPC namespace, through a holder that is
// PID 1 of the task, survives an agent restart, and goes when the task stops.
func TestTaskPIDAndIPCNamespaces(t *testing.T) {
	h := newAgentHost(t)
	img := testenv.BusyboxImage()
	containers := fmt.Sprintf(`[{"name":"a","image":%q,"essential":true,"command":["sh","-c","trap 'exit 0' TERM; while true; do sleep 0.1; done"]},
		{"name":"b","image":%q,"essential":true,"command":["sh","-c","trap 'exit 0' TERM; while true; do sleep 0.1; done; echo b-marker"]}]`, img, img)
	const modes = `"pidMode":"task","ipcMode":"task",`
	h.writeTask("ns", "RUNNING", modes, containers)
	// A host-mode task alongside: it sees the machine's processes.
	h.writeTask("hostns", "RUNNING", `"pidMode":"host","ipcMode":"host",`, fmt.Sprintf(`[{"name":"app","image":%q,"essential":true,"command":%s}]`, img, service))
	h.start()
	h.waitRuntime("ns-a, ns-b and hostns-app running", running("ns-a", "ns-b", "hostns-app"))

	holderID := api.NamespaceHolderID("ns")
	holder, err := h.rt.InspectContainer(context.Background(), holderID)
	if err != nil || holder.Status != runtime.StatusRunning {
		t.Fatalf("namespace holder: %+v, %v", holder, err)
	}
	if ps := h.execIn("ns", "a", "ps", "-o", "pid,args"); !strings.Contains(ps, "b-marker") {
		t.Errorf("container a does not see container b's process:\n%s", ps)
	}
	if got := h.execIn("ns", "b", "cat", "/proc/1/cmdline"); !strings.HasPrefix(got, "/ecsd-init\x00--pause") {
		t.Errorf("PID 1 of the task is %q, want the holder", got)
	}
	h.execIn("ns", "a", "sh", "-c", "echo shared > /dev/shm/from-a")
	if got := h.execIn("ns", "b", "cat", "/dev/shm/from-a"); got != "shared" {
		t.Errorf("container b reads %q from /dev/shm, want a's file", got)
	}
	ipcA, ipcB := h.execIn("ns", "a", "readlink", "/proc/self/ns/ipc"), h.execIn("ns", "b", "readlink", "/proc/self/ns/ipc")
	self, _ := os.Readlink("/proc/self/ns/ipc")
	if ipcA != ipcB || ipcA == self {
		t.Errorf("IPC namespaces a=%s b=%s machine=%s; want one of the task's own", ipcA, ipcB, self)
	}
	if got := h.execIn("hostns", "app", "readlink", "/proc/self/ns/ipc"); got != self {
		t.Errorf("ipcMode host container is in %s, want the machine's %s", got, self)
	}
	if got := h.execIn("hostns", "app", "cat", "/proc/1/cmdline"); strings.Contains(got, "trap") {
		t.Errorf("pidMode host container's PID 1 is its own command %q, want the machine's init", got)
	}

	// The holder lives under containerd: an agent killed and restarted finds it again.
	h.kill(syscall.SIGKILL)
	h.start()
	h.waitRuntime("ns-a and ns-b still running", running("ns-a", "ns-b"))
	if st, _ := h.rt.InspectContainer(context.Background(), holderID); st.Pid != holder.Pid || st.Status != runtime.StatusRunning {
		t.Fatalf("holder after an agent restart: %+v, want pid %d running", st, holder.Pid)
	}

	// Stopping the task removes the holder and the task's /dev/shm mount.
	h.kill(syscall.SIGTERM)
	h.writeTask("ns", "STOPPED", modes, containers)
	h.start()
	defer h.kill(syscall.SIGTERM)
	h.waitRuntime("holder removed", func(m map[string]runtime.ContainerState) bool {
		_, ok := m[holderID]
		return !ok && m["ns-a"].Status == runtime.StatusStopped && m["ns-b"].Status == runtime.StatusStopped
	})
	shm := filepath.Join(api.TaskNamespaceDir(filepath.Join(h.dir, "data"), "ns"), "shm")
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), shm) {
		t.Errorf("the task's /dev/shm is still mounted at %s", shm)
	}
}
