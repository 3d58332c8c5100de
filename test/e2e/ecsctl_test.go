package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/netns"
	"github.com/ecsd/ecsd/internal/testenv"
)

// buildEcsctl builds cmd/ecsctl for this test (so it is never a stale bin/ecsctl).
func buildEcsctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ecsctl")
	build := exec.Command("go", "build", "-o", bin, "github.com/ecsd/ecsd/cmd/ecsctl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build ecsctl: %v\n%s", err, out)
	}
	return bin
}

// ecsctlIn runs the ecsctl binary on the test host, as an operator logged in there would,
// pointed at the agent's introspection port.
type ecsctlIn struct {
	t   *testing.T
	bin string
	h   *agentHost
}

func (c ecsctlIn) run(args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(c.bin, append([]string{"--server", "http://127.0.0.1:51678", "--request-timeout", "10s",
		"--token-file", c.h.tokenFile()}, args...)...)
	// Only what ecsctl needs: no ECSCTL_* or AWS_* settings of the machine leak in.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.t.TempDir()}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = netns.Do(c.h.netns, cmd.Run)
	return out.String(), errOut.String(), err
}

// must runs ecsctl and fails the test if it fails.
func (c ecsctlIn) must(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("ecsctl %s: %v\nstdout: %s\nstderr: %s\nagent log tail:\n%s", strings.Join(args, " "), err, out, errOut, c.h.agentLog())
	}
	return out
}

// wait runs ecsctl until its output satisfies cond.
func (c ecsctlIn) wait(what string, timeout time.Duration, cond func(string) bool, args ...string) string {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, errOut, err := c.run(args...)
		if err == nil && cond(out) {
			return out
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s: ecsctl %s: %v\nstdout: %s\nstderr: %s\nagent log tail:\n%s",
				what, strings.Join(args, " "), err, out, errOut, c.h.agentLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fields are the whitespace-separated fields of the line of out whose first field is name.
func rowOf(out, name string) []string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return f
		}
	}
	return nil
}

// TestEcsctl drives a task's whole life through the ecsctl binary on the agent's test host:
// run through the control plane (signed with the backend's keys, in the agent's cluster
// learned from /v1/metadata), watch it reach RUNNING in `get tasks`, read describe and
// logs, stop it, and see it STOPPED.
func TestEcsctl(t *testing.T) {
	t.Parallel()
	h, b := newConnectedAgent(t)
	defer h.kill(syscall.SIGTERM)
	b.waitConnected(h)
	ctl := ecsctlIn{t: t, bin: buildEcsctl(t), h: h}

	def := filepath.Join(t.TempDir(), "taskdef.json")
	if err := os.WriteFile(def, []byte(fmt.Sprintf(`{
  "family": "ecsctl-e2e",
  "networkMode": "host",
  "containerDefinitions": [{
    "name": "app", "image": %q, "essential": true, "memory": 64,
    "command": ["sh", "-c", "echo hello from ecsctl e2e; trap 'exit 0' TERM; while true; do sleep 0.2; done"]
  }]
}`, testenv.BusyboxImage())), 0o644); err != nil {
		t.Fatal(err)
	}
	ecsFlags := []string{"--endpoint", "http://" + b.addr, "--region", backendRegion,
		"--access-key-id", backendKey, "--secret-access-key", backendSecret}

	arn := strings.TrimSpace(ctl.must(append([]string{"run", "-f", def}, ecsFlags...)...))
	if !strings.Contains(arn, ":task/"+b.cluster+"/") {
		t.Fatalf("ecsctl run printed %q, want a task ARN in cluster %s", arn, b.cluster)
	}
	id := taskIDOf(arn)

	out := ctl.wait("the task RUNNING in get tasks", 2*time.Minute, func(out string) bool {
		row := rowOf(out, id)
		return len(row) >= 4 && row[2] == "RUNNING" && row[3] == "RUNNING"
	}, "get", "tasks")
	if !strings.HasPrefix(out, "NAME ") {
		t.Errorf("get tasks has no header:\n%s", out)
	}
	if row := rowOf(out, id); row[1] != "ecsctl-e2e:1" {
		t.Errorf("get tasks row %q, want family:revision ecsctl-e2e:1", row)
	}
	if got := ctl.must("get", "t", id, "-o", "jsonpath={.spec.arn}"); got != arn {
		t.Errorf("jsonpath ARN %q, want %q", got, arn)
	}
	if got := ctl.must("get", "containers", "-l", "ecs.ecsd.io/task="+id, "-o", "name"); got != "container.ecs.ecsd.io/"+id+"-app\n" {
		t.Errorf("get containers -l: %q", got)
	}

	desc := ctl.must("describe", "task", id)
	for _, want := range []string{"ARN:", arn, "Task Definition:", "ecsctl-e2e:1", "Known Status:", "Events:", "CREATED -> RUNNING", "container/app"} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe lacks %q:\n%s", want, desc)
		}
	}
	ctl.wait("the container's output in logs", time.Minute, func(out string) bool {
		return out == "hello from ecsctl e2e\n"
	}, "logs", id+"/app")
	if v := ctl.must("version"); !strings.Contains(v, "Server Version: Amazon ECS Agent - v") {
		t.Errorf("version:\n%s", v)
	}

	if got := strings.TrimSpace(ctl.must(append([]string{"stop", id, "--reason", "stopped by ecsctl e2e"}, ecsFlags...)...)); got != arn {
		t.Errorf("ecsctl stop printed %q, want %q", got, arn)
	}
	b.waitTasks("the task STOPPED in the control plane", time.Minute, []string{arn}, lastStatus("STOPPED"))
	ctl.wait("the task STOPPED in ecsctl", time.Minute, func(out string) bool { return out == "STOPPED" },
		"get", "t", id, "-o", "jsonpath={.status.knownStatus}")
	if desc := ctl.must("describe", "t", id); !strings.Contains(desc, "RUNNING -> STOPPED") {
		t.Errorf("describe after stop lacks the RUNNING -> STOPPED event:\n%s", desc)
	}
}
