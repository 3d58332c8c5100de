package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/store"
)

// Crash safety of the stop and cleanup paths: the agent is killed with SIGKILL while tasks
// are stopping and while stopped tasks are being cleaned up, restarted, and must converge
// with no duplicate or orphaned container, snapshot, log file or task directory, and no
// lost exit code.

const taskARNPrefix = "arn:aws:ecs:local:000000000000:task/e2e/"

// stopAgent sends SIGTERM and requires the agent to exit cleanly.
func (h *agentHost) stopAgent() {
	h.t.Helper()
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	err := h.cmd.Wait()
	h.log.Close()
	h.cmd = nil
	if err != nil {
		h.t.Fatalf("agent exit after SIGTERM: %v\n%s", err, h.agentLog())
	}
}

// setDesiredStopped rewrites task id's file with desired status STOPPED; the agent reads it
// on its next start, as it would a new ACS payload for a task it already has.
func (h *agentHost) setDesiredStopped(id string) {
	h.t.Helper()
	p := filepath.Join(h.tasks, id+".json")
	b, err := os.ReadFile(p)
	if err != nil {
		h.t.Fatal(err)
	}
	s := strings.Replace(string(b), `"desiredStatus":"RUNNING"`, `"desiredStatus":"STOPPED"`, 1)
	if s == string(b) {
		h.t.Fatalf("task file %s has no RUNNING desired status: %s", p, b)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// logSize is the current length of the agent log: later searches start there so a line
// from an earlier run never satisfies a wait.
func (h *agentHost) logSize() int64 {
	fi, err := os.Stat(filepath.Join(h.dir, "agent.log"))
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (h *agentHost) logSince(off int64) string {
	b, _ := os.ReadFile(filepath.Join(h.dir, "agent.log"))
	if int64(len(b)) < off {
		return ""
	}
	return string(b[off:])
}

// logLineSince reports whether one line of the log after off contains every part.
func (h *agentHost) logLineSince(off int64, parts ...string) bool {
	for _, l := range strings.Split(h.logSince(off), "\n") {
		all := true
		for _, p := range parts {
			if !strings.Contains(l, p) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// waitFor polls cond until it holds. On timeout it stops the agent and reports what cond
// last saw, the checkpoint and the log tail.
func (h *agentHost) waitFor(what string, timeout time.Duration, cond func() (bool, string)) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	var state string
	for {
		var ok bool
		if ok, state = cond(); ok {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.fatalWithState("timed out after %s waiting for %s; last seen: %s", timeout, what, state)
}

// fatalWithState stops the agent, logs the checkpoint and the log tail, and fails the test.
func (h *agentHost) fatalWithState(format string, args ...any) {
	h.t.Helper()
	h.t.Errorf(format, args...)
	h.kill(syscall.SIGTERM)
	h.dumpCheckpoint()
	h.t.Fatalf("agent log tail:\n%s", h.agentLog())
}

func (h *agentHost) dumpCheckpoint() {
	h.t.Helper()
	tasks, ctrs := h.objects()
	for _, t := range tasks {
		h.t.Logf("checkpoint task %s: known %s desired %s/%s cleanupAt %v reason %q", t.Name, t.Status.KnownStatus,
			t.Spec.DesiredStatus, t.Status.DesiredStatus, t.Status.CleanupAt, t.Status.StoppedReason)
	}
	for _, c := range ctrs {
		h.t.Logf("checkpoint container %s: known %s desired %s exit %s stopRequestedAt %v finishedAt %v reason %q history %v",
			c.Name, c.Status.KnownStatus, c.Status.DesiredStatus, exitCode(c.Status.ExitCode), c.Status.StopRequestedAt,
			c.Status.FinishedAt, c.Status.Reason, c.Status.History)
	}
}

func exitCode(p *int32) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}

// runtimeContainers lists the runtime containers of the agent's namespace by the Container
// object they belong to (see byObject).
func (h *agentHost) runtimeContainers() (map[string]runtime.ContainerState, error) {
	list, err := h.rt.ListContainers(context.Background())
	if err != nil {
		return nil, err
	}
	return byObject(list), nil
}

// byObject keys runtime containers by the name of the Container object they belong to,
// "<task>-<container>", read from their labels: runtime IDs are 64 hex characters derived
// from the task ARN (api.RuntimeID), and the crash tests speak of containers by task and
// name. A second runtime container of the same object (a duplicate, which the tests look
// for) is keyed by its ID, so it still counts; one without labels is keyed by its ID.
func byObject(list []runtime.ContainerState) map[string]runtime.ContainerState {
	m := make(map[string]runtime.ContainerState, len(list))
	for _, c := range list {
		key := c.ID
		if task, name := c.Labels[api.LabelTaskName], c.Labels[api.LabelContainerName]; task != "" && name != "" {
			key = api.ContainerName(task, name)
		}
		if _, dup := m[key]; dup {
			key = c.ID
		}
		m[key] = c
	}
	return m
}

// runtimeID is the runtime ID of container name of a task added with addTask.
func runtimeID(taskID, name string) string { return api.RuntimeID(taskARNPrefix+taskID, name) }

// snapshots lists the snapshots of the agent's namespace: key → kind (Active, Committed).
func (h *agentHost) snapshots() map[string]string {
	h.t.Helper()
	out, err := exec.Command("ctr", "--address", testenv.ContainerdAddress(), "-n", h.ns, "snapshots", "ls").CombinedOutput()
	if err != nil {
		h.t.Fatalf("ctr snapshots ls: %v: %s", err, out)
	}
	m := map[string]string{}
	for i, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 2 {
			continue // header
		}
		m[f[0]] = f[len(f)-1]
	}
	return m
}

func activeSnapshots(m map[string]string) []string {
	var out []string
	for k, kind := range m {
		if kind == "Active" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// taskDirs lists <datadir>/tasks/*.
func (h *agentHost) taskDirs() []string {
	entries, _ := os.ReadDir(filepath.Join(h.dir, "data", "tasks"))
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// logFiles lists the container log files under <datadir>/tasks/*/logs.
func (h *agentHost) logFiles() []string {
	logs, _ := filepath.Glob(filepath.Join(h.dir, "data", "tasks", "*", "logs", "*.log"))
	return logs
}

// images returns the checkpoint's Image objects (the agent must be stopped).
func (h *agentHost) images() []api.Image {
	h.t.Helper()
	scheme := k8sruntime.NewScheme()
	_ = api.AddToScheme(scheme)
	st, err := store.New(context.Background(), scheme, store.WithCheckpoint(filepath.Join(h.dir, "data", "ecsd.db")))
	if err != nil {
		h.t.Fatalf("open checkpoint: %v", err)
	}
	defer st.Close()
	var il api.ImageList
	if err := st.List(context.Background(), &il); err != nil {
		h.t.Fatal(err)
	}
	return il.Items
}

func countLines(s, line string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if l == line {
			n++
		}
	}
	return n
}

// stubborn ignores SIGTERM (it only notes it), so only the SIGKILL after the stop timeout
// ends it: exit code 137.
const stubborn = `["sh","-c","echo started; trap 'echo got TERM' TERM; while true; do sleep 0.1; done"]`

// slowExit exits with code 3 a second after SIGTERM, which falls in the agent's outage in
// TestAgentSIGKILLWhileStopping: the restarted agent must find the exit code in containerd.
const slowExit = `["sh","-c","echo started; trap 'echo got TERM; sleep 1; exit 3' TERM; while true; do sleep 0.1; done"]`

// TestAgentSIGKILLWhileStopping kills the agent with SIGKILL right after it sent SIGTERM to
// containers that ignore it and recorded when, keeps it down for most of the stop timeout,
// and restarts it. The restarted agent must SIGKILL them when the original grace period
// ends (not a fresh one), without a second SIGTERM or a restart, and record every exit
// code, including that of a container that exited while the agent was down.
func TestAgentSIGKILLWhileStopping(t *testing.T) {
	const grace = 3 * time.Second
	h := newAgentHost(t)
	ids := []string{"s0", "s1"}
	for _, id := range ids {
		h.addTask(id, fmt.Sprintf(`[{"name":"app","image":%q,"essential":true,"stopTimeout":%d,"command":%s},{"name":"side","image":%q,"essential":false,"command":%s}]`,
			testenv.BusyboxImage(), int(grace/time.Second), stubborn, testenv.BusyboxImage(), slowExit))
	}
	all := []string{"s0-app", "s0-side", "s1-app", "s1-side"}
	h.start()
	h.waitRuntime("all containers running", running(all...))
	for _, id := range ids {
		h.waitLog("task=" + taskARNPrefix + id + " from=CREATED to=RUNNING")
	}
	pids := map[string]uint32{}
	rcs, err := h.runtimeContainers()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range all {
		pids[id] = rcs[id].Pid
	}
	h.stopAgent()

	// ECS asks for the tasks to stop. The stop controller's debug log says when it has sent
	// SIGTERM to a container and durably recorded StopRequestedAt: its first requeue is the
	// full grace period (the app's stopTimeout, the side's default ECS_CONTAINER_STOP_TIMEOUT).
	for _, id := range ids {
		h.setDesiredStopped(id)
	}
	h.env = append(h.env, "ECS_LOGLEVEL=debug")
	off := h.logSize()
	h.start()
	firstRequeue := map[string]string{"s0-app": "3s", "s0-side": "30s", "s1-app": "3s", "s1-side": "30s"}
	h.waitFor("SIGTERM sent and recorded for every container", 30*time.Second, func() (bool, string) {
		var missing []string
		for id, after := range firstRequeue {
			if !h.logLineSince(off, `msg="Reconcile done, requeueing after `+after+`"`, "controller=stop", "name="+id+" ") {
				missing = append(missing, id)
			}
		}
		sort.Strings(missing)
		return len(missing) == 0, fmt.Sprintf("no first stop requeue for %v", missing)
	})
	h.kill(syscall.SIGKILL)
	killedAt := time.Now()

	// While the agent is down nothing else touches the stubborn containers: they run on
	// through most of the grace period. (This is the outage being simulated, not a wait for
	// anything: it ends 2 s into the 3 s grace.)
	for time.Since(killedAt) < 2*time.Second {
		m, err := h.runtimeContainers()
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"s0-app", "s1-app"} {
			if m[id].Status != runtime.StatusRunning || m[id].Pid != pids[id] {
				t.Fatalf("%s stopped while the agent was down: %+v", id, m[id])
			}
		}
		time.Sleep(50 * time.Millisecond)
	}

	off = h.logSize()
	restartedAt := time.Now()
	h.start()
	h.waitRuntime("all containers stopped", func(m map[string]runtime.ContainerState) bool {
		for _, id := range all {
			if m[id].Status != runtime.StatusStopped {
				return false
			}
		}
		return true
	})
	h.waitFor("both tasks STOPPED", 30*time.Second, func() (bool, string) {
		var missing []string
		for _, id := range ids {
			if !h.logLineSince(off, `msg="task status changed"`, "task="+taskARNPrefix+id+" ", "to=STOPPED") {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0, fmt.Sprintf("tasks not STOPPED: %v", missing)
	})
	h.stopAgent()

	// The runtime: the same containers, each run once, with the expected exit codes.
	m, err := h.runtimeContainers()
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != len(all) {
		t.Errorf("runtime has %d containers, want %d: %v", len(m), len(all), m)
	}
	want := map[string]int32{"s0-app": 137, "s0-side": 3, "s1-app": 137, "s1-side": 3}
	for id, code := range want {
		if m[id].Status != runtime.StatusStopped || m[id].ExitCode != code {
			t.Errorf("runtime %s: %s exit %d, want stopped exit %d", id, m[id].Status, m[id].ExitCode, code)
		}
	}
	if active := activeSnapshots(h.snapshots()); len(active) != len(all) {
		t.Errorf("active snapshots %v, want one per container %v", active, all)
	}
	if logs := h.logFiles(); len(logs) != len(all) {
		t.Errorf("%d log files, want %d: %v", len(logs), len(all), logs)
	}
	for _, id := range ids {
		for _, name := range []string{"app", "side"} {
			b, err := os.ReadFile(filepath.Join(h.dir, "data", "tasks", id, "logs", name+".log"))
			if err != nil {
				t.Errorf("container log: %v", err)
				continue
			}
			// One run (no restart in place) and one SIGTERM (the restarted agent did not
			// start the stop over).
			if n := countLines(string(b), "started"); n != 1 {
				t.Errorf("%s-%s started %d times:\n%s", id, name, n, b)
			}
			if n := countLines(string(b), "got TERM"); n != 1 {
				t.Errorf("%s-%s got SIGTERM %d times:\n%s", id, name, n, b)
			}
		}
	}

	// The checkpoint: every exit code, and the grace period measured from the first SIGTERM.
	tasks, ctrs := h.objects()
	if len(tasks) != len(ids) || len(ctrs) != len(all) {
		t.Errorf("checkpoint holds %d tasks and %d containers, want %d and %d", len(tasks), len(ctrs), len(ids), len(all))
	}
	for _, id := range ids {
		if k := tasks[id].Status.KnownStatus; k != api.TaskStatusStopped {
			t.Errorf("task %s known status %q, want STOPPED", id, k)
		}
	}
	for id, code := range want {
		c := ctrs[id]
		if c.Status.KnownStatus != api.ContainerStatusStopped || c.Status.ExitCode == nil || *c.Status.ExitCode != code {
			t.Errorf("container %s: known %s exit %s, want STOPPED exit %d", id, c.Status.KnownStatus, exitCode(c.Status.ExitCode), code)
		}
		if c.Status.FinishedAt == nil {
			t.Errorf("container %s has no finishedAt", id)
		}
	}
	for _, id := range []string{"s0-app", "s1-app"} {
		req, fin := ctrs[id].Status.StopRequestedAt, ctrs[id].Status.FinishedAt
		exited := m[id].FinishedAt // containerd's exit time, nanosecond precision
		if req == nil || fin == nil || exited.IsZero() {
			t.Errorf("%s: stopRequestedAt %v finishedAt %v runtime exit time %v", id, req, fin, exited)
			continue
		}
		// The checkpoint keeps finishedAt to the second.
		if !fin.Time.Equal(exited.Truncate(time.Second)) {
			t.Errorf("%s: checkpoint finishedAt %s, runtime exit time %s", id, fin.Time.Format(time.RFC3339), exited.Format(time.RFC3339Nano))
		}
		if !req.Time.Before(killedAt) {
			t.Errorf("%s: stopRequestedAt %s is after the first agent was killed (%s): the restarted agent started the stop over",
				id, req.Time.Format(time.RFC3339Nano), killedAt.Format(time.RFC3339Nano))
		}
		// SIGKILL never before the grace period ends, and before a grace period started
		// over by the restarted agent would have ended (the agent was down for 2 s of it).
		took := exited.Sub(req.Time)
		if took < grace || !exited.Before(restartedAt.Add(grace)) {
			t.Errorf("%s: exited %s after SIGTERM (stopRequestedAt %s, agent restarted %s, exited %s), want after the %s grace period and before %s after the restart",
				id, took, req.Time.Format(time.RFC3339Nano), restartedAt.Format(time.RFC3339Nano), exited.Format(time.RFC3339Nano), grace, grace)
		}
		t.Logf("%s: SIGTERM→exit %s, restart→exit %s (grace %s, agent down for 2 s of it)", id, took, exited.Sub(restartedAt), grace)
	}
	if t.Failed() {
		h.dumpCheckpoint()
		t.Logf("agent log tail:\n%s", h.agentLog())
	}
}

// TestAgentSIGKILLWhileCleaningUp stops tasks with a 1 s cleanup wait, kills the agent with
// SIGKILL twice while the cleanup controller removes them, and restarts it. Everything of
// those tasks must end up gone: runtime containers, snapshots, task directories with their
// log files, Task and Container objects, and their names in Image objects' lists of users.
// Then the same STOPPED tasks are sent again and must be cleaned up without creating
// anything.
func TestAgentSIGKILLWhileCleaningUp(t *testing.T) {
	h := newAgentHost(t)
	h.env = append(h.env, "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=1s")
	var ids, all []string
	for i := 0; i < 6; i++ {
		id := fmt.Sprintf("c%d", i)
		ids = append(ids, id)
		all = append(all, id+"-app", id+"-side")
		h.addTask(id, fmt.Sprintf(`[{"name":"app","image":%q,"essential":true,"command":%s},{"name":"side","image":%q,"essential":false,"command":%s}]`,
			testenv.BusyboxImage(), service, testenv.BusyboxImage(), service))
	}
	h.start()
	h.waitRuntime("all containers running", running(all...))
	for _, id := range ids {
		h.waitLog("task=" + taskARNPrefix + id + " from=CREATED to=RUNNING")
	}
	h.stopAgent()
	if logs := h.logFiles(); len(logs) != len(all) {
		t.Fatalf("%d log files before cleanup, want %d: %v", len(logs), len(all), logs)
	}

	for _, id := range ids {
		h.setDesiredStopped(id)
	}
	var remaining []string // tasks the checkpoint still holds after the last kill
	// Kill the agent twice during cleanup: as soon as the cleanup controller has removed
	// the first runtime container (nothing else removes one), then, after a restart, once
	// half of them are gone, so that some tasks are wholly cleaned up, some part-way and
	// some not at all. Poll tightly so each kill lands where intended.
	for _, kp := range []struct {
		what string
		left int // kill once at most this many runtime containers are left
	}{
		{"first runtime container removed", len(all) - 1},
		{"half the runtime containers removed", len(all) / 2},
	} {
		h.start()
		deadline := time.Now().Add(30 * time.Second)
		var left map[string]runtime.ContainerState
		for {
			m, err := h.runtimeContainers()
			if err == nil && len(m) <= kp.left {
				left = m
				break
			}
			if time.Now().After(deadline) {
				h.fatalWithState("cleanup never reached %q: %d runtime containers (%v)", kp.what, len(m), err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		h.kill(syscall.SIGKILL)

		// What the kill interrupted. Every container object of a STOPPED task still has its
		// exit code: cleanup never deletes an object before its runtime container is gone.
		tasks, ctrs := h.objects()
		for _, c := range ctrs {
			if tasks[c.Spec.TaskName].Status.KnownStatus == api.TaskStatusStopped && c.Status.RuntimeID != "" &&
				(c.Status.KnownStatus != api.ContainerStatusStopped || c.Status.ExitCode == nil || *c.Status.ExitCode != 0) {
				t.Errorf("container %s of a STOPPED task: known %s exit %s, want STOPPED exit 0", c.Name, c.Status.KnownStatus, exitCode(c.Status.ExitCode))
			}
		}
		t.Logf("SIGKILL at %s: %d/%d runtime containers, %d tasks and %d containers in the checkpoint, %d task directories",
			kp.what, len(left), len(all), len(tasks), len(ctrs), len(h.taskDirs()))
		remaining = remaining[:0]
		for id := range tasks {
			remaining = append(remaining, id)
		}
		sort.Strings(remaining)
	}

	// ECS no longer lists the tasks: the restarted agent reads no task file and has only its
	// checkpoint to find what the killed cleanup left, so a task already wholly cleaned up
	// cannot mask leftovers by coming back.
	off := h.logSize()
	parked := filepath.Join(h.dir, "tasks.parked")
	if err := os.Rename(h.tasks, parked); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(h.tasks, 0o755); err != nil {
		t.Fatal(err)
	}
	h.start()
	h.waitCleanedUp(off, remaining, nil)
	h.stopAgent()
	h.checkNothingLeft()

	// ECS sends the STOPPED tasks again after they are gone: the agent remembers what it
	// cleaned up (tombstones in the checkpoint) and ignores them, creating nothing.
	if err := os.Remove(h.tasks); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(parked, h.tasks); err != nil {
		t.Fatal(err)
	}
	off = h.logSize()
	h.start()
	created := map[string]bool{}
	h.waitFor(fmt.Sprintf("re-sent tasks %v ignored", ids), 30*time.Second, func() (bool, string) {
		m, err := h.runtimeContainers()
		if err != nil {
			return false, err.Error()
		}
		for id := range m {
			created[id] = true
		}
		var notIgnored []string
		for _, id := range ids {
			if !h.logLineSince(off, `msg="ignoring a task this instance already ran and cleaned up"`, "task="+taskARNPrefix+id) {
				notIgnored = append(notIgnored, id)
			}
		}
		return len(notIgnored) == 0, fmt.Sprintf("not logged as ignored %v", notIgnored)
	})
	h.stopAgent()
	if len(created) != 0 {
		t.Errorf("re-sent STOPPED tasks created runtime containers %v", created)
	}
	h.checkNothingLeft()
	if t.Failed() {
		t.Logf("agent log tail:\n%s", h.agentLog())
	}
}

// waitCleanedUp waits until the log after off says each of ids was cleaned up and nothing
// of any task is left in the runtime or the data directory. Runtime containers seen on the
// way are added to seen when it is not nil.
func (h *agentHost) waitCleanedUp(off int64, ids []string, seen map[string]bool) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("tasks %v cleaned up", ids), 30*time.Second, func() (bool, string) {
		var notCleaned []string
		for _, id := range ids {
			if !h.logLineSince(off, `msg="task cleaned up"`, "task="+taskARNPrefix+id) {
				notCleaned = append(notCleaned, id)
			}
		}
		m, err := h.runtimeContainers()
		if err != nil {
			return false, err.Error()
		}
		rc := make([]string, 0, len(m))
		for id := range m {
			rc = append(rc, id)
			if seen != nil {
				seen[id] = true
			}
		}
		sort.Strings(rc)
		active := activeSnapshots(h.snapshots())
		dirs := h.taskDirs()
		ok := len(notCleaned) == 0 && len(m) == 0 && len(active) == 0 && len(dirs) == 0
		return ok, fmt.Sprintf("not logged as cleaned up %v; runtime containers %v; active snapshots %v; task directories %v",
			notCleaned, rc, active, dirs)
	})
}

// checkNothingLeft checks, with the agent stopped, that no task left anything behind: no
// object, image user, log file, runtime container or active snapshot.
func (h *agentHost) checkNothingLeft() {
	h.t.Helper()
	tasks, ctrs := h.objects()
	if len(tasks) != 0 || len(ctrs) != 0 {
		h.t.Errorf("checkpoint still holds %d tasks and %d containers", len(tasks), len(ctrs))
		h.dumpCheckpoint()
	}
	for _, im := range h.images() {
		if len(im.Status.Users) != 0 {
			h.t.Errorf("image %s still lists users %v", im.Name, im.Status.Users)
		}
	}
	if logs := h.logFiles(); len(logs) != 0 {
		h.t.Errorf("log files left: %v", logs)
	}
	if dirs := h.taskDirs(); len(dirs) != 0 {
		h.t.Errorf("task directories left: %v", dirs)
	}
	if m, err := h.runtimeContainers(); err != nil || len(m) != 0 {
		h.t.Errorf("runtime containers left: %v (%v)", m, err)
	}
	if active := activeSnapshots(h.snapshots()); len(active) != 0 {
		h.t.Errorf("active snapshots left: %v", active)
	}
}

// TestAgentCleanupReleasesEveryImageUser: cleanups of tasks sharing an image run at once
// and must each drop their containers from the Image object's users, or image cleanup never
// sees the image unused. Before 3324cf5 a conflicting write of the shared Image object was
// only logged and the Container object deleted anyway, leaking its name in
// Image.status.users for ever (this test failed 5 times out of 5, leaking 3 to 23 users). To
// make that race near certain, every task's cleanup falls due while the agent is down, so
// all of them start together when it comes back, and each task has containers that were
// pulled (ECS_PULL_DEPENDENT_CONTAINERS_UPFRONT) but never created, waiting on a dependsOn
// SUCCESS of a container that never exits: their cleanup is nothing but the image release,
// so the two cleanup workers release the shared image back to back.
func TestAgentCleanupReleasesEveryImageUser(t *testing.T) {
	h := newAgentHost(t)
	h.env = append(h.env, "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=3s", "ECS_PULL_DEPENDENT_CONTAINERS_UPFRONT=true")
	const waiters = 6
	var ids, apps []string
	users := 0
	for i := 0; i < 8; i++ {
		id := fmt.Sprintf("u%d", i)
		ids = append(ids, id)
		apps = append(apps, id+"-app")
		ctrs := []string{fmt.Sprintf(`{"name":"app","image":%q,"essential":true,"command":%s}`, testenv.BusyboxImage(), service)}
		for w := 0; w < waiters; w++ {
			ctrs = append(ctrs, fmt.Sprintf(`{"name":"w%d","image":%q,"essential":false,"command":["true"],"dependsOn":[{"containerName":"app","condition":"SUCCESS"}]}`,
				w, testenv.BusyboxImage()))
		}
		users += 1 + waiters
		h.addTask(id, "["+strings.Join(ctrs, ",")+"]")
	}
	h.start()
	h.waitRuntime("all app containers running", running(apps...))
	// The waiters hold the task at MANIFEST_PULLED, reached once every container is pulled.
	for _, id := range ids {
		h.waitLog("task=" + taskARNPrefix + id + " from=NONE to=MANIFEST_PULLED")
	}
	h.stopAgent()
	n := 0
	for _, im := range h.images() {
		n += len(im.Status.Users)
	}
	if n != users {
		t.Fatalf("images list %d users while the tasks run, want %d (one per pulled container)", n, users)
	}

	for _, id := range ids {
		h.setDesiredStopped(id)
	}
	off := h.logSize()
	h.start()
	h.waitFor("every task STOPPED", 30*time.Second, func() (bool, string) {
		var notStopped []string
		for _, id := range ids {
			if !h.logLineSince(off, `msg="task status changed"`, "task="+taskARNPrefix+id+" ", "to=STOPPED") {
				notStopped = append(notStopped, id)
			}
		}
		return len(notStopped) == 0, fmt.Sprintf("not STOPPED: %v", notStopped)
	})
	h.stopAgent()
	// The agent is down until every task's cleanup is due (cleanupAt is kept to the second).
	tasks, _ := h.objects()
	var due time.Time
	for _, tk := range tasks {
		if tk.Status.CleanupAt != nil && tk.Status.CleanupAt.Time.After(due) {
			due = tk.Status.CleanupAt.Time
		}
	}
	t.Logf("%d of %d tasks left to clean up when the agent restarts", len(tasks), len(ids))
	for time.Now().Before(due.Add(time.Second)) {
		time.Sleep(50 * time.Millisecond)
	}
	h.start()
	h.waitFor("every task cleaned up", 30*time.Second, func() (bool, string) {
		var notCleaned []string
		for _, id := range ids {
			if !h.logLineSince(off, `msg="task cleaned up"`, "task="+taskARNPrefix+id) {
				notCleaned = append(notCleaned, id)
			}
		}
		return len(notCleaned) == 0, fmt.Sprintf("not cleaned up: %v", notCleaned)
	})
	h.stopAgent()
	if tasks, ctrs := h.objects(); len(tasks) != 0 || len(ctrs) != 0 {
		t.Fatalf("checkpoint still holds %d tasks and %d containers", len(tasks), len(ctrs))
	}
	for _, im := range h.images() {
		if len(im.Status.Users) != 0 {
			t.Errorf("image %s lists %d users whose Container objects are gone: %v", im.Name, len(im.Status.Users), im.Status.Users)
		}
	}
	if t.Failed() {
		for _, l := range strings.Split(h.logSince(off), "\n") {
			if strings.Contains(l, `msg="release image"`) {
				t.Log(l)
			}
		}
	}
}
