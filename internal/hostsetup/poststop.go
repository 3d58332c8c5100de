package hostsetup

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
)

// PostStop undoes PreStart (see the package comment). It carries on past failures so one
// broken step does not leave the others behind, and returns them all.
func PostStop(ctx context.Context, log logr.Logger, s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	lo := loopbackName()
	var errs []error

	v4, err := newXtables(s.Iptables, IPv4, log)
	haveV4 := err == nil
	if err != nil {
		errs = append(errs, fmt.Errorf("iptables: %w", err))
	}
	v6, haveV6, why := ipv6Tables(s, log)
	if !haveV6 {
		log.V(1).Info("no IPv6 rules to remove", "reason", why)
	}
	for _, r := range Removals(s, lo) {
		x := v4
		switch {
		case r.Family == IPv6 && !haveV6, r.Family == IPv4 && !haveV4:
			continue
		case r.Family == IPv6:
			x = v6
		}
		if err := x.remove(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Name, err))
		}
	}

	// route_localnet goes back to what the kernel gives a new interface: the value before
	// PreStart is not recorded anywhere, and the reference ecs-init restores this one too.
	def, err := readSysctl(s.ProcSys, routeLocalnetDefault)
	if err == nil {
		err = setSysctl(log, s.ProcSys, routeLocalnetAll, def)
	}
	if err != nil {
		errs = append(errs, err)
	}

	// The route is removed whether or not the host is IPv6-only now: it may have changed.
	if ip, err := lookBinary(s.IP); err != nil {
		log.V(1).Info("no ip(8); loopback route not checked", "error", err.Error())
	} else if err := (loRoute{ip: ip, lo: lo, log: log}).remove(ctx); err != nil {
		errs = append(errs, fmt.Errorf("loopback route: %w", err))
	}
	return join(errs)
}
