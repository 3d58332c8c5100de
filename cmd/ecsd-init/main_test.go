package main

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/testutil"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ecsd-init-test-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "ecsd-init")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if err == nil {
		return 0
	}
	if !errors.As(err, &ee) {
		t.Fatalf("run: %v", err)
	}
	return ee.ExitCode()
}

func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--", "sh", "-c", "exit 3"}, 3},
		{[]string{"sh", "-c", "exit 0"}, 0},
		{[]string{"sh", "-c", "kill -KILL $$"}, 128 + 9},
		{[]string{"/no/such/binary"}, exitNotFound},
		{[]string{"no-such-command-anywhere"}, exitNotFound},
		{nil, exitUsage},
	} {
		err := exec.Command(bin, tc.args...).Run()
		if got := exitCode(t, err); got != tc.want {
			t.Errorf("ecsd-init %q: exit %d, want %d", tc.args, got, tc.want)
		}
	}
}

// TestForwardsSignals: SIGTERM to the init reaches the child, whose trap decides the exit.
func TestForwardsSignals(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command(bin, "sh", "-c", `trap 'exit 7' TERM; touch `+ready+`; while :; do sleep 0.05; done`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the child to install its trap", func() bool { _, err := os.Stat(ready); return err == nil })
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if got := exitCode(t, cmd.Wait()); got != 7 {
		t.Fatalf("exit %d after SIGTERM, want the child's 7", got)
	}
}

// TestReapsOrphans: a grandchild orphaned by its parent is re-parented to the init (the
// subreaper here) and reaped when it exits, never left a zombie.
func TestReapsOrphans(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "orphan")
	cmd := exec.Command(bin, "sh", "-c", `sh -c 'sleep 0.3 & echo $! > `+pidFile+`'; sleep 30`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var pid int
	testutil.Eventually(t, "the orphan's pid file", func() bool {
		b, err := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	// The orphan's parent becomes the init...
	testutil.Eventually(t, "the orphan to be re-parented to the init", func() bool {
		return statField(pid, 2) == strconv.Itoa(cmd.Process.Pid) || statField(pid, 0) == ""
	})
	// ...and once it exits it is gone entirely, not a zombie.
	testutil.Eventually(t, "the orphan to be reaped", func() bool { return statField(pid, 0) == "" })
}

func TestPause(t *testing.T) {
	cmd := exec.Command(bin, "--pause")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A sleeping process is not enough: a Go program sleeps in its runtime's start-up too,
	// before its handler is installed. The holder says when SIGTERM is its own.
	ready, drained := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(drained)
		r := bufio.NewReader(stderr)
		if _, err := r.ReadString('\n'); err == nil {
			close(ready)
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case <-ready:
	case <-time.After(testutil.DefaultTimeout):
		t.Fatal("the pause process never said it was holding")
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	<-drained // the pipe is read to its end before Wait closes it
	if got := exitCode(t, cmd.Wait()); got != 0 {
		t.Fatalf("pause exit %d after SIGTERM, want 0", got)
	}
}

// statField returns field i of /proc/pid/stat after the command name (0 = pid, 1 = state,
// 2 = ppid), "" if the process is gone.
func statField(pid, i int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return ""
	}
	fields := append([]string{strconv.Itoa(pid)}, strings.Fields(s[end+1:])...)
	if i >= len(fields) {
		return ""
	}
	return fields[i]
}
