//go:build integration && linux

package cni

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/netns"
)

const eniMAC = "02:ec:5d:00:00:01"

// hasMAC reports the name of the interface with mac in ns, or "".
func hasMAC(t *testing.T, ns, mac string) string {
	t.Helper()
	want, _ := net.ParseMAC(mac)
	var name string
	netns.Do(ns, func() error {
		ifs, err := net.Interfaces()
		for _, i := range ifs {
			if slices.Equal(i.HardwareAddr, want) {
				name = i.Name
			}
		}
		return err
	})
	return name
}

func TestAWSVPC(t *testing.T) {
	t.Parallel()
	h := newTestHost(t)
	m := h.newManager(Options{})
	eni := &ENI{
		MAC:         eniMAC,
		IPv4:        []string{"10.99.0.5/24"},
		Gateway:     "10.99.0.1",
		Routes:      []string{"10.100.0.0/16"},
		DNSServers:  []string{"10.99.0.2"},
		DNSSearch:   []string{"ec2.internal"},
		WaitTimeout: 10 * time.Second,
	}

	// The ENI shows up while Setup is already waiting for it (ECS attaches asynchronously).
	type out struct {
		res *Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := m.Setup(ctx(t), Request{ID: "task-1", Mode: ModeAWSVPC, ENI: eni})
		done <- out{res, err}
	}()
	other := h.veth("eni7", eniMAC, "gw0", "10.99.0.1/24")
	o := <-done
	if o.err != nil {
		t.Fatalf("Setup: %v", o.err)
	}
	res := o.res
	if res.Interface != "eni7" || res.IPv4 != netip.MustParseAddr("10.99.0.5") || res.Gateway != netip.MustParseAddr("10.99.0.1") {
		t.Fatalf("result = %+v", res)
	}
	if !slices.Equal(res.DNS.Servers, eni.DNSServers) || !slices.Equal(res.DNS.Search, eni.DNSSearch) {
		t.Fatalf("DNS = %+v", res.DNS)
	}
	if n := hasMAC(t, h.path, eniMAC); n != "" {
		t.Fatalf("ENI still in the host namespace as %s", n)
	}
	if n := hasMAC(t, res.NetNSPath, eniMAC); n != containerIfName {
		t.Fatalf("ENI in task namespace named %q, want %s", n, containerIfName)
	}
	if routes := runIn(t, res.NetNSPath, "ip", "route", "show"); !strings.Contains(routes, "default via 10.99.0.1") ||
		!strings.Contains(routes, "10.100.0.0/16 via 10.99.0.1") {
		t.Fatalf("routes in task namespace:\n%s", routes)
	}

	// Another host on the subnet reaches a listener in the task; the task reaches the gateway.
	serveTCP(t, res.NetNSPath, ":8080", "task-1")
	serveTCP(t, other, ":80", "other host")
	mustReadTCP(t, other, "10.99.0.5:8080", "task-1")
	mustReadTCP(t, res.NetNSPath, "10.99.0.1:80", "other host")

	// IMDS is blocked inside the task even though the gateway would answer for it.
	runIn(t, other, "ip", "addr", "add", IMDSAddress+"/32", "dev", "lo")
	start := time.Now()
	if _, err := readTCP(t, res.NetNSPath, IMDSAddress+":80", 5*time.Second); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatalf("IMDS from awsvpc task = %v, want EHOSTUNREACH", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("IMDS connect took %s to fail", d)
	}

	// The endpoints leg: 169.254.170.2 is reached through the host, from the leg's address,
	// and the leg routes nothing else.
	if !netip.MustParsePrefix(DefaultEndpointsSubnet).Contains(res.EndpointsIPv4) {
		t.Fatalf("endpoints leg address %v, want one in %s", res.EndpointsIPv4, DefaultEndpointsSubnet)
	}
	if routes := runIn(t, res.NetNSPath, "ip", "route", "show", "dev", EndpointsIfName); !strings.Contains(routes, EndpointsAddress+" via 169.254.172.1") ||
		strings.Contains(routes, "default") {
		t.Fatalf("routes on the endpoints leg:\n%s", routes)
	}
	h.run("ip", "addr", "add", EndpointsAddress+"/32", "dev", "lo")
	ln, err := netns.Listen(h.path, "tcp", EndpointsAddress+":80")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			c.Write([]byte(host))
			c.Close()
		}
	}()
	mustReadTCP(t, res.NetNSPath, EndpointsAddress+":80", res.EndpointsIPv4.String())

	again, err := m.Setup(ctx(t), Request{ID: "task-1", Mode: ModeAWSVPC, ENI: eni})
	if err != nil || again.IPv4 != res.IPv4 || again.Interface != "eni7" {
		t.Fatalf("second Setup = %+v, %v", again, err)
	}

	if err := m.Teardown(ctx(t), "task-1"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if n := hasMAC(t, h.path, eniMAC); n != "eni7" {
		t.Fatalf("ENI not back in the host namespace under its name (found %q); host has %v", n, links(t, h.path))
	}
	if _, err := os.Stat(res.NetNSPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("netns left: %v", err)
	}
	if leases, _ := filepath.Glob(filepath.Join(m.opts.StateDir, "ipam", netEndpoints, "169.*")); len(leases) > 0 {
		t.Fatalf("endpoints leg leases left: %v", leases)
	}

	// Control: with AllowIMDS the same task reaches the fake IMDS through its gateway.
	m2 := h.newManager(Options{AllowIMDS: true})
	res, err = m2.Setup(ctx(t), Request{ID: "task-2", Mode: ModeAWSVPC, ENI: eni})
	if err != nil {
		t.Fatalf("Setup with AllowIMDS: %v", err)
	}
	mustReadTCP(t, res.NetNSPath, IMDSAddress+":80", "other host")
	if err := m2.Teardown(ctx(t), "task-2"); err != nil {
		t.Fatal(err)
	}

	// ECS_AWSVPC_BLOCK_IMDS wins over AllowIMDS for awsvpc tasks.
	m3 := h.newManager(Options{AllowIMDS: true, BlockAWSVPCIMDS: true})
	res, err = m3.Setup(ctx(t), Request{ID: "task-3", Mode: ModeAWSVPC, ENI: eni})
	if err != nil {
		t.Fatalf("Setup with BlockAWSVPCIMDS: %v", err)
	}
	if _, err := readTCP(t, res.NetNSPath, IMDSAddress+":80", 5*time.Second); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatalf("IMDS from awsvpc task with BlockAWSVPCIMDS = %v, want EHOSTUNREACH", err)
	}
	if err := m3.Teardown(ctx(t), "task-3"); err != nil {
		t.Fatal(err)
	}
}

func TestAWSVPCENINotFound(t *testing.T) {
	t.Parallel()
	h := newTestHost(t)
	m := h.newManager(Options{})
	start := time.Now()
	_, err := m.Setup(ctx(t), Request{ID: "task-x", Mode: ModeAWSVPC, ENI: &ENI{
		MAC: "02:ec:5d:00:00:99", IPv4: []string{"10.99.0.6/24"}, Gateway: "10.99.0.1", WaitTimeout: 300 * time.Millisecond,
	}})
	if !errors.Is(err, ErrENINotFound) {
		t.Fatalf("Setup = %v, want ErrENINotFound", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
		t.Fatalf("gave up after %s, want about 300ms", d)
	}
	if ids, _ := m.IDs(); len(ids) != 0 {
		t.Fatalf("IDs after failed Setup = %v", ids)
	}
}
