package hostsetup

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/coreos/go-iptables/iptables"
	"github.com/go-logr/logr"
)

// maxDuplicates bounds how many identical copies of one rule PostStop deletes. The
// reference ecs-init appends without checking, so restarts under it leave duplicates; a
// bound keeps a misbehaving iptables (one whose -D never takes effect) from looping forever.
const maxDuplicates = 64

// xtables manages the rules of one family through github.com/coreos/go-iptables, the
// library the CNI plugins use. It still runs the iptables binaries (so the host's backend,
// nft or legacy, is the one every other tool sees) and passes --wait for the xtables lock;
// the library adds the version probing and exit-status handling we used to write by hand.
// The library takes no context: ctx is checked between commands, so a cancelled PreStart
// or PostStop stops at the next rule rather than in the middle of one.
type xtables struct {
	ipt    *iptables.IPTables
	family Family
	log    logr.Logger
}

// newXtables resolves bin (a path or a name in PATH) and probes its version.
func newXtables(bin string, f Family, log logr.Logger) (xtables, error) {
	path, err := lookBinary(bin)
	if err != nil {
		return xtables{}, err
	}
	proto := iptables.ProtocolIPv4
	if f == IPv6 {
		proto = iptables.ProtocolIPv6
	}
	ipt, err := iptables.New(iptables.IPFamily(proto), iptables.Path(path))
	if err != nil {
		return xtables{}, fmt.Errorf("%s: %w", path, err)
	}
	return xtables{ipt: ipt, family: f, log: log.WithValues("family", f.String())}, nil
}

// exists reports whether r is in its chain (iptables -C).
func (x xtables) exists(ctx context.Context, r Rule) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	ok, err := x.ipt.Exists(r.Table, r.Chain, r.Spec...)
	if err != nil {
		return false, fmt.Errorf("%s: %w", r.line("-C"), err)
	}
	return ok, nil
}

// do runs r with op (-A, -I at position 1, or -D), which must succeed.
func (x xtables) do(ctx context.Context, r Rule, op string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var err error
	switch op {
	case "-A":
		err = x.ipt.Append(r.Table, r.Chain, r.Spec...)
	case "-I":
		// Explicit position 1: the top of the chain, whatever the binary's default.
		err = x.ipt.Insert(r.Table, r.Chain, 1, r.Spec...)
	case "-D":
		err = x.ipt.Delete(r.Table, r.Chain, r.Spec...)
	default:
		return fmt.Errorf("%s: unknown operation", r.line(op))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", r.line(op), err)
	}
	return nil
}

// add installs r if it is missing. With reinsert, an inserted rule that is already there is
// deleted and inserted again, to move it back above a rule inserted before it in this run.
// It reports whether it inserted r at the top of its chain.
func (x xtables) add(ctx context.Context, r Rule, reinsert bool) (bool, error) {
	present, err := x.exists(ctx, r)
	if err != nil {
		return false, err
	}
	if present && !(r.Insert && reinsert) {
		x.log.V(1).Info("rule already present", "rule", r.Name, "command", r.String())
		return false, nil
	}
	if present {
		if err := x.do(ctx, r, "-D"); err != nil {
			return false, err
		}
		x.log.Info("moving rule back to the top of its chain", "rule", r.Name, "command", r.String())
	}
	op := "-A"
	if r.Insert {
		op = "-I"
	}
	if err := x.do(ctx, r, op); err != nil {
		return false, err
	}
	if !present {
		x.log.Info("added rule", "rule", r.Name, "command", r.String())
	}
	return r.Insert, nil
}

// remove deletes every copy of r; absence is not an error.
func (x xtables) remove(ctx context.Context, r Rule) error {
	for range maxDuplicates {
		present, err := x.exists(ctx, r)
		if err != nil || !present {
			return err
		}
		if err := x.do(ctx, r, "-D"); err != nil {
			return err
		}
		x.log.Info("deleted rule", "rule", r.Name, "command", r.line("-D"))
	}
	return fmt.Errorf("%s: still present after %d deletes", r, maxDuplicates)
}

// lookBinary resolves a binary given as a path or a name in PATH.
func lookBinary(bin string) (string, error) {
	p, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("%s: %w", bin, err)
	}
	return p, nil
}

// ipv6Tables returns the ip6tables runner, or ok=false (with the reason) when IPv6 rules
// do not apply: no IPv6 in the kernel, or no usable ip6tables binary.
func ipv6Tables(s Settings, log logr.Logger) (x xtables, ok bool, why string) {
	if _, err := os.Stat(filepath.Join(s.ProcSys, "net", "ipv6")); err != nil {
		return xtables{}, false, "the kernel has no IPv6 (" + err.Error() + ")"
	}
	x, err := newXtables(s.Ip6tables, IPv6, log)
	if err != nil {
		return xtables{}, false, err.Error()
	}
	return x, true, ""
}
