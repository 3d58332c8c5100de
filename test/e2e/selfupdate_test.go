package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/selfupdate/artifact"
	"github.com/ecsd/ecsd/internal/selfupdate/install"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
)

// buildAgentVersion links ecs-agent with version and hash set the way `make build` sets
// them, into dir, and copies the helpers TestMain built next to it: one release's binaries.
func buildAgentVersion(t *testing.T, dir, ver, hash string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ldflags := fmt.Sprintf("-X github.com/ecsd/ecsd/internal/version.Version=%s -X github.com/ecsd/ecsd/internal/version.GitHash=%s", ver, hash)
	build := exec.Command("go", "build", "-ldflags", ldflags, "-o", filepath.Join(dir, "ecs-agent"), "github.com/ecsd/ecsd/cmd/ecs-agent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build ecs-agent %s: %v\n%s", ver, err, out)
	}
	for _, helper := range []string{"ecsd-init", "ecsd-logger", "ecsd-logger-awslogs", "ecsd-logger-ship"} {
		copyFile(t, filepath.Join(filepath.Dir(agentBin), helper), filepath.Join(dir, helper))
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
}

// metadataVersion is the agent's Version on /v1/metadata, or "" while it does not answer.
func metadataVersion(t *testing.T, h *agentHost) string {
	t.Helper()
	body, err := httpGet(t, h.dial, "http://127.0.0.1:51678/v1/metadata")
	if err != nil {
		return ""
	}
	var md struct{ Version string }
	if json.Unmarshal([]byte(body), &md) != nil {
		return ""
	}
	return md.Version
}

func waitMetadataVersion(t *testing.T, h *agentHost, want string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got := metadataVersion(t, h)
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("introspection reports version %q, want %q; agent log tail:\n%s", got, want, h.agentLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSelfUpdateThroughECSInit updates a running agent from v1 to v2, both built by the
// test, the way production does it: ecs-init start runs the package's v1 (the unit's
// ExecStart), `ecsctl update-agent --file` sends v2's artifact through the local control
// plane embedded in the agent, the agent refuses it while ECS_UPDATES_ENABLED is off,
// then, enabled, downloads, verifies and stages it, acknowledges PerformUpdate and exits
// with status 42. The test then does what systemd's Restart=always does: it runs the same
// command line again, and ecs-init installs v2 and executes it. Introspection's version
// changes, ecsctl reports the update, and the task that ran throughout kept its container
// process (same PID, same start time).
func TestSelfUpdateThroughECSInit(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	pkg := filepath.Join(h.dir, "usr", "libexec", "ecsd")
	buildAgentVersion(t, pkg, "1.0.0-e2e", "e2ev1")
	copyFile(t, initBin, filepath.Join(pkg, "ecs-init"))
	v2dir := filepath.Join(h.dir, "v2")
	buildAgentVersion(t, v2dir, "2.0.0-e2e", "e2ev2")
	v2 := filepath.Join(h.dir, "ecsd-update-2.0.0-e2e.tar.gz")
	f, err := os.Create(v2)
	if err != nil {
		t.Fatal(err)
	}
	if err := artifact.Write(f, v2dir); err != nil {
		t.Fatal(err)
	}
	f.Close()

	cache := filepath.Join(h.dir, "cache")
	versions := filepath.Join(h.dir, "agent")
	h.bin = filepath.Join(pkg, "ecs-init")
	h.args = []string{"start", "--versions-dir", versions, "--", "--local", "--local-api", "127.0.0.1:0"}
	h.env = []string{"ECS_UPDATE_DOWNLOAD_DIR=" + cache, "ECS_UPDATES_ENABLED=false"}
	h.start()
	defer func() { h.kill(syscall.SIGTERM) }()
	waitMetadataVersion(t, h, "v1.0.0-e2e (e2ev1)")

	ctl := ecsctlIn{t: t, bin: buildEcsctl(t), h: h}
	local := []string{"--local-credentials", filepath.Join(h.dir, "secrets", "local-plane.json")}
	def := filepath.Join(t.TempDir(), "taskdef.json")
	if err := os.WriteFile(def, []byte(fmt.Sprintf(`{
  "family": "selfupdate-e2e", "networkMode": "host",
  "containerDefinitions": [{"name": "app", "image": %q, "essential": true, "memory": 32, "command": %s}]
}`, testenv.BusyboxImage(), service)), 0o644); err != nil {
		t.Fatal(err)
	}
	arn := strings.TrimSpace(ctl.must(append([]string{"run", "-f", def}, local...)...))
	key := api.ContainerName(taskIDOf(arn), "app")
	h.waitRuntime("the task's container running", running(key))
	// Its start time is recorded just after it starts.
	var before runtime.ContainerState
	deadline := time.Now().Add(time.Minute)
	for before = h.containerState(key); before.StartedAt.IsZero(); before = h.containerState(key) {
		if time.Now().After(deadline) {
			t.Fatalf("the task's container has no start time: %+v", before)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Updates off: the agent refuses, and ecsctl says why.
	out, errOut, err := ctl.run(append([]string{"update-agent", "--file", v2, "--timeout", "2m"}, local...)...)
	if err == nil || !strings.Contains(errOut, "the agent refused the update: Updates are disabled") {
		t.Fatalf("update-agent with updates disabled: %v\nstdout: %s\nstderr: %s\nagent log tail:\n%s", err, out, errOut, h.agentLog())
	}

	// The operator turns updates on and restarts the agent.
	h.kill(syscall.SIGTERM)
	h.env = []string{"ECS_UPDATE_DOWNLOAD_DIR=" + cache, "ECS_UPDATES_ENABLED=true"}
	h.start()
	waitMetadataVersion(t, h, "v1.0.0-e2e (e2ev1)")

	type result struct {
		out, errOut string
		err         error
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, err := ctl.run(append([]string{"update-agent", "--file", v2, "--timeout", "5m"}, local...)...)
		done <- result{out, errOut, err}
	}()
	// The agent exits with 42 once it acknowledged PerformUpdate.
	exited := make(chan error, 1)
	cmd := h.cmd
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != install.ExitUpdate {
			t.Fatalf("agent exit: %v, want status %d; agent log tail:\n%s", err, install.ExitUpdate, h.agentLog())
		}
	case r := <-done:
		t.Fatalf("ecsctl update-agent ended before the agent exited: %v\nstdout: %s\nstderr: %s\nagent log tail:\n%s", r.err, r.out, r.errOut, h.agentLog())
	case <-time.After(3 * time.Minute):
		t.Fatalf("the agent did not exit for the update; agent log tail:\n%s", h.agentLog())
	}
	h.log.Close()
	h.cmd = nil
	if _, err := os.Stat(filepath.Join(cache, install.ReadyFile)); err != nil {
		t.Fatalf("no update ready for ecs-init after the exit: %v", err)
	}
	if st := h.containerState(key); st.Status != runtime.StatusRunning || st.Pid != before.Pid {
		t.Fatalf("the task's container did not keep running while the agent was down: %+v (before: pid %d)", st, before.Pid)
	}

	// systemd's Restart=always: the same command line again.
	h.start()
	var r result
	select {
	case r = <-done:
	case <-time.After(5 * time.Minute):
		t.Fatalf("ecsctl update-agent did not finish; agent log tail:\n%s", h.agentLog())
	}
	if r.err != nil || !strings.Contains(r.out, "agent updated: 1.0.0-e2e (e2ev1) -> 2.0.0-e2e (e2ev2)") {
		t.Fatalf("update-agent: %v\nstdout: %s\nstderr: %s\nagent log tail:\n%s", r.err, r.out, r.errOut, h.agentLog())
	}
	for _, want := range []string{"agent update status: PENDING", "agent update status: UPDATED", "the agent is downloading the update"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("update-agent output lacks %q:\n%s", want, r.out)
		}
	}
	waitMetadataVersion(t, h, "v2.0.0-e2e (e2ev2)")

	// The process is v2 from its installed directory, and confirmed it came up.
	exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(h.cmd.Process.Pid), "exe"))
	if err != nil || !strings.HasPrefix(exe, filepath.Join(versions, "versions")+"/") {
		t.Fatalf("the agent runs %q (%v), want a binary under %s/versions", exe, err, versions)
	}
	deadline = time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(versions, "trial")); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the updated agent never confirmed its start; agent log tail:\n%s", h.agentLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, gone := range []string{install.ReadyFile, install.StagedFile} {
		if _, err := os.Stat(filepath.Join(cache, gone)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is still in the update directory (%v)", gone, err)
		}
	}

	// No task restarted: the same container process, started at the same time, still running.
	h.waitRuntime("the task's container running under v2", running(key))
	after := h.containerState(key)
	if after.Pid != before.Pid || !after.StartedAt.Equal(before.StartedAt) {
		t.Fatalf("the task's container changed across the update: pid %d → %d, started %v → %v", before.Pid, after.Pid, before.StartedAt, after.StartedAt)
	}
	ctl.wait("the task RUNNING under v2", time.Minute, func(out string) bool {
		row := rowOf(out, taskIDOf(arn))
		return len(row) >= 4 && row[2] == "RUNNING" && row[3] == "RUNNING"
	}, "get", "tasks")
}

// containerState inspects one of the agent's containers by its object name.
func (h *agentHost) containerState(key string) runtime.ContainerState {
	h.t.Helper()
	list, err := h.rt.ListContainers(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	c, ok := byObject(list)[key]
	if !ok {
		h.t.Fatalf("no container %s", key)
	}
	st, err := h.rt.InspectContainer(context.Background(), c.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}
