package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
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

// runWith is ecsctlIn.run with input and extra global flags (tokens) of its own choosing;
// it returns ecsctl's exit code.
func (c ecsctlIn) runWith(stdin string, global []string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	full := append([]string{"--server", "http://127.0.0.1:51678", "--request-timeout", "10s"}, global...)
	cmd := exec.Command(c.bin, append(full, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.t.TempDir()}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Stdin = strings.NewReader(stdin)
	err := netns.Do(c.h.netns, cmd.Run)
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		c.t.Fatalf("ecsctl %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// TestEcsctlExec runs commands in a task's running container through the agent binary's
// object API (the exec subresource, over containerd's exec) with the ecsctl binary: output,
// the container's environment, input, a terminal, a large output streamed whole, and the
// command's exit code as ecsctl's. Failure paths: a stopped container is refused with its
// state, a caller without the token or with a wrong one gets 401 and nothing runs, and a
// command that does not exist fails with the runtime's reason.
func TestEcsctlExec(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	h.addTask("exec", fmt.Sprintf(`[
 {"name":"main","image":%[1]q,"essential":true,"environment":{"EXEC_E2E":"from-the-task"},
  "command":["sh","-c","trap 'exit 0' TERM; while true; do sleep 0.1; done"]},
 {"name":"done","image":%[1]q,"essential":false,"command":["true"]}]`, testenv.BusyboxImage()))
	h.start()
	defer h.kill(syscall.SIGTERM)
	ctl := ecsctlIn{t: t, bin: buildEcsctl(t), h: h}
	ctl.wait("main RUNNING and done STOPPED", 2*time.Minute, func(out string) bool { return out == "RUNNING STOPPED" },
		"get", "containers", "exec-main", "exec-done", "-o", "jsonpath={.items[*].status.knownStatus}")
	tok := []string{"--token-file", h.tokenFile()}

	start := time.Now()
	out, errOut, code := ctl.runWith("", tok, "exec", "exec/main", "--", "echo", "exec-works")
	if code != 0 || out != "exec-works\n" {
		t.Fatalf("exec echo: exit %d, stdout %q, stderr %q\nagent log:\n%s", code, out, errOut, h.agentLog())
	}
	t.Logf("ecsctl exec echo took %v", time.Since(start))

	// The container's process settings: its environment.
	if out, errOut, code := ctl.runWith("", tok, "exec", "exec-main", "--", "sh", "-c", "echo $EXEC_E2E"); code != 0 || out != "from-the-task\n" {
		t.Errorf("exec sees the container's environment: exit %d, %q, %q", code, out, errOut)
	}
	// stdout and stderr apart, and the exit code propagated.
	out, errOut, code = ctl.runWith("", tok, "exec", "exec/main", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
	if code != 7 || out != "out\n" || errOut != "err\n" {
		t.Errorf("exit 7: got exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Input with -i, closed at its end (cat exits).
	if out, errOut, code := ctl.runWith("line one\nline two\n", tok, "exec", "-i", "exec/main", "--", "cat"); code != 0 || out != "line one\nline two\n" {
		t.Errorf("exec -i cat: exit %d, %q, %q", code, out, errOut)
	}
	// A terminal with -t (and -i: the shell reads the command from it).
	out, errOut, code = ctl.runWith("tty; exit 3\n", tok, "exec", "-it", "exec/main", "--", "sh")
	if code != 3 || !strings.Contains(out, "/dev/pts/") {
		t.Errorf("exec -it sh: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// A large output arrives whole: streamed, not truncated.
	if out, errOut, code := ctl.runWith("", tok, "exec", "exec/main", "--", "sh", "-c", "yes 0123456789abcdef | head -c 4000000"); code != 0 || len(out) != 4000000 {
		t.Errorf("exec 4 MB of output: exit %d, %d bytes, stderr %q", code, len(out), errOut)
	}

	// kubectl exec, through the task as a pod, over TLS with the token.
	if out := kubectlInHostAt(t, h, "--server", "https://127.0.0.1:51678", "--token", h.apiToken(),
		"--certificate-authority", filepath.Join(filepath.Dir(h.tokenFile()), "api.crt"),
		"exec", "exec", "-c", "main", "--", "sh", "-c", "echo kubectl-$EXEC_E2E"); out != "kubectl-from-the-task\n" {
		t.Errorf("kubectl exec: %q", out)
	}

	// Failure paths.
	out, errOut, code = ctl.runWith("", tok, "exec", "exec/done", "--", "echo", "nope")
	if code == 0 || out != "" || !strings.Contains(errOut, "is not running (STOPPED)") {
		t.Errorf("exec in a stopped container: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, bad := range [][]string{{"--token", "not-the-token"}, {"--token-file", h.tokenFile() + ".missing"}} {
		out, errOut, code = ctl.runWith("", bad, "exec", "exec/main", "--", "touch", "/tmp/unauthenticated")
		if code == 0 || out != "" {
			t.Errorf("exec with %v: exit %d, stdout %q, stderr %q", bad, code, out, errOut)
		}
	}
	// A wrong token gets the server's 401 (the exec request itself, without any lookup).
	c := h.objectAPIClient(false)
	req, _ := http.NewRequest(http.MethodGet, objectAPI+"/containers/exec-main/exec?command=touch&command=/tmp/unauthenticated&stdout=true", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Protocol", "v5.channel.k8s.io")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("exec upgrade without the token: %s, want 401", resp.Status)
	}
	if _, _, code := ctl.runWith("", tok, "exec", "exec/main", "--", "test", "-e", "/tmp/unauthenticated"); code != 1 {
		t.Errorf("a refused exec ran its command: test -e exits %d", code)
	}
	out, errOut, code = ctl.runWith("", tok, "exec", "exec/main", "--", "/no/such/program")
	if code == 0 || out != "" || !strings.Contains(errOut, "/no/such/program") {
		t.Errorf("exec of a missing program: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if log := h.agentLog(); strings.Contains(log, "exec-works") || strings.Contains(log, "0123456789abcdef") {
		t.Errorf("the agent's log has exec arguments or output:\n%s", h.agentLog())
	}
}
