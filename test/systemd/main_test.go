//go:build systemd

// Package systemd boots a real Debian 12 under systemd-nspawn, installs the ecsd package
// there next to Debian's own containerd 1.6, runc, iptables and CNI plugins, and drives the
// ecs unit with systemctl: the systemd boot test of `make test-systemd` (README "The
// systemd boot test"). It carries its own build tag, "systemd", so `make test` (tag
// integration) does not run it: it needs debootstrap, systemd-nspawn and a few minutes.
package systemd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// envExecInCgroups switches the test binary into its wrapper role: write its own PID into
// each cgroup.procs file the variable lists (newline separated), then exec the command line
// of its arguments. systemd-nspawn must start inside the test's own cgroups (see
// machineCgroups) and Go cannot place a child in a cgroup v1 hierarchy before it runs.
const envExecInCgroups = "ECSD_SYSTEMD_TEST_EXEC_IN_CGROUPS"

// localBin is ecs-local, the standalone local control plane the agent registers with.
var localBin string

func TestMain(m *testing.M) {
	if procs, ok := os.LookupEnv(envExecInCgroups); ok {
		execInCgroups(procs)
		return
	}
	dir, err := os.MkdirTemp("", "ecsd-systemd-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	localBin = filepath.Join(dir, "ecs-local")
	build := exec.Command("go", "build", "-o", localBin, "github.com/ecsd/ecsd/cmd/ecs-local")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ecs-local:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// execInCgroups is the wrapper role of the test binary (envExecInCgroups). It never returns.
func execInCgroups(procs string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "systemd test wrapper:", err)
		os.Exit(127)
	}
	pid := strconv.Itoa(os.Getpid())
	for _, f := range strings.Split(procs, "\n") {
		if f == "" {
			continue
		}
		// cgroup.procs moves the whole thread group, the Go runtime's threads included.
		if err := os.WriteFile(f, []byte(pid), 0); err != nil {
			fail(err)
		}
	}
	args := os.Args[1:]
	if len(args) == 0 {
		fail(fmt.Errorf("no command"))
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		fail(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envExecInCgroups+"=") {
			env = append(env, kv)
		}
	}
	fail(unix.Exec(path, args, env))
}
