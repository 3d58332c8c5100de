//go:build integration

package hostsetup

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

func names(rules []Rule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.Family.String()+" "+r.Name)
	}
	return out
}

// TestPlan checks the rule set and order for each combination of the two switches, and
// that Removals always covers everything, newest first.
func TestPlan(t *testing.T) {
	const (
		dnat     = "iptables credentials DNAT for bridge-mode tasks"
		filter   = "iptables localhost traffic filter"
		drop4    = "iptables off-host introspection block"
		accept4  = "iptables introspection from the task bridge"
		redirect = "iptables credentials REDIRECT for host-network tasks"
		drop6    = "ip6tables off-host introspection block"
		accept6  = "ip6tables introspection from the task bridge"
	)
	all := []string{dnat, filter, drop4, accept4, redirect, drop6, accept6}
	for _, tc := range []struct {
		skip, allow bool
		want        []string
	}{
		{false, false, all},
		{true, false, []string{dnat, drop4, accept4, redirect, drop6, accept6}},
		{false, true, []string{dnat, filter, redirect}},
		{true, true, []string{dnat, redirect}},
	} {
		s := DefaultSettings()
		s.SkipLocalhostTrafficFilter, s.AllowOffhostIntrospectionAccess = tc.skip, tc.allow
		if got := names(Plan(s, "lo")); !slices.Equal(got, tc.want) {
			t.Errorf("Plan(skip=%v, allow=%v) = %q, want %q", tc.skip, tc.allow, got, tc.want)
		}
		rev := slices.Clone(all)
		slices.Reverse(rev)
		if got := names(Removals(s, "lo")); !slices.Equal(got, rev) {
			t.Errorf("Removals(skip=%v, allow=%v) = %q, want %q", tc.skip, tc.allow, got, rev)
		}
	}
}

// TestRuleArgs pins the exact command lines of spec §6.3.
func TestRuleArgs(t *testing.T) {
	s := DefaultSettings()
	s.Bridge = "br-x"
	want := []string{
		"iptables -t nat -A PREROUTING -p tcp -d 169.254.170.2 --dport 80 -j DNAT --to-destination 127.0.0.1:51679",
		"iptables -t filter -I INPUT --dst 127.0.0.0/8 ! --src 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
		"iptables -t filter -I INPUT -p tcp --dport 51678 ! -i lo0 -j DROP",
		"iptables -t filter -I INPUT -p tcp --dport 51678 -i br-x -j ACCEPT",
		"iptables -t nat -A OUTPUT -p tcp -d 169.254.170.2 --dport 80 -j REDIRECT --to-ports 51679",
		"ip6tables -t filter -I INPUT -p tcp --dport 51678 ! -i lo0 -j DROP",
		"ip6tables -t filter -I INPUT -p tcp --dport 51678 -i br-x -j ACCEPT",
	}
	var got []string
	for _, r := range Plan(s, "lo0") {
		got = append(got, r.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("args:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestValidate(t *testing.T) {
	for _, bridge := range []string{"", "a/b", "has space", "sixteen-chars-xx", "a:b"} {
		s := DefaultSettings()
		s.Bridge = bridge
		if err := s.Validate(); !errors.Is(err, ErrInvalidSettings) {
			t.Errorf("bridge %q: err = %v, want ErrInvalidSettings", bridge, err)
		}
	}
	s := DefaultSettings()
	s.Dirs = append(s.Dirs, Dir{Path: "relative", Mode: 0o755})
	s.Iptables = ""
	err := s.Validate()
	if !errors.Is(err, ErrInvalidSettings) || strings.Contains(err.Error(), "\n") ||
		!strings.Contains(err.Error(), "relative") || !strings.Contains(err.Error(), "iptables binary") {
		t.Errorf("err = %q, want both problems on one line", err)
	}
	if err := DefaultSettings().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestDefaultRoutes(t *testing.T) {
	const v4 = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
		"eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
	const v4Default = v4 + "eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
	const v4Reject = v4 + "eth0\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0\n"
	const v4Lo = v4 + "lo\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n"
	// The kernel's own unreachable ::/0 entries on lo, then a real default.
	const v6Unreach = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n" +
		"fd000098000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     ext0\n"
	const v6Default = v6Unreach +
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000098000000000000000000000002 00000400 00000001 00000000 00000003     ext0\n"
	for _, tc := range []struct {
		name  string
		parse func(*strings.Reader, string) (bool, error)
		in    string
		want  bool
	}{
		{"v4 none", v4p, v4, false},
		{"v4 default", v4p, v4Default, true},
		{"v4 reject", v4p, v4Reject, false},
		{"v4 via lo", v4p, v4Lo, false},
		{"v6 unreachable only", v6p, v6Unreach, false},
		{"v6 default", v6p, v6Default, true},
	} {
		got, err := tc.parse(strings.NewReader(tc.in), "lo")
		if err != nil || got != tc.want {
			t.Errorf("%s: got %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}

	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("route", v4)
	write("ipv6_route", v6Default)
	if only, err := ipv6Only(dir, "lo"); err != nil || !only {
		t.Errorf("IPv6 default only: ipv6Only = %v, %v; want true", only, err)
	}
	write("route", v4Default)
	if only, err := ipv6Only(dir, "lo"); err != nil || only {
		t.Errorf("dual stack: ipv6Only = %v, %v; want false", only, err)
	}
	if err := os.Remove(filepath.Join(dir, "ipv6_route")); err != nil {
		t.Fatal(err)
	}
	write("route", v4)
	if only, err := ipv6Only(dir, "lo"); err != nil || only {
		t.Errorf("no IPv6: ipv6Only = %v, %v; want false", only, err)
	}
}

func v4p(r *strings.Reader, lo string) (bool, error) { return hasIPv4Default(r, lo) }
func v6p(r *strings.Reader, lo string) (bool, error) { return hasIPv6Default(r, lo) }

// TestSetSysctl checks that an unchanged value is not written again (a repeated pre-start
// touches nothing) and that a missing bridge is not an error.
func TestSetSysctl(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, routeLocalnetAll)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := setSysctl(logr.Discard(), dir, routeLocalnetAll, "1"); err != nil {
		t.Fatal(err)
	}
	if v, _ := readSysctl(dir, routeLocalnetAll); v != "1" {
		t.Fatalf("value = %q, want 1", v)
	}
	// A second set with the same value must not write: the file keeps an old mtime.
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	if err := setSysctl(logr.Discard(), dir, routeLocalnetAll, "1"); err != nil {
		t.Errorf("second set: %v", err)
	}
	if fi, err := os.Stat(p); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("second set with the same value wrote the file (%v)", err)
	}
	if err := disableBridgeRA(logr.Discard(), dir, "ecsd0"); err != nil {
		t.Errorf("missing bridge: %v", err)
	}
}

func TestMakeDirs(t *testing.T) {
	root := t.TempDir()
	dirs := DefaultDirs("/var/lib/ecs/data", "/var/log/ecs/agent/ecs-agent.log", "")
	if err := makeDirs(logr.Discard(), root, dirs); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{
		"/etc/ecs": 0o755, "/var/lib/ecs": 0o755, "/var/log/ecs": 0o755,
		"/var/lib/ecs/data": 0o700, "/var/log/ecs/agent": 0o755,
	}
	for p, mode := range want {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v %v, want a directory with mode %v", p, fi.Mode(), err, mode)
		}
	}
	// An administrator's mode survives a second run.
	if err := os.Chmod(filepath.Join(root, "/etc/ecs"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := makeDirs(logr.Discard(), root, dirs); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(root, "/etc/ecs")); fi.Mode().Perm() != 0o750 {
		t.Errorf("/etc/ecs mode = %v after a second run, want 0750 kept", fi.Mode().Perm())
	}
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := makeDirs(logr.Discard(), root, []Dir{{Path: "/file", Mode: 0o755}}); err == nil {
		t.Error("a file where a directory belongs: no error")
	}
}
