//go:build integration

package stats

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/netns"
	"github.com/ecsd/ecsd/internal/testenv"
)

// ipCmd runs ip(8) and fails the test on error.
func ipCmd(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out
}

// testNetNS creates a named namespace with `ip netns add`, with IPv6 off so no router or
// neighbour solicitations change its counters behind the test's back, and deletes it at
// cleanup (which also destroys the veth end inside it).
func testNetNS(t *testing.T) (name, path string) {
	t.Helper()
	name = testenv.UniqueName(t, "ecsdst-")
	ipCmd(t, "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	ipCmd(t, "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	ipCmd(t, "-n", name, "link", "set", "lo", "up")
	return name, filepath.Join("/run/netns", name)
}

// ipLinkStats is what `ip -s -j link show dev X` reports, an independent reading of the
// same kernel counters.
func ipLinkStats(t *testing.T, ns, dev string) NetworkStats {
	t.Helper()
	var links []struct {
		Stats64 struct {
			Rx struct{ Bytes, Packets, Errors, Dropped uint64 }
			Tx struct{ Bytes, Packets, Errors, Dropped uint64 }
		}
	}
	if err := json.Unmarshal(ipCmd(t, "-n", ns, "-s", "-j", "link", "show", "dev", dev), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -s -j link show %s: %v (%d links)", dev, err, len(links))
	}
	s := links[0].Stats64
	return NetworkStats{
		RxBytes: s.Rx.Bytes, RxPackets: s.Rx.Packets, RxErrors: s.Rx.Errors, RxDropped: s.Rx.Dropped,
		TxBytes: s.Tx.Bytes, TxPackets: s.Tx.Packets, TxErrors: s.Tx.Errors, TxDropped: s.Tx.Dropped,
	}
}

// TestReadNetworkStats joins two namespaces the test creates with a veth pair, sends UDP
// across it, and checks ReadNetworkStats against ip(8) for both ends. All traffic stays in
// those namespaces.
func TestReadNetworkStats(t *testing.T) {
	testenv.RequireRoot(t)
	nsA, pathA := testNetNS(t)
	nsB, pathB := testNetNS(t)
	ipCmd(t, "link", "add", "name", "va", "netns", nsA, "type", "veth", "peer", "name", "vb", "netns", nsB)
	ipCmd(t, "-n", nsA, "addr", "add", "10.231.0.1/30", "dev", "va")
	ipCmd(t, "-n", nsB, "addr", "add", "10.231.0.2/30", "dev", "vb")
	ipCmd(t, "-n", nsA, "link", "set", "va", "up")
	ipCmd(t, "-n", nsB, "link", "set", "vb", "up")

	ln, err := netns.ListenPacket(pathB, "udp4", "10.231.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := netns.Dial(ctx, pathA, "udp4", ln.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const packets, size = 20, 100
	if err := ln.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2*size)
	for i := range packets {
		if _, err := conn.Write(make([]byte, size)); err != nil {
			t.Fatal(err)
		}
		// Wait for each datagram so none is lost to ARP resolution still in progress.
		if _, _, err := ln.ReadFrom(buf); err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
	}

	for _, c := range []struct{ ns, path, dev string }{{nsA, pathA, "va"}, {nsB, pathB, "vb"}} {
		var got map[string]NetworkStats
		// Counters may still move (a late ARP exchange); accept a reading bracketed by two
		// equal ip(8) readings.
		for attempt := 0; ; attempt++ {
			before := ipLinkStats(t, c.ns, c.dev)
			if got, err = ReadNetworkStats(c.path); err != nil {
				t.Fatalf("ReadNetworkStats(%s): %v", c.ns, err)
			}
			after := ipLinkStats(t, c.ns, c.dev)
			if before == after {
				if got[c.dev] != before {
					t.Errorf("%s: %+v, ip says %+v", c.dev, got[c.dev], before)
				}
				break
			}
			if attempt == 20 {
				t.Fatalf("%s counters never settled", c.dev)
			}
		}
		if len(got) != 1 {
			t.Errorf("%s: interfaces %v, want only %s (no lo)", c.ns, got, c.dev)
		}
	}
	a, _ := ReadNetworkStats(pathA)
	b, _ := ReadNetworkStats(pathB)
	// Each datagram is 100 bytes of payload plus UDP, IP and Ethernet headers.
	if a["va"].TxPackets < packets || a["va"].TxBytes < packets*(size+8+20+14) ||
		b["vb"].RxPackets < packets || b["vb"].RxBytes < packets*(size+8+20+14) {
		t.Errorf("sender %+v receiver %+v, want at least %d datagrams of %d bytes", a["va"], b["vb"], packets, size)
	}
}

func TestReadNetworkStatsNotANamespace(t *testing.T) {
	f := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadNetworkStats(f); !errors.Is(err, netns.ErrNotNetNS) {
		t.Errorf("err = %v, want ErrNotNetNS", err)
	}
}
