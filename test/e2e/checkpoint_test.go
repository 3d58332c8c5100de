package e2e

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	bolt "go.etcd.io/bbolt"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// checkpointPath is the agent's checkpoint.
func (h *agentHost) checkpointPath() string { return filepath.Join(h.dir, "data", "ecsd.db") }

// runtimeByTask maps the agent's runtime containers by their task ARN label: the test never
// assumes a runtime ID is derived from anything in particular.
func (h *agentHost) runtimeByTask() map[string]runtime.ContainerState {
	h.t.Helper()
	list, err := h.rt.ListContainers(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	m := map[string]runtime.ContainerState{}
	for _, rc := range list {
		arn := rc.Labels[api.LabelTaskARN]
		if _, dup := m[arn]; dup {
			h.t.Fatalf("two runtime containers for task %s", arn)
		}
		m[arn] = rc
	}
	return m
}

// rootPage reads the root bucket's page number from the newest meta page of a bbolt file
// (bbolt format version 2: meta at offset 16 of pages 0 and 1, root at +16, txid at +48).
func rootPage(t *testing.T, data []byte) (page uint64, pageSize int) {
	t.Helper()
	pageSize = int(binary.NativeEndian.Uint32(data[16+8:]))
	best := uint64(0)
	for _, off := range []int{0, pageSize} {
		m := data[off+16:]
		if txid := binary.NativeEndian.Uint64(m[48:]); txid >= best {
			best, page = txid, binary.NativeEndian.Uint64(m[16:])
		}
	}
	return page, pageSize
}

// checkpointDamage is one way to break the checkpoint of a stopped agent.
type checkpointDamage struct {
	name string
	do   func(t *testing.T, data []byte) []byte
}

var checkpointDamages = []checkpointDamage{
	{"truncated", func(_ *testing.T, b []byte) []byte { return b[:len(b)/2] }},
	{"zero-filled meta pages", func(_ *testing.T, b []byte) []byte { clear(b[:8192]); return b }},
	{"bit-flipped", func(t *testing.T, b []byte) []byte {
		t.Helper()
		// One bit in the root page's header (what the agent walks first), and one in the
		// middle of the file for good measure.
		root, ps := rootPage(t, b)
		b[int(root)*ps] ^= 0x01
		b[len(b)/2+123] ^= 0x10
		return b
	}},
}

// movedAsideRE finds where the agent says it moved a damaged checkpoint.
var movedAsideRE = regexp.MustCompile(`movedTo="?([^" ]+)"?`)

// TestAgentSurvivesDamagedCheckpoint runs tasks under a backend (a host-network sleeper and a
// bridge web server on a dynamic host port), then, for each kind of damage (truncated,
// zero-filled meta pages, bit flips) and for an undecodable task record, stops the agent,
// damages its checkpoint and starts it again. Every time the agent must start, say where
// the damaged file went, register as the same container instance (from registration.json),
// and keep every task running: the same runtime containers (same processes, none added),
// RUNNING in the backend, the web server still answering on its port. At the end the tasks
// are stopped through ECS and cleaned up, leaving nothing behind.
func TestAgentSurvivesDamagedCheckpoint(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	b := newBackend(t)
	h.args = []string{}
	h.env = append(h.env, b.agentEnv()...)
	h.env = append(h.env, "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=1s", "ECS_CONTAINER_STOP_TIMEOUT=2s")
	h.start()
	ci := b.waitConnected(h)
	instanceARN := aws.ToString(ci.ContainerInstanceArn)

	arns := b.runTask(b.sleeperDef("e2e-ckpt-sleeper", 0), 2)
	arns = append(arns, b.runTask(b.webDef("e2e-ckpt-web", types.NetworkModeBridge, 0), 1)...)
	tasks := b.waitTasks("RUNNING", 2*time.Minute, arns, lastStatus("RUNNING"))
	var url string
	for _, tk := range tasks {
		if nbs := tk.Containers[0].NetworkBindings; len(nbs) == 1 {
			url = fmt.Sprintf("http://127.0.0.1:%d/", aws.ToInt32(nbs[0].HostPort))
		}
	}
	if url == "" {
		t.Fatal("the bridge task reports no host port")
	}
	waitGet(t, h.dial, url)
	before := h.runtimeByTask()
	if len(before) != len(arns) {
		t.Fatalf("%d runtime containers for %d tasks", len(before), len(arns))
	}

	// While the agent runs, --check-state reads its checkpoint from a copy and says so.
	out, err := exec.Command(agentBin, "--check-state", h.checkpointPath()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "in use:     yes") || !strings.Contains(string(out), "integrity:  ok") {
		t.Fatalf("--check-state on the running agent's checkpoint: %v\n%s", err, out)
	}

	var moved []string
	restart := func(what string, damage func(data []byte) []byte) int64 {
		t.Helper()
		h.stopAgent()
		data, err := os.ReadFile(h.checkpointPath())
		if err != nil {
			t.Fatal(err)
		}
		if damage != nil {
			if err := os.WriteFile(h.checkpointPath(), damage(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		off := h.logSize()
		h.start()
		// The backend sees the same instance, connected again.
		ci := b.waitConnected(h)
		if got := aws.ToString(ci.ContainerInstanceArn); got != instanceARN {
			t.Fatalf("%s: the agent registered as %s, was %s", what, got, instanceARN)
		}
		for _, arn := range arns {
			h.waitFor(what+": task adopted", time.Minute, func() (bool, string) {
				return h.logLineSince(off, "task="+arn, `msg="adopted a task from containerd`), "no adoption logged for " + arn
			})
		}
		h.waitFor(what+": tasks RUNNING again in the agent", time.Minute, func() (bool, string) {
			var missing []string
			for _, arn := range arns {
				if !h.logLineSince(off, `msg="task status changed"`, "task="+arn+" ", "to=RUNNING") {
					missing = append(missing, arn)
				}
			}
			return len(missing) == 0, fmt.Sprintf("not RUNNING: %v", missing)
		})
		b.waitTasks(what+": RUNNING in the backend", time.Minute, arns, lastStatus("RUNNING"))
		after := h.runtimeByTask()
		if len(after) != len(before) {
			t.Errorf("%s: %d runtime containers, %d before", what, len(after), len(before))
		}
		for arn, rc := range before {
			if after[arn].ID != rc.ID || after[arn].Pid != rc.Pid || after[arn].Status != runtime.StatusRunning {
				t.Errorf("%s: task %s container %s pid %d became %s pid %d (%s)", what, arn, rc.ID, rc.Pid, after[arn].ID, after[arn].Pid, after[arn].Status)
			}
		}
		waitGet(t, h.dial, url)
		// Introspection lists them again, as the reference agent's /v1/tasks does.
		body, err := httpGet(t, h.dial, "http://127.0.0.1:51678/v1/tasks")
		for _, arn := range arns {
			if err != nil || !strings.Contains(body, arn) {
				t.Errorf("%s: /v1/tasks does not list %s (%v)", what, arn, err)
			}
		}
		return off
	}

	for _, d := range checkpointDamages {
		off := restart(d.name, func(data []byte) []byte { return d.do(t, data) })
		var to string
		for _, l := range strings.Split(h.logSince(off), "\n") {
			if strings.Contains(l, `msg="checkpoint is damaged; moved it aside and starting with an empty checkpoint"`) {
				if m := movedAsideRE.FindStringSubmatch(l); m != nil {
					to = m[1]
				}
			}
		}
		if to == "" || !strings.HasPrefix(to, h.checkpointPath()+".corrupt-") || strings.HasSuffix(to, ".db") {
			t.Fatalf("%s: no log line says where the damaged checkpoint went (%q); log:\n%s", d.name, to, h.logSince(off))
		}
		if _, err := os.Stat(to); err != nil {
			t.Fatalf("%s: the damaged checkpoint is not where the log says: %v", d.name, err)
		}
		moved = append(moved, to)
		t.Logf("%s: agent started, moved the checkpoint to %s, adopted %d tasks", d.name, filepath.Base(to), len(arns))
		// What the operator sees of the damaged copy: exit 1 and what is wrong.
		out, err := exec.Command(agentBin, "--check-state", to).CombinedOutput()
		if code := exitCodeOf(err); code != 1 || !strings.Contains(string(out), "DAMAGED") {
			t.Errorf("%s: --check-state on the damaged copy exited %d:\n%s", d.name, code, out)
		}
	}

	// An undecodable task record: the task is rebuilt, not orphaned.
	h.stopAgent()
	db, err := bolt.Open(h.checkpointPath(), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	victim := arns[0][strings.LastIndex(arns[0], "/")+1:]
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("Task.v1alpha1.ecs.ecsd.io")).Put([]byte(api.Namespace+"/"+victim), []byte(`{"metadata":{"name":`))
	})
	_ = db.Close()
	if err != nil {
		t.Fatal(err)
	}
	off := h.logSize()
	h.start()
	b.waitConnected(h)
	h.waitFor("the undecodable record quarantined and its task adopted", time.Minute, func() (bool, string) {
		return h.logLineSince(off, `msg="quarantining undecodable checkpoint record"`) &&
			h.logLineSince(off, "task="+arns[0], `msg="adopted a task from containerd`), "not logged"
	})
	b.waitTasks("RUNNING after the quarantine", time.Minute, arns, lastStatus("RUNNING"))
	if after := h.runtimeByTask(); after[arns[0]].ID != before[arns[0]].ID || after[arns[0]].Pid != before[arns[0]].Pid {
		t.Errorf("the task with the undecodable record lost its container: %+v → %+v", before[arns[0]], after[arns[0]])
	}

	// The adopted tasks stop and clean up normally.
	for _, arn := range arns {
		b.stopTask(arn)
	}
	stopped := b.waitTasks("STOPPED", 2*time.Minute, arns, lastStatus("STOPPED"))
	for _, tk := range stopped {
		// The sleepers exit 0 on SIGTERM (httpd as PID 1 ignores it and is killed).
		if c := tk.Containers[0]; aws.ToString(c.Name) == "app" && (c.ExitCode == nil || *c.ExitCode != 0) {
			t.Errorf("task %s exit code %v, want 0 from SIGTERM", aws.ToString(tk.TaskArn), c.ExitCode)
		}
	}
	h.waitFor("every task cleaned up", time.Minute, func() (bool, string) {
		m, err := h.runtimeContainers()
		if err != nil {
			return false, err.Error()
		}
		return len(m) == 0 && len(activeSnapshots(h.snapshots())) == 0, fmt.Sprintf("%d runtime containers left", len(m))
	})
	if _, err := httpGet(t, h.dial, url); err == nil {
		t.Errorf("%s still answers after its task stopped", url)
	}
	// ECS heard RUNNING again after each loss (a repeated status is harmless, a lost one
	// is not), and STOPPED last.
	for _, arn := range arns {
		got := b.taskStatuses(arn)
		running := 0
		for _, s := range got {
			if s == "RUNNING" {
				running++
			}
		}
		if running < 1+len(checkpointDamages) || got[len(got)-1] != "STOPPED" {
			t.Errorf("task %s state changes %v, want RUNNING once more after each damaged checkpoint, then STOPPED", arn, got)
		}
	}
	h.stopAgent()
	if os.Getenv("E2E_DEBUG_LOG") != "" {
		t.Logf("agent log:\n%s", h.logSince(0))
		for _, arn := range arns {
			t.Logf("%s: %v", arn, b.taskStatuses(arn))
		}
	}
	if tasks, ctrs := h.objects(); len(tasks) != 0 || len(ctrs) != 0 {
		t.Errorf("checkpoint holds %d tasks and %d containers after cleanup", len(tasks), len(ctrs))
	}
	left, _ := filepath.Glob(h.checkpointPath() + ".corrupt-*")
	if len(left) != len(moved) {
		t.Errorf("damaged checkpoints kept %v, want %v", left, moved)
	}
}

// exitCodeOf is a command's exit status (0 when err is nil, -1 when it did not run).
func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
