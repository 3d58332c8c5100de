//go:build integration

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binary is the ecs-init built by TestMain. The tests run the real binary, the way systemd
// does, inside throw-away network namespaces.
var binary string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ecs-init-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "ecs-init")
	build := exec.Command("go", "build", "-o", binary, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// result is one finished ecs-init run.
type result struct {
	stdout, stderr string
	code           int
}

// errorLines returns stderr's "ecs-init:" lines: the final error line, never a log line.
func (r result) errorLines() []string {
	var out []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(l, "ecs-init:") {
			out = append(out, l)
		}
	}
	return out
}

// runCmd runs argv with exactly env (nothing inherited from the test process, so host
// ECS_* variables cannot leak in) and returns its output and exit status.
func runCmd(t *testing.T, env []string, argv ...string) result {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.code = exitErr.ExitCode()
	default:
		t.Fatalf("%q: %v", argv, err)
	}
	return res
}

// baseEnv is the environment every ecs-init run gets: PATH for the iptables binaries, and
// configuration files in dir so the host's /etc/ecs is never read.
func baseEnv(t *testing.T, dir string, extra ...string) []string {
	t.Helper()
	cfg := filepath.Join(dir, "ecs.config")
	if _, err := os.Stat(cfg); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(cfg, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"ECSD_CONFIG_FILE=" + cfg,
		"ECS_AGENT_CONFIG_FILE_PATH=" + filepath.Join(dir, "absent.json"),
	}
	return append(env, extra...)
}
