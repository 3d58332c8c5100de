//go:build integration && linux

package cni

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/netns"
)

func TestBridgeDynamicPort(t *testing.T) {
	t.Parallel()
	h := newTestHost(t)
	m := h.newManager(Options{})

	start := time.Now()
	res, err := m.Setup(ctx(t), Request{ID: "c1", Mode: ModeBridge, Ports: []PortMapping{{ContainerPort: 80}}})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Logf("bridge Setup took %s", time.Since(start))
	if !res.IPv4.IsValid() || res.Gateway.String() != "172.17.0.1" || !strings.HasPrefix(res.IPv4.String(), "172.17.") {
		t.Fatalf("result addresses = %s via %s", res.IPv4, res.Gateway)
	}
	if len(res.Bindings) != 1 {
		t.Fatalf("bindings = %+v", res.Bindings)
	}
	b := res.Bindings[0]
	if b.ContainerPort != 80 || b.HostPort < 40000 || b.HostPort > 40099 || b.Protocol != "tcp" || b.HostIP != "0.0.0.0" {
		t.Fatalf("binding = %+v", b)
	}

	serveTCP(t, res.NetNSPath, ":80", "hello from c1")
	mustReadTCP(t, h.path, fmt.Sprintf("127.0.0.1:%d", b.HostPort), "hello from c1")
	mustReadTCP(t, h.path, fmt.Sprintf("%s:%d", res.Gateway, b.HostPort), "hello from c1")
	mustReadTCP(t, h.path, fmt.Sprintf("%s:80", res.IPv4), "hello from c1")

	// Idempotent: same result, no second allocation.
	again, err := m.Setup(ctx(t), Request{ID: "c1", Mode: ModeBridge, Ports: []PortMapping{{ContainerPort: 80}}})
	if err != nil {
		t.Fatalf("second Setup: %v", err)
	}
	if again.IPv4 != res.IPv4 || again.Bindings[0] != b || again.NetNSPath != res.NetNSPath {
		t.Fatalf("second Setup = %+v, want %+v", again, res)
	}
	// Lookup finds the same network without setting anything up (a restarted agent that
	// lost its checkpoint adopts it), and nothing for an ID never set up.
	if found, ok, err := m.Lookup("c1"); err != nil || !ok || found.IPv4 != res.IPv4 || found.Bindings[0] != b || found.NetNSPath != res.NetNSPath {
		t.Fatalf("Lookup = %+v %v %v, want %+v", found, ok, err, res)
	}
	if _, ok, err := m.Lookup("never"); ok || err != nil {
		t.Fatalf("Lookup of an unknown ID = %v %v", ok, err)
	}

	// The held port cannot be taken by a host process.
	if _, err := netns.Listen(h.path, "tcp4", fmt.Sprintf("0.0.0.0:%d", b.HostPort)); err == nil {
		t.Fatalf("a host process could bind the allocated port %d", b.HostPort)
	}

	start = time.Now()
	if err := m.Teardown(ctx(t), "c1"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	t.Logf("bridge Teardown took %s", time.Since(start))
	if _, err := os.Stat(res.NetNSPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("netns file after Teardown: %v", err)
	}
	if err := m.Teardown(ctx(t), "c1"); err != nil {
		t.Fatalf("second Teardown: %v", err)
	}
	if ids, _ := m.IDs(); len(ids) != 0 {
		t.Fatalf("IDs after Teardown = %v", ids)
	}
	if _, ok, _ := m.Lookup("c1"); ok {
		t.Fatal("Lookup finds a network after its Teardown")
	}
	// The port is free again on the host.
	ln, err := netns.Listen(h.path, "tcp4", fmt.Sprintf("0.0.0.0:%d", b.HostPort))
	if err != nil {
		t.Fatalf("port %d still held after Teardown: %v", b.HostPort, err)
	}
	ln.Close()
	if got, err := readTCP(t, h.path, fmt.Sprintf("127.0.0.1:%d", b.HostPort), 2*time.Second); err == nil {
		t.Fatalf("port %d still forwarded after Teardown: %q", b.HostPort, got)
	}
}

func TestBridgeStaticPorts(t *testing.T) {
	t.Parallel()
	h := newTestHost(t)
	m := h.newManager(Options{ReservedTCP: []uint16{22, 2375}, ReservedUDP: []uint16{53}})

	res, err := m.Setup(ctx(t), Request{ID: "a", Mode: ModeBridge, Ports: []PortMapping{
		{ContainerPort: 80, HostPort: 8080},
		{ContainerPort: 53, HostPort: 5353, Protocol: "udp"},
	}})
	if err != nil {
		t.Fatalf("Setup a: %v", err)
	}
	want := []Binding{
		{HostIP: "0.0.0.0", ContainerPort: 80, HostPort: 8080, Protocol: "tcp"},
		{HostIP: "0.0.0.0", ContainerPort: 53, HostPort: 5353, Protocol: "udp"},
	}
	if !slices.Equal(res.Bindings, want) {
		t.Fatalf("bindings = %+v, want %+v", res.Bindings, want)
	}
	serveTCP(t, res.NetNSPath, ":80", "tcp a")
	serveUDP(t, res.NetNSPath, ":53", "udp a")
	mustReadTCP(t, h.path, "127.0.0.1:8080", "tcp a")
	if got, err := askUDP(t, h.path, fmt.Sprintf("%s:5353", res.Gateway)); err != nil || got != "udp a" {
		t.Fatalf("UDP via host port: %q, %v", got, err)
	}

	// Same static port for another ID: refused, with the port and protocol in the text.
	_, err = m.Setup(ctx(t), Request{ID: "b", Mode: ModeBridge, Ports: []PortMapping{{ContainerPort: 80, HostPort: 8080}}})
	if !errors.Is(err, ErrPortAllocated) || !strings.Contains(err.Error(), "8080/tcp") {
		t.Fatalf("second static 8080 = %v, want ErrPortAllocated naming 8080/tcp", err)
	}
	// The failed Setup left nothing behind.
	if ids, _ := m.IDs(); !slices.Equal(ids, []string{"a"}) {
		t.Fatalf("IDs after failed Setup = %v", ids)
	}
	// Same number, other protocol: fine.
	if _, err := m.Setup(ctx(t), Request{ID: "c", Mode: ModeBridge, Ports: []PortMapping{{ContainerPort: 80, HostPort: 8080, Protocol: "udp"}}}); err != nil {
		t.Fatalf("8080/udp next to 8080/tcp: %v", err)
	}
	// Reserved ports are refused.
	_, err = m.Setup(ctx(t), Request{ID: "d", Mode: ModeBridge, Ports: []PortMapping{{ContainerPort: 22, HostPort: 22}}})
	if !errors.Is(err, ErrPortReserved) {
		t.Fatalf("reserved 22/tcp = %v, want ErrPortReserved", err)
	}
	_, err = m.Setup(ctx(t), Request{ID: "d", Mode: ModeBridge, Ports: []PortMapping{{ContainerPort: 53, HostPort: 53, Protocol: "udp"}}})
	if !errors.Is(err, ErrPortReserved) {
		t.Fatalf("reserved 53/udp = %v, want ErrPortReserved", err)
	}
	// A port a host process listens on is refused clearly.
	ln, err := netns.Listen(h.path, "tcp4", "0.0.0.0:9090")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = m.Setup(ctx(t), Request{ID: "d", Mode: ModeBridge, Ports: []PortMapping{{ContainerPort: 80, HostPort: 9090}}})
	if !errors.Is(err, ErrPortAllocated) || !strings.Contains(err.Error(), "9090/tcp") {
		t.Fatalf("port used by a host process = %v, want ErrPortAllocated", err)
	}

	// Teardown releases the port: another ID can now take it.
	if err := m.Teardown(ctx(t), "a"); err != nil {
		t.Fatal(err)
	}
	res, err = m.Setup(ctx(t), Request{ID: "b", Mode: ModeBridge, Ports: []PortMapping{{ContainerPort: 80, HostPort: 8080}}})
	if err != nil {
		t.Fatalf("8080 after Teardown of its owner: %v", err)
	}
	serveTCP(t, res.NetNSPath, ":80", "tcp b")
	mustReadTCP(t, h.path, "127.0.0.1:8080", "tcp b")
}

func TestBridgePortRange(t *testing.T) {
	t.Parallel()
	h := newTestHost(t)
	m := h.newManager(Options{DynamicPorts: [2]uint16{41000, 41009}, ReservedTCP: []uint16{41001}})

	// 41001 is reserved, so the only block of 5 is 41002-41006.
	res, err := m.Setup(ctx(t), Request{ID: "r", Mode: ModeBridge, Ports: []PortMapping{{ContainerPortRange: "7000-7004"}}})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	want := Binding{HostIP: "0.0.0.0", ContainerPortRange: "7000-7004", HostPortRange: "41002-41006", Protocol: "tcp"}
	if len(res.Bindings) != 1 || res.Bindings[0] != want {
		t.Fatalf("bindings = %+v, want %+v", res.Bindings, want)
	}
	serveTCP(t, res.NetNSPath, ":7003", "port 7003")
	mustReadTCP(t, h.path, "127.0.0.1:41005", "port 7003")

	// Three ports left (41000, 41007-41009): a dynamic single port still fits, a block of 4
	// does not.
	if _, err := m.Setup(ctx(t), Request{ID: "s", Mode: ModeBridge, Ports: []PortMapping{{ContainerPortRange: "1-4"}}}); !errors.Is(err, ErrNoFreePorts) {
		t.Fatalf("block of 4 = %v, want ErrNoFreePorts", err)
	}
	res2, err := m.Setup(ctx(t), Request{ID: "s", Mode: ModeBridge, Ports: []PortMapping{{ContainerPort: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if p := res2.Bindings[0].HostPort; p != 41007 {
		t.Fatalf("dynamic port = %d, want 41007 (next after the last allocation)", p)
	}
}

// TestBridgeCrashRecovery: a Manager is dropped without teardown (as a crash would); a new one
// on the same StateDir finds the ID, keeps its port booked and tears it down completely.
func TestBridgeCrashRecovery(t *testing.T) {
	t.Parallel()
	h := newTestHost(t)
	stateDir := filepath.Join(t.TempDir(), "state")
	t.Cleanup(func() { netns.DeleteDir(filepath.Join(stateDir, "netns")) })
	m1 := h.newManager(Options{StateDir: stateDir})

	// Warm up once so the bridge, shared chains and IMDS rule exist in the baseline.
	if _, err := m1.Setup(ctx(t), Request{ID: "warm", Mode: ModeBridge, Ports: []PortMapping{{ContainerPort: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := m1.Teardown(ctx(t), "warm"); err != nil {
		t.Fatal(err)
	}
	rulesBefore := h.iptablesRules()
	linksBefore := links(t, h.path)

	res, err := m1.Setup(ctx(t), Request{ID: "crashy", Mode: ModeBridge, Ports: []PortMapping{{ContainerPort: 80, HostPort: 8080}, {ContainerPort: 81}}})
	if err != nil {
		t.Fatal(err)
	}
	dyn := res.Bindings[1].HostPort
	// The comparisons below can fail: the set-up added rules and a veth.
	if during := h.iptablesRules(); slices.Equal(during, rulesBefore) {
		t.Fatal("iptables rules did not change during Setup")
	}
	if during := links(t, h.path); len(during) != len(linksBefore)+1 {
		t.Fatalf("interfaces during Setup = %v, before %v: want one more veth", during, linksBefore)
	}
	lease := filepath.Join(stateDir, "ipam", netBridge, res.IPv4.String())
	if _, err := os.Stat(lease); err != nil {
		t.Fatalf("no host-local lease for %s: %v", res.IPv4, err)
	}
	m1.Close() // the process "dies": its sockets close, nothing is torn down

	m2 := h.newManager(Options{StateDir: stateDir})
	ids, err := m2.IDs()
	if err != nil || !slices.Equal(ids, []string{"crashy"}) {
		t.Fatalf("IDs after restart = %v, %v", ids, err)
	}
	// Bookkeeping survived: both ports are still taken.
	if _, err := m2.Setup(ctx(t), Request{ID: "other", Mode: ModeBridge, Ports: []PortMapping{{ContainerPort: 80, HostPort: 8080}}}); !errors.Is(err, ErrPortAllocated) {
		t.Fatalf("static port of the crashed manager's ID = %v, want ErrPortAllocated", err)
	}
	if _, err := netns.Listen(h.path, "tcp4", fmt.Sprintf("0.0.0.0:%d", dyn)); err == nil {
		t.Fatalf("dynamic port %d not held after restart", dyn)
	}
	// Setup of the same ID after restart is idempotent.
	if again, err := m2.Setup(ctx(t), Request{ID: "crashy", Mode: ModeBridge}); err != nil || again.IPv4 != res.IPv4 {
		t.Fatalf("Setup after restart = %+v, %v", again, err)
	}

	if err := m2.Teardown(ctx(t), "crashy"); err != nil {
		t.Fatalf("Teardown after restart: %v", err)
	}
	if ids, _ := m2.IDs(); len(ids) != 0 {
		t.Fatalf("IDs after Teardown = %v", ids)
	}
	if _, err := os.Stat(res.NetNSPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("netns file left: %v", err)
	}
	if _, err := os.Stat(lease); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("host-local lease left: %v", err)
	}
	if after := h.iptablesRules(); !slices.Equal(after, rulesBefore) {
		t.Fatalf("iptables rules changed:\nbefore:\n%s\nafter:\n%s", strings.Join(rulesBefore, "\n"), strings.Join(after, "\n"))
	}
	if after := links(t, h.path); !slices.Equal(after, linksBefore) {
		t.Fatalf("interfaces changed: before %v, after %v", linksBefore, after)
	}
}
