package hostsetup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-logr/logr"
)

// The rules that exist for tasks rather than for the agent: the agent's instance metadata
// blocks (runtime/cni) and the CNI portmap plugin's shared nat chains. They outlive task
// containers by design while tasks may still need them; these functions remove them once
// none does, so that a host whose last task is gone gets its firewall back as it was.

// portmapPrefix starts the names of the chains the CNI portmap plugin shares between all the
// containers of a host (CNI-HOSTPORT-DNAT, -MASQ, -SETMARK). Its per-container chains
// (CNI-DN-…) are removed with their container.
const portmapPrefix = "CNI-HOSTPORT-"

// portmapDNAT holds one jump per container with mapped ports.
const portmapDNAT = portmapPrefix + "DNAT"

// natBuiltins are the nat table's built-in chains, where the plugin hooks its chains.
var natBuiltins = []string{"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"}

// RemoveCommented deletes every IPv4 rule of table/chain whose comment is comment, in the
// calling thread's network namespace. Absence is not an error.
func RemoveCommented(ctx context.Context, log logr.Logger, table, chain, comment string) error {
	x, err := newXtables("iptables", IPv4, log)
	if err != nil {
		return err
	}
	listing, err := x.ipt.List(table, chain)
	if err != nil {
		return fmt.Errorf("list %s %s: %w", table, chain, err)
	}
	for _, spec := range markedRules(strings.Join(listing, "\n"), chain, comment) {
		r := Rule{Family: IPv4, Table: table, Chain: chain, Spec: spec}
		if err := x.do(ctx, r, "-D"); err != nil {
			return err
		}
		x.log.Info("deleted rule", "command", r.line("-D"))
	}
	return nil
}

// ReleasePortmap removes the CNI portmap plugin's shared chains from the nat table, and the
// jumps to them from the built-in chains, for IPv4 and (where ip6tables works) IPv6, in the
// calling thread's network namespace. It does so only when CNI-HOSTPORT-DNAT holds no rule
// (no container of any CNI user has a port mapped, so they route nothing) and no other
// chain jumps to them; otherwise it leaves them and says why. The plugin creates them
// again with the next mapping.
func ReleasePortmap(ctx context.Context, log logr.Logger) error {
	var errs []error
	for _, f := range []Family{IPv4, IPv6} {
		x, err := newXtables(f.String(), f, log)
		if err != nil {
			if f == IPv6 {
				continue // no usable ip6tables: there are no IPv6 rules either
			}
			return err
		}
		errs = append(errs, x.releasePortmap(ctx))
	}
	return errors.Join(errs...)
}

func (x xtables) releasePortmap(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	chains, err := x.ipt.ListChains("nat")
	if err != nil {
		// No nat table (nothing created one): nothing to release.
		x.log.V(1).Info("no nat table to release portmap chains from", "error", err.Error())
		return nil
	}
	var ours []string
	for _, c := range chains {
		if strings.HasPrefix(c, portmapPrefix) {
			ours = append(ours, c)
		}
	}
	if len(ours) == 0 {
		return nil
	}
	if slices.Contains(ours, portmapDNAT) {
		rules, err := x.ipt.List("nat", portmapDNAT)
		if err != nil {
			return fmt.Errorf("list nat %s: %w", portmapDNAT, err)
		}
		if len(rules) > 1 { // the first line declares the chain
			x.log.Info("leaving the CNI portmap chains: ports are still mapped", "mappings", len(rules)-1)
			return nil
		}
	}
	// The jumps to them: from the built-in chains only. Another chain jumping to them (a
	// per-container chain left behind) means someone may still use them.
	var jumps []Rule
	for _, c := range chains {
		if slices.Contains(ours, c) {
			continue
		}
		listing, err := x.ipt.List("nat", c)
		if err != nil {
			return fmt.Errorf("list nat %s: %w", c, err)
		}
		for _, line := range listing {
			f, ok := splitRuleLine(line)
			if !ok || len(f) < 3 || f[0] != "-A" || !strings.HasPrefix(ruleTarget(f), portmapPrefix) {
				continue
			}
			if !slices.Contains(natBuiltins, c) {
				x.log.Info("leaving the CNI portmap chains: another chain jumps to them", "chain", c, "rule", line)
				return nil
			}
			jumps = append(jumps, Rule{Family: x.family, Table: "nat", Chain: c, Spec: f[2:]})
		}
	}
	for _, r := range jumps {
		if err := x.do(ctx, r, "-D"); err != nil {
			return err
		}
		x.log.Info("deleted rule", "command", r.line("-D"))
	}
	// Flush them all first: one may jump to another.
	for _, c := range ours {
		if err := x.ipt.ClearChain("nat", c); err != nil {
			return fmt.Errorf("flush nat %s: %w", c, err)
		}
	}
	for _, c := range ours {
		if err := x.ipt.DeleteChain("nat", c); err != nil {
			return fmt.Errorf("delete nat %s: %w", c, err)
		}
		x.log.Info("deleted chain", "table", "nat", "chain", c)
	}
	return nil
}

// ruleTarget is the chain or target a rule's -j or -g names ("" if none).
func ruleTarget(args []string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-j" || args[i] == "-g" {
			return args[i+1]
		}
	}
	return ""
}
