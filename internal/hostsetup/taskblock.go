package hostsetup

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/go-logr/logr"
)

// TaskBlockComment marks the rules BlockFromTasks installs, so that copies left by an
// agent that did not stop cleanly can be found and deleted.
const TaskBlockComment = "ecsd-loopback-service-refused-to-tasks"

// TaskBlockRule is the filter OUTPUT rule refusing TCP connections to addr from processes
// in the cgroup v2 subtree cgroupPath (descendants included): the task containers.
// Host-network task containers share the host's network namespace and its loopback, so
// no address or interface tells them from the host; their cgroup does. A TCP reset makes
// their connect fail at once.
func TaskBlockRule(addr netip.AddrPort, cgroupPath string) Rule {
	ip := addr.Addr().Unmap()
	f, bits := IPv4, "/32"
	if ip.Is6() {
		f, bits = IPv6, "/128"
	}
	return Rule{
		Family: f, Table: "filter", Chain: "OUTPUT", Insert: true,
		Name: "refuse " + addr.String() + " to task containers",
		Spec: []string{"-p", "tcp", "-d", ip.String() + bits, "--dport", strconv.Itoa(int(addr.Port())),
			"-m", "cgroup", "--path", cgroupPath, "-m", "comment", "--comment", TaskBlockComment,
			"-j", "REJECT", "--reject-with", "tcp-reset"},
	}
}

// BlockFromTasks refuses connections to addr, a loopback service of the agent, from the
// task containers beneath cgroupPath (which must exist: the kernel resolves the path when
// the rule is inserted), in the calling thread's network namespace. Copies left by an
// agent that did not stop cleanly (for another port, say) are deleted first: a service
// gone is nothing to protect, and a rule bound to a cgroup that was since recreated would
// match nothing. The returned function deletes the rule; call it when the service stops.
func BlockFromTasks(ctx context.Context, log logr.Logger, addr netip.AddrPort, cgroupPath string) (unblock func(context.Context) error, err error) {
	r := TaskBlockRule(addr, cgroupPath)
	x, err := newXtables(r.Family.String(), r.Family, log)
	if err != nil {
		return nil, err
	}
	if err := x.removeMarked(ctx, r.Table, r.Chain, TaskBlockComment); err != nil {
		return nil, err
	}
	if _, err := x.add(ctx, r, false); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error { return x.remove(ctx, r) }, nil
}

// removeMarked deletes every rule of table/chain whose comment is comment.
func (x xtables) removeMarked(ctx context.Context, table, chain, comment string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	listing, err := x.ipt.List(table, chain)
	if err != nil {
		return fmt.Errorf("list %s %s: %w", table, chain, err)
	}
	for _, spec := range markedRules(strings.Join(listing, "\n"), chain, comment) {
		r := Rule{Family: x.family, Table: table, Chain: chain, Spec: spec}
		if err := x.do(ctx, r, "-D"); err != nil {
			return err
		}
		x.log.Info("deleted a rule left by an earlier run", "command", r.line("-D"))
	}
	return nil
}

// markedRules returns the specs (what follows "-A <chain>", unquoted) of the rules in
// `iptables -S chain` output that carry the comment. iptables quotes some values (the
// cgroup path always) in double quotes with backslash escapes; a line it cannot split is
// skipped.
func markedRules(listing, chain, comment string) [][]string {
	var out [][]string
	for _, line := range strings.Split(listing, "\n") {
		f, ok := splitRuleLine(line)
		if !ok || len(f) < 3 || f[0] != "-A" || f[1] != chain {
			continue
		}
		for i := 2; i+1 < len(f); i++ {
			if f[i] == "--comment" && f[i+1] == comment {
				out = append(out, f[2:])
				break
			}
		}
	}
	return out
}

// splitRuleLine splits one line of `iptables -S` into arguments: white space separates
// them, a double-quoted part may contain white space, and a backslash escapes the next
// character. It reports false for an unterminated quote or escape.
func splitRuleLine(line string) ([]string, bool) {
	var args []string
	var cur strings.Builder
	inArg, quoted, escaped := false, false, false
	for _, r := range line {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped, inArg = true, true
		case r == '"':
			quoted, inArg = !quoted, true
		case !quoted && (r == ' ' || r == '\t'):
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(r)
			inArg = true
		}
	}
	if quoted || escaped {
		return nil, false
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, true
}
