//go:build integration && linux

package cni

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/ecsd/ecsd/internal/netns"
)

const setupHint = "run `bash hack/setup-test-env.sh` as root (installs containernetworking-plugins, iptables, iproute2)"

// testHost is a throwaway network namespace standing in for the host: the Manager under test
// uses it as Options.HostNetNS, so nothing touches the machine's own namespace.
type testHost struct {
	t    *testing.T
	dir  string // directory of this test's namespaces
	path string // the test host namespace
}

func requirePrereqs(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("test needs root; %s", setupHint)
	}
	for _, p := range []string{"bridge", "host-local", "portmap", "loopback", "host-device", "static"} {
		if _, err := os.Stat(filepath.Join(DefaultPluginDir, p)); err != nil {
			t.Fatalf("CNI plugin %s missing: %v; %s", p, err, setupHint)
		}
	}
	for _, b := range []string{"iptables", "iptables-save", "ip"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("%s not in PATH: %v; %s", b, err, setupHint)
		}
	}
}

func randHex() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newTestHost(t *testing.T) *testHost {
	t.Helper()
	requirePrereqs(t)
	dir := filepath.Join(t.TempDir(), "ns")
	t.Cleanup(func() {
		if err := netns.DeleteDir(dir); err != nil {
			t.Errorf("delete test namespaces: %v", err)
		}
	})
	h := &testHost{t: t, dir: dir}
	h.path = h.newNS("host")
	h.run("ip", "link", "set", "lo", "up")
	return h
}

// newNS creates another namespace of this test (removed at the end).
func (h *testHost) newNS(kind string) string {
	h.t.Helper()
	p, err := netns.Create(h.dir, "ecsdt-"+kind+"-"+randHex())
	if err != nil {
		h.t.Fatalf("create namespace: %v", err)
	}
	return p
}

// run executes a command inside the test host namespace and fails the test on error.
func (h *testHost) run(args ...string) string { h.t.Helper(); return runIn(h.t, h.path, args...) }

func runIn(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := tryIn(ns, args...)
	if err != nil {
		t.Fatalf("%s (in %s): %v: %s", strings.Join(args, " "), filepath.Base(ns), err, out)
	}
	return out
}

func tryIn(ns string, args ...string) (string, error) {
	var out []byte
	err := netns.Do(ns, func() error {
		var err error
		out, err = exec.Command(args[0], args[1:]...).CombinedOutput()
		return err
	})
	return string(out), err
}

// newManager returns a Manager over a fresh state dir in the test host; the state dir's
// namespaces are removed at the end.
func (h *testHost) newManager(opts Options) *Manager {
	h.t.Helper()
	if opts.StateDir == "" {
		opts.StateDir = filepath.Join(h.t.TempDir(), "state")
		sd := opts.StateDir
		h.t.Cleanup(func() { netns.DeleteDir(filepath.Join(sd, "netns")) })
	}
	opts.HostNetNS = h.path
	if opts.DynamicPorts == [2]uint16{} {
		opts.DynamicPorts = [2]uint16{40000, 40099}
	}
	opts.Logger = testr.NewWithOptions(h.t, testr.Options{Verbosity: 1})
	m, err := New(ctx(h.t), opts)
	if err != nil {
		h.t.Fatalf("New: %v", err)
	}
	h.t.Cleanup(func() { m.Close() })
	return m
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// serveTCP answers every connection accepted in namespace ns on addr with reply.
func serveTCP(t *testing.T, ns, addr, reply string) {
	t.Helper()
	ln, err := netns.Listen(ns, "tcp", addr)
	if err != nil {
		t.Fatalf("listen in %s: %v", filepath.Base(ns), err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(reply))
			c.Close()
		}
	}()
}

// serveUDP answers every datagram received in ns on addr with reply.
func serveUDP(t *testing.T, ns, addr, reply string) {
	t.Helper()
	pc, err := netns.ListenPacket(ns, "udp", addr)
	if err != nil {
		t.Fatalf("listen udp in %s: %v", filepath.Base(ns), err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(reply), from)
		}
	}()
}

// readTCP dials addr from ns and returns what the peer sends before closing.
func readTCP(t *testing.T, ns, addr string, timeout time.Duration) (string, error) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := netns.Dial(c, ns, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(conn)
	return string(b), err
}

func mustReadTCP(t *testing.T, ns, addr, want string) {
	t.Helper()
	got, err := readTCP(t, ns, addr, 5*time.Second)
	if err != nil || got != want {
		t.Fatalf("TCP %s from %s: got %q, %v; want %q", addr, filepath.Base(ns), got, err, want)
	}
}

// askUDP sends a datagram to addr from ns and returns the first reply.
func askUDP(t *testing.T, ns, addr string) (string, error) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := netns.Dial(c, ns, "udp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	buf := make([]byte, 1500)
	// UDP may lose the first datagram while conntrack settles; ask until the deadline.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		conn.Write([]byte("ping"))
		conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := conn.Read(buf)
		if err == nil {
			return string(buf[:n]), nil
		}
	}
	return "", context.DeadlineExceeded
}

var counters = regexp.MustCompile(`\[\d+:\d+\]`)

// iptablesRules is iptables-save of the test host without counters and comments lines.
func (h *testHost) iptablesRules() []string {
	h.t.Helper()
	var out []string
	for _, l := range strings.Split(h.run("iptables-save"), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, counters.ReplaceAllString(l, ""))
	}
	slices.Sort(out)
	return out
}

// links lists interface names in ns.
func links(t *testing.T, ns string) []string {
	t.Helper()
	var names []string
	err := netns.Do(ns, func() error {
		ifs, err := net.Interfaces()
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}
