package hostsetup

import "strings"

// Family is an iptables address family.
type Family int

const (
	// IPv4 rules are managed with iptables.
	IPv4 Family = iota
	// IPv6 rules are managed with ip6tables.
	IPv6
)

func (f Family) String() string {
	if f == IPv6 {
		return "ip6tables"
	}
	return "iptables"
}

// Rule is one netfilter rule of spec §6.3.
type Rule struct {
	Family Family
	Table  string
	Chain  string
	// Insert puts the rule at the top of the chain (-I); otherwise it is appended (-A).
	// Inserted rules of one chain are listed in insertion order, so a later one ends up
	// above an earlier one.
	Insert bool
	// Spec is the match and the target, as given to iptables after the chain.
	Spec []string
	// Name says what the rule is for, in logs.
	Name string
}

// String renders the command that adds the rule, for logs and errors.
func (r Rule) String() string {
	op := "-A"
	if r.Insert {
		op = "-I"
	}
	return r.line(op)
}

// line renders the rule as an iptables command line with op.
func (r Rule) line(op string) string {
	return r.Family.String() + " -t " + r.Table + " " + op + " " + r.Chain + " " + strings.Join(r.Spec, " ")
}

// Plan returns the rules PreStart installs for s, in the order it installs them (the
// reference ecs-init's order). lo is the loopback interface's name.
func Plan(s Settings, lo string) []Rule {
	var rules []Rule
	rules = append(rules, Rule{
		Family: IPv4, Table: "nat", Chain: "PREROUTING", Name: "credentials DNAT for bridge-mode tasks",
		Spec: []string{"-p", "tcp", "-d", CredentialsAddress, "--dport", CredentialsPort,
			"-j", "DNAT", "--to-destination", "127.0.0.1:" + AgentCredentialsPort},
	})
	if !s.SkipLocalhostTrafficFilter {
		rules = append(rules, localhostFilter())
	}
	if !s.AllowOffhostIntrospectionAccess {
		rules = append(rules, introspectionRules(IPv4, s.Bridge, lo)...)
	}
	rules = append(rules, outputRedirect())
	if !s.AllowOffhostIntrospectionAccess {
		rules = append(rules, introspectionRules(IPv6, s.Bridge, lo)...)
	}
	return rules
}

// Removals returns every rule PreStart could have installed with s's bridge, whatever the
// two switches say, in the reverse of the installation order.
func Removals(s Settings, lo string) []Rule {
	all := s
	all.SkipLocalhostTrafficFilter, all.AllowOffhostIntrospectionAccess = false, false
	rules := Plan(all, lo)
	for i, j := 0, len(rules)-1; i < j; i, j = i+1, j-1 {
		rules[i], rules[j] = rules[j], rules[i]
	}
	return rules
}

// localhostFilter drops packets to 127.0.0.0/8 that did not come from loopback, unless they
// belong to a connection the host started or were DNATed there (our credentials DNAT).
// route_localnet=1 would otherwise let other hosts on the link reach loopback-only services.
func localhostFilter() Rule {
	return Rule{
		Family: IPv4, Table: "filter", Chain: "INPUT", Insert: true, Name: "localhost traffic filter",
		Spec: []string{"--dst", "127.0.0.0/8", "!", "--src", "127.0.0.0/8",
			"-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP"},
	}
}

// introspectionRules block the introspection port on every interface but loopback, then let
// the task bridge through: the ACCEPT is inserted last so it sits above the DROP.
// Introspection exposes task and instance details that only the host and its bridge-mode
// tasks should see.
func introspectionRules(f Family, bridge, lo string) []Rule {
	return []Rule{
		{
			Family: f, Table: "filter", Chain: "INPUT", Insert: true, Name: "off-host introspection block",
			Spec: []string{"-p", "tcp", "--dport", IntrospectionPort, "!", "-i", lo, "-j", "DROP"},
		},
		{
			Family: f, Table: "filter", Chain: "INPUT", Insert: true, Name: "introspection from the task bridge",
			Spec: []string{"-p", "tcp", "--dport", IntrospectionPort, "-i", bridge, "-j", "ACCEPT"},
		},
	}
}

// outputRedirect sends host-network processes' (and host-network tasks') connections to
// 169.254.170.2:80 to the agent.
func outputRedirect() Rule {
	return Rule{
		Family: IPv4, Table: "nat", Chain: "OUTPUT", Name: "credentials REDIRECT for host-network tasks",
		Spec: []string{"-p", "tcp", "-d", CredentialsAddress, "--dport", CredentialsPort,
			"-j", "REDIRECT", "--to-ports", AgentCredentialsPort},
	}
}
