package hostsetup

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
)

// PreStart prepares the host for the agent (see the package comment). It stops at the first
// failure; PostStop undoes whatever was done.
func PreStart(ctx context.Context, log logr.Logger, s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	lo := loopbackName()
	v4, err := newXtables(s.Iptables, IPv4, log)
	if err != nil {
		return fmt.Errorf("iptables: %w", err)
	}
	if err := makeDirs(log, s.Root, s.Dirs); err != nil {
		return err
	}
	if err := setSysctl(log, s.ProcSys, routeLocalnetAll, "1"); err != nil {
		return err
	}
	if err := disableBridgeRA(log, s.ProcSys, s.Bridge); err != nil {
		return err
	}
	only6, err := ipv6Only(s.ProcNet, lo)
	if err != nil {
		return err
	}
	if only6 {
		ip, err := lookBinary(s.IP)
		if err != nil {
			return fmt.Errorf("IPv6-only host needs ip(8): %w", err)
		}
		if err := (loRoute{ip: ip, lo: lo, log: log}).ensure(ctx); err != nil {
			return fmt.Errorf("loopback route: %w", err)
		}
	}

	v6, haveV6, why := ipv6Tables(s, log)
	plan := Plan(s, lo)
	if !haveV6 && !s.AllowOffhostIntrospectionAccess {
		log.Info("skipping the IPv6 introspection block", "reason", why)
	}
	// Once a rule is inserted at the top of a chain, every rule planned after it for that
	// chain must be (re)inserted above it, or a partial earlier run could leave the task
	// bridge's ACCEPT below the DROP it is an exception to.
	moved := map[string]bool{}
	for _, r := range plan {
		x := v4
		if r.Family == IPv6 {
			if !haveV6 {
				continue
			}
			x = v6
		}
		chain := r.Family.String() + "/" + r.Table + "/" + r.Chain
		inserted, err := x.add(ctx, r, moved[chain])
		if err != nil {
			return fmt.Errorf("%s: %w", r.Name, err)
		}
		moved[chain] = moved[chain] || inserted
	}
	return nil
}
