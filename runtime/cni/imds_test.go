//go:build integration && linux

package cni

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// veth links the test host to a new "other host" namespace: hostEnd stays in the test host,
// peerEnd gets peerCIDR in the other namespace and is up. With a mac, hostEnd plays an ENI:
// it gets that MAC and is left alone (a waiting Setup may take it at once); otherwise it is
// brought up.
func (h *testHost) veth(hostEnd, mac, peerEnd, peerCIDR string) string {
	h.t.Helper()
	other := h.newNS("peer")
	runIn(h.t, other, "ip", "link", "set", "lo", "up")
	args := []string{"ip", "link", "add", hostEnd}
	if mac != "" {
		args = append(args, "address", mac)
	}
	h.run(append(args, "type", "veth", "peer", "name", peerEnd, "netns", other)...)
	runIn(h.t, other, "ip", "addr", "add", peerCIDR, "dev", peerEnd)
	runIn(h.t, other, "ip", "link", "set", peerEnd, "up")
	if mac == "" {
		h.run("ip", "link", "set", hostEnd, "up")
	}
	return other
}

// imdsDropCount is the packet counter of the bridge IMDS rule in the test host.
func (h *testHost) imdsDropCount() int {
	h.t.Helper()
	for _, l := range strings.Split(h.run("iptables", "-w", "5", "-L", "FORWARD", "-v", "-x", "-n"), "\n") {
		if strings.Contains(l, IMDSAddress) && strings.Contains(l, "DROP") {
			n, err := strconv.Atoi(strings.Fields(l)[0])
			if err != nil {
				h.t.Fatalf("parse counter of %q: %v", l, err)
			}
			return n
		}
	}
	h.t.Fatalf("no IMDS DROP rule in the test host's FORWARD chain")
	return 0
}

func TestBridgeIMDSBlocked(t *testing.T) {
	t.Parallel()
	h := newTestHost(t)
	// A fake metadata service behind a router, reachable from the test host by forwarding,
	// like the real one on EC2; 169.254.170.2 sits next to it.
	other := h.veth("up0", "", "dn0", "10.98.0.2/24")
	h.run("ip", "addr", "add", "10.98.0.1/24", "dev", "up0")
	runIn(t, other, "ip", "addr", "add", IMDSAddress+"/32", "dev", "lo")
	runIn(t, other, "ip", "addr", "add", "169.254.170.2/32", "dev", "lo")
	h.run("ip", "route", "add", IMDSAddress+"/32", "via", "10.98.0.2")
	h.run("ip", "route", "add", "169.254.170.2/32", "via", "10.98.0.2")
	serveTCP(t, other, ":80", "metadata")
	serveTCP(t, h.path, ":7777", "gateway")
	mustReadTCP(t, h.path, IMDSAddress+":80", "metadata") // the path works from the host itself

	m := h.newManager(Options{})
	res, err := m.Setup(ctx(t), Request{ID: "c", Mode: ModeBridge})
	if err != nil {
		t.Fatal(err)
	}
	mustReadTCP(t, res.NetNSPath, res.Gateway.String()+":7777", "gateway")
	mustReadTCP(t, res.NetNSPath, "169.254.170.2:80", "metadata")

	before := h.imdsDropCount()
	if got, err := readTCP(t, res.NetNSPath, IMDSAddress+":80", time.Second); err == nil {
		t.Fatalf("container reached IMDS: %q", got)
	}
	if after := h.imdsDropCount(); after <= before {
		t.Fatalf("IMDS rule counter %d -> %d: the connect was not dropped by the rule", before, after)
	}

	// Control: without the rule the same connect succeeds; the next Setup puts it back.
	h.run("iptables", "-w", "5", "-D", "FORWARD", "-i", DefaultBridgeName, "-d", IMDSAddress+"/32",
		"-m", "comment", "--comment", imdsRuleComment, "-j", "DROP")
	mustReadTCP(t, res.NetNSPath, IMDSAddress+":80", "metadata")
	if _, err := m.Setup(ctx(t), Request{ID: "c2", Mode: ModeBridge}); err != nil {
		t.Fatal(err)
	}
	h.imdsDropCount()
}

func TestNoneMode(t *testing.T) {
	t.Parallel()
	h := newTestHost(t)
	m := h.newManager(Options{})
	res, err := m.Setup(ctx(t), Request{ID: "task-none", Mode: ModeNone})
	if err != nil {
		t.Fatal(err)
	}
	if res.IPv4.IsValid() || len(res.Bindings) != 0 {
		t.Fatalf("none result = %+v", res)
	}
	if l := links(t, res.NetNSPath); len(l) != 1 || l[0] != "lo" {
		t.Fatalf("links in none namespace = %v", l)
	}
	serveTCP(t, res.NetNSPath, "127.0.0.1:9000", "lo up")
	mustReadTCP(t, res.NetNSPath, "127.0.0.1:9000", "lo up")
	// The IMDS route answers "no route to host" at once (without it: "network unreachable").
	if _, err := readTCP(t, res.NetNSPath, IMDSAddress+":80", 5*time.Second); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatalf("IMDS from none task = %v, want EHOSTUNREACH", err)
	}
	if out := runIn(t, res.NetNSPath, "ip", "route", "show"); !strings.Contains(out, "unreachable "+IMDSAddress) {
		t.Fatalf("routes in none namespace:\n%s", out)
	}
	if err := m.Teardown(ctx(t), "task-none"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(res.NetNSPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("netns left: %v", err)
	}
}

// cgroup2Mount is where this host's cgroup v2 hierarchy is: the root on unified hosts, the
// "unified" mount on hybrid ones, "" when there is none.
func cgroup2Mount() string {
	for _, d := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		if _, err := os.Stat(filepath.Join(d, "cgroup.controllers")); err == nil {
			return d
		}
	}
	return ""
}

func TestHostIMDSBlockedByCgroup(t *testing.T) {
	t.Parallel()
	mount := cgroup2Mount()
	if mount == "" {
		t.Fatal("no cgroup v2 hierarchy: host-network IMDS blocking cannot work on this machine")
	}
	h := newTestHost(t)
	m := h.newManager(Options{})
	// A fake IMDS in the test host itself, where host-network containers live.
	h.run("ip", "addr", "add", IMDSAddress+"/32", "dev", "lo")
	serveTCP(t, h.path, IMDSAddress+":80", "imds")

	root := "/ecsd-test-imds-" + randHex()
	dir := filepath.Join(mount, root)
	if err := os.MkdirAll(filepath.Join(dir, "task", "ctr"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(filepath.Join(dir, "task", "ctr"))
		os.Remove(filepath.Join(dir, "task"))
		os.Remove(dir)
	})
	if err := m.BlockHostIMDS(ctx(t), root); err != nil {
		t.Fatal(err)
	}
	// Twice is one rule (a restarted agent re-inserts it).
	if err := m.BlockHostIMDS(ctx(t), root); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(h.run("iptables", "-w", "5", "-S", "OUTPUT"), hostIMDSComment); n != 1 {
		t.Fatalf("%d host IMDS rules, want 1", n)
	}
	connect := func(cgroup string) error {
		script := `exec 3<>/dev/tcp/` + IMDSAddress + `/80 && head -c 4 <&3`
		if cgroup != "" {
			script = `echo $$ > ` + filepath.Join(cgroup, "cgroup.procs") + ` && ` + script
		}
		out, err := tryIn(h.path, "bash", "-c", script)
		if err == nil && out != "imds" {
			return errors.New("unexpected reply " + out)
		}
		return err
	}
	// A process in a container cgroup below the root is refused at once...
	if err := connect(filepath.Join(dir, "task", "ctr")); err == nil {
		t.Fatal("a process in the task cgroup tree reached IMDS")
	}
	var rejected bool
	for _, l := range strings.Split(h.run("iptables", "-w", "5", "-L", "OUTPUT", "-v", "-x", "-n"), "\n") {
		if f := strings.Fields(l); len(f) > 2 && strings.Contains(l, "REJECT") && strings.Contains(l, IMDSAddress) {
			rejected = f[0] != "0"
		}
	}
	if !rejected {
		t.Fatal("the connect failed, but not by the host IMDS rule (its counter is 0)")
	}
	// ...while the host (the agent's own cgroup) still reaches it.
	if err := connect(""); err != nil {
		t.Fatalf("host process cannot reach IMDS: %v", err)
	}
}
