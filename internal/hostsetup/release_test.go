//go:build integration

package hostsetup

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"

	"github.com/ecsd/ecsd/internal/netns"
	"github.com/ecsd/ecsd/internal/testenv"
)

// TestReleaseInNamespace: in a fresh namespace with an administrator's rules, the CNI
// portmap plugin's shared chains (as portmap 1.1 leaves them, IPv4 and IPv6) and two
// commented rules, ReleasePortmap leaves the IPv4 chains alone while a port is mapped and
// while another chain jumps to them; then RemoveCommented and ReleasePortmap bring
// iptables-save back to the administrator's rules byte for byte; a second round changes
// nothing.
func TestReleaseInNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	dir := filepath.Join(t.TempDir(), "netns")
	t.Cleanup(func() {
		if err := netns.DeleteDir(dir); err != nil {
			t.Errorf("delete namespace: %v", err)
		}
	})
	path, err := netns.Create(dir, testenv.UniqueName(t, "rel"))
	if err != nil {
		t.Fatal(err)
	}
	sh := func(script string) string {
		t.Helper()
		var out []byte
		if err := netns.Do(path, func() error {
			var err error
			out, err = exec.Command("sh", "-ec", script).CombinedOutput()
			return err
		}); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	counters := regexp.MustCompile(`\[\d+:\d+\]`)
	save := func() string {
		t.Helper()
		var b strings.Builder
		for _, l := range strings.SplitAfter(sh("iptables-save; ip6tables-save"), "\n") {
			if !strings.HasPrefix(l, "#") {
				b.WriteString(counters.ReplaceAllString(l, "[0:0]"))
			}
		}
		return b.String()
	}
	sh(`
		iptables -w -A INPUT -p tcp --dport 22 -j ACCEPT
		iptables -w -t nat -A PREROUTING -p tcp --dport 2222 -j REDIRECT --to-ports 22
		iptables -w -t nat -A POSTROUTING -s 192.0.2.0/24 -j MASQUERADE
		ip6tables -w -A INPUT -p tcp --dport 22 -j ACCEPT
		ip6tables -w -t nat -A POSTROUTING -s 2001:db8::/64 -j MASQUERADE
	`)
	before := save()
	for _, ipt := range []string{"iptables", "ip6tables"} {
		sh(strings.ReplaceAll(`
			IPT -w -t nat -N CNI-HOSTPORT-SETMARK
			IPT -w -t nat -A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000
			IPT -w -t nat -N CNI-HOSTPORT-MASQ
			IPT -w -t nat -A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE
			IPT -w -t nat -N CNI-HOSTPORT-DNAT
			IPT -w -t nat -I PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
			IPT -w -t nat -I OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
			IPT -w -t nat -I POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
		`, "IPT", ipt))
	}
	sh(`
		iptables -w -I FORWARD -d 169.254.169.254/32 -i ecsd0 -m comment --comment "block imds" -j DROP
		iptables -w -A OUTPUT -d 169.254.169.254/32 -m comment --comment "block imds" -j REJECT
		iptables -w -t nat -N CNI-DN-1
		iptables -w -t nat -A CNI-DN-1 -p tcp --dport 32768 -j DNAT --to-destination 172.17.0.2:8080
		iptables -w -t nat -A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"ecsd\" id: \"x\"" -j CNI-DN-1
	`)
	ctx := context.Background()
	release := func() {
		t.Helper()
		if err := netns.Do(path, func() error {
			log := testr.New(t)
			for _, chain := range []string{"FORWARD", "OUTPUT"} {
				if err := RemoveCommented(ctx, log, "filter", chain, "block imds"); err != nil {
					return err
				}
			}
			return ReleasePortmap(ctx, log)
		}); err != nil {
			t.Fatalf("release: %v", err)
		}
	}

	release()
	mapped := save()
	if !strings.Contains(mapped, ":CNI-HOSTPORT-DNAT") || !strings.Contains(mapped, "-j CNI-HOSTPORT-MASQ") {
		t.Fatalf("with a port mapped, the portmap chains were released:\n%s", mapped)
	}
	if strings.Contains(mapped, "block imds") {
		t.Errorf("the commented rules are still there:\n%s", mapped)
	}

	sh(`
		iptables -w -t nat -F CNI-HOSTPORT-DNAT
		iptables -w -t nat -F CNI-DN-1
		iptables -w -t nat -X CNI-DN-1
		iptables -w -t nat -N CNI-DN-2
		iptables -w -t nat -A CNI-DN-2 -j CNI-HOSTPORT-SETMARK
	`)
	release()
	if got := save(); !strings.Contains(got, ":CNI-HOSTPORT-SETMARK") {
		t.Fatalf("with another chain jumping to them, the portmap chains were released:\n%s", got)
	}
	sh(`
		iptables -w -t nat -F CNI-DN-2
		iptables -w -t nat -X CNI-DN-2
	`)
	release()
	if got := save(); got != before {
		t.Fatalf("after release:\n%s\nwant the administrator's rules:\n%s", got, before)
	}
	release()
	if got := save(); got != before {
		t.Fatalf("a second release changed the tables:\n%s", got)
	}
}
