package objectapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ecsd/ecsd/runtime"
)

// scriptedExec is an Executor that runs nothing: it echoes the runtime ID and command, then
// its input, and exits with the code the command's last argument names ("exit=N").
// The runtime's own exec is tested through the agent in test/e2e (TestEcsctlExec).
type scriptedExec struct{}

func (scriptedExec) ExecStream(_ context.Context, id string, cmd []string, s runtime.ExecStreams) (int, error) {
	if cmd[0] == "missing" {
		return -1, fmt.Errorf("exec in %s: %q: executable file not found", id, cmd[0])
	}
	fmt.Fprintf(s.Stdout, "%s ran %s tty=%v\n", id, strings.Join(cmd, " "), s.TTY)
	if s.Stderr != nil {
		fmt.Fprintln(s.Stderr, "to stderr")
	}
	if s.Stdin != nil {
		if _, err := io.Copy(s.Stdout, s.Stdin); err != nil {
			return -1, err
		}
	}
	code := 0
	fmt.Sscanf(cmd[len(cmd)-1], "exit=%d", &code)
	return code, nil
}

// kubectl exec reaches a task's container through the pod form (core v1 discovery, the
// task as a Pod, pods/<task>/exec) over its WebSocket protocol: output apart, input, a
// the exit code. A completed task, a stopped container, a missing command and a
// caller without the token are refused.
func TestKubectlExec(t *testing.T) {
	k := newKubectlEnv(t)
	k.h.o.Exec = scriptedExec{}
	exec1 := func(stdin string, auth []string, args ...string) (string, string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		saved := k.auth
		if auth != nil {
			k.auth = auth
		}
		cmd := k.command(ctx, args...)
		k.auth = saved
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &errOut, strings.NewReader(stdin)
		err := cmd.Run()
		var ee *exec.ExitError
		code := 0
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errOut.String(), code
	}

	out, errOut, code := exec1("", nil, "exec", "web1", "-c", "app", "--", "echo", "hi")
	if code != 0 || out != "web1-app ran echo hi tty=false\n" || errOut != "to stderr\n" {
		t.Errorf("kubectl exec: exit %d, %q, %q", code, out, errOut)
	}
	if out, errOut, code = exec1("", nil, "exec", "web1", "-c", "app", "--", "false", "exit=4"); code != 4 {
		t.Errorf("kubectl exec exit=4: exit %d, %q, %q", code, out, errOut)
	}
	if out, errOut, code = exec1("some input\n", nil, "exec", "-i", "web1", "-c", "app", "--", "cat"); code != 0 || !strings.HasSuffix(out, "some input\n") {
		t.Errorf("kubectl exec -i: exit %d, %q, %q", code, out, errOut)
	}
	// (kubectl -t needs its input to be a terminal; TestEcsctlExec covers the terminal.)

	for _, c := range []struct {
		name string
		auth []string
		args []string
		want string
	}{
		{"stopped container", nil, []string{"web1", "-c", "sidecar"}, `container "sidecar" in task "web1" is not running (STOPPED)`},
		{"completed task", nil, []string{"batch1", "-c", "job"}, "completed pod"},
		{"no such task", nil, []string{"nope", "-c", "app"}, "NotFound"},
		{"missing program", nil, []string{"web1", "-c", "app", "--", "missing"}, "executable file not found"},
		// Without credentials kubectl asks for a user name after the 401, and gets none.
		{"no token", []string{"--certificate-authority", k.ca}, []string{"web1", "-c", "app"}, "EOF"},
		{"wrong token", []string{"--certificate-authority", k.ca, "--token", "wrong"}, []string{"web1", "-c", "app"}, "You must be logged in"},
	} {
		args := append([]string{"exec"}, c.args...)
		if !strings.Contains(strings.Join(c.args, " "), "--") {
			args = append(args, "--", "echo", "never")
		}
		out, errOut, code := exec1("", c.auth, args...)
		if code == 0 || strings.Contains(out, "never") || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want a failure saying %q", c.name, code, out, errOut, c.want)
		}
	}
}
