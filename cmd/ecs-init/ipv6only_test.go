//go:build integration

package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestIPv6OnlyHost checks the loopback route: on a host whose only default route is IPv6,
// connect(169.254.170.2) fails with ENETUNREACH before any nat rule runs, so pre-start routes
// the address to lo; post-stop removes the route again.
func TestIPv6OnlyHost(t *testing.T) {
	host, off := newNetns(t), newNetns(t)
	host.sh(t, fmt.Sprintf(`
		ip link add ext0 type veth peer name eth0 netns %s
		ip addr add fd00:98::1/64 dev ext0 nodad
		ip link set ext0 up
		ip -6 route add default via fd00:98::2 dev ext0
	`, off.name))
	off.sh(t, `
		ip addr add fd00:98::2/64 dev eth0 nodad
		ip link set eth0 up
	`)
	seed(t, host)
	listen(t, host, "127.0.0.1:51679")
	dir := t.TempDir()
	env := baseEnv(t, dir)
	route := func() string {
		return strings.TrimSpace(host.output(t, "ip", "-4", "route", "show", "table", "main", "exact", "169.254.170.2/32"))
	}
	before4, before6 := save(t, host, 4), save(t, host, 6)

	mustFail(t, host, syscall.ENETUNREACH)
	host.mustEcsInit(t, env, "pre-start", "--root", filepath.Join(dir, "root"))
	if got := route(); !strings.HasPrefix(got, "169.254.170.2 dev lo") {
		t.Fatalf("route after pre-start: %q, want 169.254.170.2 dev lo", got)
	}
	mustReach(t, host, endpoint)

	host.mustEcsInit(t, env, "pre-start", "--root", filepath.Join(dir, "root"))
	if got := strings.Count(host.output(t, "ip", "-4", "route", "show", "table", "main"), "169.254.170.2"); got != 1 {
		t.Errorf("after a second pre-start: %d routes for 169.254.170.2, want 1", got)
	}

	host.mustEcsInit(t, env, "post-stop")
	if got := route(); got != "" {
		t.Errorf("route after post-stop: %q, want none", got)
	}
	mustFail(t, host, syscall.ENETUNREACH)
	if got4, got6 := save(t, host, 4), save(t, host, 6); got4 != before4 || got6 != before6 {
		t.Errorf("after post-stop:\n%s%s\nwant the original:\n%s%s", got4, got6, before4, before6)
	}
	host.mustEcsInit(t, env, "post-stop")
}
