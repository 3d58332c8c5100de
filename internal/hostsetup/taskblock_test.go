//go:build integration

package hostsetup

import (
	"context"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"

	"github.com/ecsd/ecsd/internal/netns"
	"github.com/ecsd/ecsd/internal/testenv"
)

func TestTaskBlockRule(t *testing.T) {
	r := TaskBlockRule(netip.MustParseAddrPort("127.0.0.1:51690"), "/ecs")
	want := "iptables -t filter -C OUTPUT -p tcp -d 127.0.0.1/32 --dport 51690 -m cgroup --path /ecs -m comment --comment " +
		TaskBlockComment + " -j REJECT --reject-with tcp-reset"
	if got := r.line("-C"); r.Family != IPv4 || got != want {
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
-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 40003 -m cgroup --path "/my cgroups/\"ecs\"" -m comment --comment ` + TaskBlockComment + ` -j REJECT --reject-with tcp-reset
-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 40004 -m cgroup --path "/unterminated -m comment --comment ` + TaskBlockComment + `
`
	got := markedRules(listing, "OUTPUT", TaskBlockComment)
	if len(got) != 2 || !slices.Contains(got[0], "40001") || !slices.Contains(got[1], "40003") || got[0][0] != "-d" ||
		!slices.Contains(got[1], `/my cgroups/"ecs"`) {
		t.Errorf("markedRules = %q", got)
	}
	if args, ok := splitRuleLine(`-A OUTPUT --path "/" -j  X`); !ok || !slices.Equal(args, []string{"-A", "OUTPUT", "--path", "/", "-j", "X"}) {
		t.Errorf("splitRuleLine = %q, %v", args, ok)
	}
}

// TestBlockFromTasksInNamespace runs the real iptables in a namespace of its own: a copy
// left by an earlier run (another port) is replaced, a second start leaves one rule, and
// the returned function removes it.
func TestBlockFromTasksInNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	dir := filepath.Join(t.TempDir(), "netns")
	t.Cleanup(func() {
		if err := netns.DeleteDir(dir); err != nil {
			t.Errorf("delete namespace: %v", err)
		}
	})
	path, err := netns.Create(dir, testenv.UniqueName(t, "blk"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	list := func() []string {
		t.Helper()
		var out []byte
		if err := netns.Do(path, func() error {
			var err error
			out, err = exec.Command("iptables", "-w", "-S", "OUTPUT").CombinedOutput()
			return err
		}); err != nil {
			t.Fatalf("iptables -S: %v: %s", err, out)
		}
		var rules []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, TaskBlockComment) {
				rules = append(rules, l)
			}
		}
		return rules
	}
	block := func(addr string) func(context.Context) error {
		t.Helper()
		var unblock func(context.Context) error
		if err := netns.Do(path, func() error {
			var err error
			unblock, err = BlockFromTasks(ctx, testr.New(t), netip.MustParseAddrPort(addr), "/")
			return err
		}); err != nil {
			t.Fatalf("BlockFromTasks(%s): %v", addr, err)
		}
		return unblock
	}
	block("127.0.0.1:40001") // an agent killed without cleaning up
	block("127.0.0.1:40002")
	unblock := block("127.0.0.1:40002")
	rules := list()
	if len(rules) != 1 || !strings.Contains(rules[0], "--dport 40002") {
		t.Fatalf("rules after three starts: %q, want only the last port's", rules)
	}
	if err := netns.Do(path, func() error { return unblock(ctx) }); err != nil {
		t.Fatal(err)
	}
	if rules := list(); len(rules) != 0 {
		t.Fatalf("rules after unblock: %q", rules)
	}
}
