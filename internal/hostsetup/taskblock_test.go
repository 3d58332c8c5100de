package hostsetup

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestTaskBlockRule(t *testing.T) {
	r := TaskBlockRule(netip.MustParseAddrPort("127.0.0.1:51680"), "/ecs")
	want := "-w -t filter -C OUTPUT -p tcp -d 127.0.0.1/32 --dport 51680 -m cgroup --path /ecs -m comment --comment " +
		TaskBlockComment + " -j REJECT --reject-with tcp-reset"
	if got := strings.Join(r.args("-C"), " "); r.Family != IPv4 || got != want {
		t.Errorf("IPv4 rule %s %q, want iptables %q", r.Family, got, want)
	}
	if r := TaskBlockRule(netip.MustParseAddrPort("[::1]:80"), "/ecs"); r.Family != IPv6 || !slices.Contains(r.Spec, "::1/128") {
		t.Errorf("IPv6 rule %s %v", r.Family, r.Spec)
	}
	if r := TaskBlockRule(netip.MustParseAddrPort("[::ffff:127.0.0.1]:80"), "/ecs"); r.Family != IPv4 || !slices.Contains(r.Spec, "127.0.0.1/32") {
		t.Errorf("mapped address rule %s %v", r.Family, r.Spec)
	}
}

func TestMarkedRules(t *testing.T) {
	listing := `-P OUTPUT ACCEPT
-A OUTPUT -d 169.254.169.254/32 -m cgroup --path /ecs -m comment --comment "ecsd: block instance metadata from host-network tasks" -j REJECT --reject-with icmp-port-unreachable
-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 40001 -m cgroup --path /ecs -m comment --comment ` + TaskBlockComment + ` -j REJECT --reject-with tcp-reset
-A OTHER -d 127.0.0.1/32 -m comment --comment ` + TaskBlockComment + ` -j DROP
-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 40002 -m comment --comment someone-else -j DROP
-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 40003 -m cgroup --path /ecs -m comment --comment ` + TaskBlockComment + ` -j REJECT --reject-with tcp-reset
`
	got := markedRules(listing, "OUTPUT", TaskBlockComment)
	if len(got) != 2 || !slices.Contains(got[0], "40001") || !slices.Contains(got[1], "40003") || got[0][0] != "-d" {
		t.Errorf("markedRules = %q", got)
	}
}
