//go:build integration && linux

package cni

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

func TestInvalidRequests(t *testing.T) {
	t.Parallel()
	h := newTestHost(t)
	m := h.newManager(Options{})
	eni := &ENI{MAC: eniMAC, IPv4: []string{"10.0.0.5/24"}}
	for name, req := range map[string]Request{
		"bad id":             {ID: "../x", Mode: ModeBridge},
		"empty id":           {Mode: ModeNone},
		"unknown mode":       {ID: "a", Mode: "nat"},
		"none with ports":    {ID: "a", Mode: ModeNone, Ports: []PortMapping{{ContainerPort: 80}}},
		"awsvpc without ENI": {ID: "a", Mode: ModeAWSVPC},
		"awsvpc bad MAC":     {ID: "a", Mode: ModeAWSVPC, ENI: &ENI{MAC: "zz", IPv4: eni.IPv4}},
		"awsvpc no address":  {ID: "a", Mode: ModeAWSVPC, ENI: &ENI{MAC: eniMAC}},
		"bad protocol":       {ID: "a", Mode: ModeBridge, Ports: []PortMapping{{ContainerPort: 80, Protocol: "sctp"}}},
		"container port 0":   {ID: "a", Mode: ModeBridge, Ports: []PortMapping{{HostPort: 80}}},
		"bad range":          {ID: "a", Mode: ModeBridge, Ports: []PortMapping{{ContainerPortRange: "9-1"}}},
		"range and port":     {ID: "a", Mode: ModeBridge, Ports: []PortMapping{{ContainerPortRange: "1-9", HostPort: 5}}},
	} {
		if _, err := m.Setup(ctx(t), req); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: Setup = %v, want ErrInvalidRequest", name, err)
		}
	}
	if ids, _ := m.IDs(); len(ids) != 0 {
		t.Fatalf("IDs after refused requests = %v", ids)
	}
	if res, err := m.Setup(ctx(t), Request{ID: "h", Mode: ModeHost}); err != nil || res.NetNSPath != "" {
		t.Fatalf("host mode = %+v, %v", res, err)
	}
	if _, err := m.Setup(ctx(t), Request{ID: "n", Mode: ModeNone}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Setup(ctx(t), Request{ID: "n", Mode: ModeBridge}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("same ID in another mode = %v, want ErrInvalidRequest", err)
	}
}

func TestConcurrentSetup(t *testing.T) {
	t.Parallel()
	h := newTestHost(t)
	m := h.newManager(Options{})
	const n = 6
	results := make([]*Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = m.Setup(ctx(t), Request{ID: fmt.Sprintf("c%d", i), Mode: ModeBridge,
				Ports: []PortMapping{{ContainerPort: 80}, {ContainerPort: 53, Protocol: "udp"}}})
		})
	}
	wg.Wait()
	ips, ports := map[string]bool{}, map[string]bool{}
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("Setup c%d: %v", i, errs[i])
		}
		ips[r.IPv4.String()] = true
		for _, b := range r.Bindings {
			ports[fmt.Sprint(b.HostPort, b.Protocol)] = true
		}
		serveTCP(t, r.NetNSPath, ":80", r.IPv4.String())
	}
	if len(ips) != n || len(ports) != 2*n {
		t.Fatalf("addresses %v and ports %v are not distinct", ips, ports)
	}
	for _, r := range results {
		mustReadTCP(t, h.path, fmt.Sprintf("127.0.0.1:%d", r.Bindings[0].HostPort), r.IPv4.String())
	}
	for i := range n {
		wg.Go(func() { errs[i] = m.Teardown(ctx(t), fmt.Sprintf("c%d", i)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Teardown c%d: %v", i, err)
		}
	}
	if ids, _ := m.IDs(); len(ids) != 0 {
		t.Fatalf("IDs after Teardown = %v", ids)
	}
}

// TestTeardownWithoutCache: the ADD's libcni cache entry is missing (a crash between the
// plugins' work and libcni writing its cache); the record alone drives the DEL.
func TestTeardownWithoutCache(t *testing.T) {
	t.Parallel()
	h := newTestHost(t)
	m := h.newManager(Options{})
	if _, err := m.Setup(ctx(t), Request{ID: "warm", Mode: ModeBridge, Ports: []PortMapping{{ContainerPort: 1}}}); err != nil {
		t.Fatal(err)
	}
	rulesBefore := h.iptablesRules()
	linksBefore := links(t, h.path)

	res, err := m.Setup(ctx(t), Request{ID: "nocache", Mode: ModeBridge, Ports: []PortMapping{{ContainerPort: 80}}})
	if err != nil {
		t.Fatal(err)
	}
	cache, _ := filepath.Glob(filepath.Join(m.opts.StateDir, "cache", "results", "*nocache*"))
	if len(cache) != 1 {
		t.Fatalf("cache files = %v", cache)
	}
	os.Remove(cache[0])

	if err := m.Teardown(ctx(t), "nocache"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if _, err := os.Stat(filepath.Join(m.opts.StateDir, "ipam", netBridge, res.IPv4.String())); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lease left: %v", err)
	}
	if after := h.iptablesRules(); !slices.Equal(after, rulesBefore) {
		t.Fatalf("iptables rules changed:\nbefore:\n%s\nafter:\n%s", strings.Join(rulesBefore, "\n"), strings.Join(after, "\n"))
	}
	if after := links(t, h.path); !slices.Equal(after, linksBefore) {
		t.Fatalf("interfaces changed: before %v, after %v", linksBefore, after)
	}
}

// TestTeardownAfterReboot: the namespace mount is gone (as after a reboot) and only a plain
// file is left; Teardown still releases the lease and removes every trace.
func TestTeardownAfterReboot(t *testing.T) {
	t.Parallel()
	h := newTestHost(t)
	m := h.newManager(Options{})
	res, err := m.Setup(ctx(t), Request{ID: "rebooted", Mode: ModeBridge, Ports: []PortMapping{{ContainerPort: 80}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Unmount(res.NetNSPath, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	m.Close()
	m2 := h.newManager(Options{StateDir: m.opts.StateDir})
	if ids, _ := m2.IDs(); !slices.Equal(ids, []string{"rebooted"}) {
		t.Fatalf("IDs = %v", ids)
	}
	if err := m2.Teardown(ctx(t), "rebooted"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if _, err := os.Stat(filepath.Join(m.opts.StateDir, "ipam", netBridge, res.IPv4.String())); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lease left: %v", err)
	}
	if _, err := os.Stat(res.NetNSPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("netns file left: %v", err)
	}
	if ids, _ := m2.IDs(); len(ids) != 0 {
		t.Fatalf("IDs after Teardown = %v", ids)
	}
}
