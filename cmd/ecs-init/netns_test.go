//go:build integration

package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// netns is a network namespace owned by one test. Everything ecs-init changes (iptables
// tables, /proc/sys/net, routes) is per namespace, so the host's own set-up is never touched.
type netns struct {
	name string
}

// newNetns creates a namespace with lo up and deletes it when the test ends.
func newNetns(t *testing.T) *netns {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	n := &netns{name: "ecsdt-" + hex.EncodeToString(b)}
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s (the tests need root and iproute2)", n.name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.name, err, out)
		}
	})
	n.sh(t, "ip link set lo up")
	return n
}

// sh runs each line of script as one command inside the namespace and fails the test on
// the first error. Lines are split on spaces: no shell, no quoting.
func (n *netns) sh(t *testing.T, script string) {
	t.Helper()
	for _, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		args := append([]string{"netns", "exec", n.name}, strings.Fields(line)...)
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("in %s: %s: %v: %s", n.name, line, err, out)
		}
	}
}

// output runs one command inside the namespace and returns its stdout.
func (n *netns) output(t *testing.T, argv ...string) string {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.name}, argv...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("in %s: %q: %v: %s", n.name, argv, err, stderr.String())
	}
	return string(out)
}

// ecsInit runs the built ecs-init inside the namespace with env.
func (n *netns) ecsInit(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runCmd(t, env, append([]string{"ip", "netns", "exec", n.name, binary}, args...)...)
}

// mustEcsInit runs ecs-init and fails the test unless it exits 0.
func (n *netns) mustEcsInit(t *testing.T, env []string, args ...string) result {
	t.Helper()
	res := n.ecsInit(t, env, args...)
	if res.code != 0 {
		t.Fatalf("ecs-init %q: exit %d\nstderr:\n%s", args, res.code, res.stderr)
	}
	return res
}

// sysctl reads a sysctl as the namespace sees it.
func (n *netns) sysctl(t *testing.T, key string) string {
	t.Helper()
	return strings.TrimSpace(n.output(t, "cat", "/proc/sys/"+key))
}

// do runs fn on an OS thread that has entered the namespace, so sockets fn creates belong
// to it (a socket keeps its namespace for life, whichever thread uses it later). The thread
// is never unlocked: when the goroutine ends, the Go runtime discards it rather than
// letting another goroutine run in the wrong namespace.
func (n *netns) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + n.name)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", n.name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
