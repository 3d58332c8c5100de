//go:build integration

package main

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Rules as iptables-save prints them after ecs-init adds them (spec §6.3).
const (
	ruleDNAT          = "-A PREROUTING -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 127.0.0.1:51679"
	ruleRedirect      = "-A OUTPUT -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 51679"
	ruleLocalFilter   = "-A INPUT ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
	ruleIntroDrop     = "-A INPUT ! -i lo -p tcp -m tcp --dport 51678 -j DROP"
	ruleIntroAcceptFm = "-A INPUT -i %s -p tcp -m tcp --dport 51678 -j ACCEPT"
)

func ruleIntroAccept(bridge string) string { return fmt.Sprintf(ruleIntroAcceptFm, bridge) }

// seed gives the namespace a few unrelated rules, a user chain and both families' filter
// tables, as on a real host, so the tests see ecs-init insert and append among them.
func seed(t *testing.T, n *netns) {
	t.Helper()
	n.sh(t, `
		iptables -w -t filter -N SEEDED
		iptables -w -t filter -A SEEDED -j RETURN
		iptables -w -t filter -A INPUT -s 198.51.100.0/24 -j SEEDED
		iptables -w -t filter -A OUTPUT -d 203.0.113.0/24 -j ACCEPT
		iptables -w -t nat -A PREROUTING -d 203.0.113.7/32 -p tcp --dport 8080 -j DNAT --to-destination 198.51.100.7:80
		iptables -w -t nat -A POSTROUTING -s 198.51.100.0/24 -j MASQUERADE
		ip6tables -w -t filter -A INPUT -s 2001:db8:ffff::/48 -j ACCEPT
	`)
}

var counters = regexp.MustCompile(`\[\d+:\d+\]`)

// save returns iptables-save (v=4) or ip6tables-save (v=6) output without comment lines
// and with counters zeroed: what must be byte-for-byte identical before and after.
func save(t *testing.T, n *netns, v int) string {
	t.Helper()
	bin := "iptables-save"
	if v == 6 {
		bin = "ip6tables-save"
	}
	var b strings.Builder
	for _, l := range strings.SplitAfter(n.output(t, bin), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		b.WriteString(counters.ReplaceAllString(l, "[0:0]"))
	}
	return b.String()
}

// ruleset is parsed save output: table → chain → rule lines in order. Every declared chain
// is present, with an empty list when it has no rules.
type ruleset map[string]map[string][]string

func parseSave(t *testing.T, s string) ruleset {
	t.Helper()
	rs := ruleset{}
	var table string
	for _, l := range strings.Split(s, "\n") {
		switch {
		case l == "" || l == "COMMIT":
		case strings.HasPrefix(l, "*"):
			table = l[1:]
			rs[table] = map[string][]string{}
		case strings.HasPrefix(l, ":"):
			rs[table][strings.Fields(l[1:])[0]] = []string{}
		case strings.HasPrefix(l, "-A "):
			chain := strings.Fields(l)[1]
			rs[table][chain] = append(rs[table][chain], l)
		default:
			t.Fatalf("unexpected save line %q", l)
		}
	}
	return rs
}

func (rs ruleset) clone() ruleset {
	out := ruleset{}
	for tbl, chains := range rs {
		out[tbl] = map[string][]string{}
		for c, rules := range chains {
			out[tbl][c] = slices.Clone(rules)
		}
	}
	return out
}

func (rs ruleset) String() string {
	var b strings.Builder
	for _, tbl := range slices.Sorted(maps.Keys(rs)) {
		fmt.Fprintf(&b, "*%s\n", tbl)
		for _, c := range slices.Sorted(maps.Keys(rs[tbl])) {
			fmt.Fprintf(&b, "  :%s\n", c)
			for _, r := range rs[tbl][c] {
				fmt.Fprintf(&b, "    %s\n", r)
			}
		}
	}
	return b.String()
}

// want describes the switches a pre-start ran with.
type want struct {
	skipFilter, allowIntro bool
	bridge                 string
}

// expected returns the rule sets pre-start must produce from the given baseline: the
// inserted INPUT rules at the top in spec order (bridge ACCEPT, introspection DROP,
// localhost filter), the nat rules appended.
func expected(t *testing.T, before4, before6 string, w want) (ruleset, ruleset) {
	t.Helper()
	if w.bridge == "" {
		w.bridge = "ecsd0"
	}
	v4, v6 := parseSave(t, before4).clone(), parseSave(t, before6).clone()
	var top4, top6 []string
	if !w.allowIntro {
		top4 = append(top4, ruleIntroAccept(w.bridge), ruleIntroDrop)
		top6 = append(top6, ruleIntroAccept(w.bridge), ruleIntroDrop)
	}
	if !w.skipFilter {
		top4 = append(top4, ruleLocalFilter)
	}
	v4["filter"]["INPUT"] = append(top4, v4["filter"]["INPUT"]...)
	v4["nat"]["PREROUTING"] = append(v4["nat"]["PREROUTING"], ruleDNAT)
	v4["nat"]["OUTPUT"] = append(v4["nat"]["OUTPUT"], ruleRedirect)
	v6["filter"]["INPUT"] = append(top6, v6["filter"]["INPUT"]...)
	return v4, v6
}

// checkRules fails unless the namespace's rules are exactly those expected.
func checkRules(t *testing.T, n *netns, want4, want6 ruleset) {
	t.Helper()
	if got := parseSave(t, save(t, n, 4)); !reflect.DeepEqual(got, want4) {
		t.Errorf("iptables rules:\n%s\nwant:\n%s", got, want4)
	}
	if got := parseSave(t, save(t, n, 6)); !reflect.DeepEqual(got, want6) {
		t.Errorf("ip6tables rules:\n%s\nwant:\n%s", got, want6)
	}
}

// packets returns the packet counter of the rule line (as iptables-save prints it) in
// table, or -1 if the rule is missing.
func packets(t *testing.T, n *netns, v int, table, rule string) int {
	t.Helper()
	bin := "iptables-save"
	if v == 6 {
		bin = "ip6tables-save"
	}
	for _, l := range strings.Split(n.output(t, bin, "-c", "-t", table), "\n") {
		cnt, r, ok := strings.Cut(l, "] ")
		if !ok || r != rule {
			continue
		}
		pk, _, _ := strings.Cut(strings.TrimPrefix(cnt, "["), ":")
		v, err := strconv.Atoi(pk)
		if err != nil {
			t.Fatalf("counter of %q: %v", l, err)
		}
		return v
	}
	return -1
}
