package hostsetup

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/go-logr/logr"
)

// maxDuplicates bounds how many identical copies of one rule PostStop deletes. The
// reference ecs-init appends without checking, so restarts under it leave duplicates; a
// bound keeps a misbehaving iptables (one whose -D never takes effect) from looping forever.
const maxDuplicates = 64

// xtables runs one iptables binary (iptables or ip6tables).
type xtables struct {
	bin string // resolved path
	log logr.Logger
}

// exists reports whether r is in its chain (iptables -C: 0 present, 1 absent).
func (x xtables) exists(ctx context.Context, r Rule) (bool, error) {
	args := r.args("-C")
	res, err := run(ctx, x.bin, args...)
	if err != nil {
		return false, err
	}
	switch res.code {
	case 0:
		return true, nil
	case 1:
		return false, nil
	}
	return false, failed(x.bin, args, res)
}

// do runs r with op (-A, -I or -D), which must succeed.
func (x xtables) do(ctx context.Context, r Rule, op string) error {
	args := r.args(op)
	if op == "-I" {
		// Explicit position 1: the top of the chain, whatever the binary's default.
		args = append(append(args[:5:5], "1"), r.Spec...)
	}
	res, err := run(ctx, x.bin, args...)
	if err != nil {
		return err
	}
	if res.code != 0 {
		return failed(x.bin, args, res)
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
// do not apply: no IPv6 in the kernel, or no ip6tables binary.
func ipv6Tables(s Settings, log logr.Logger) (x xtables, ok bool, why string) {
	if _, err := os.Stat(filepath.Join(s.ProcSys, "net", "ipv6")); err != nil {
		return xtables{}, false, "the kernel has no IPv6 (" + err.Error() + ")"
	}
	bin, err := lookBinary(s.Ip6tables)
	if err != nil {
		return xtables{}, false, err.Error()
	}
	return xtables{bin: bin, log: log.WithValues("family", IPv6.String())}, true, ""
}
