package hostsetup

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-logr/logr"
)

// Route flags of /proc/net/route and /proc/net/ipv6_route (linux/route.h).
const (
	rtfUp     = 0x0001
	rtfReject = 0x0200
)

// hasIPv4Default reports whether /proc/net/route has an IPv4 default route that is up and
// leaves through a non-loopback interface. Columns: Iface Destination Gateway Flags RefCnt
// Use Metric Mask ...; addresses are hex.
func hasIPv4Default(r io.Reader, lo string) (bool, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[0] == "Iface" || f[0] == lo {
			continue
		}
		flags, err := strconv.ParseUint(f[3], 16, 32)
		if err != nil {
			continue
		}
		if f[1] == "00000000" && f[7] == "00000000" && flags&rtfUp != 0 && flags&rtfReject == 0 {
			return true, nil
		}
	}
	return false, sc.Err()
}

// hasIPv6Default reports whether /proc/net/ipv6_route has a usable IPv6 default route
// through a non-loopback interface. Columns: dest dest_len src src_len next_hop metric
// refcnt use flags iface. The kernel lists its unreachable ::/0 routes on lo with
// RTF_REJECT; those are not defaults.
func hasIPv6Default(r io.Reader, lo string) (bool, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[9] == lo {
			continue
		}
		flags, err := strconv.ParseUint(f[8], 16, 32)
		if err != nil {
			continue
		}
		if strings.Trim(f[0], "0") == "" && f[1] == "00" && flags&rtfUp != 0 && flags&rtfReject == 0 {
			return true, nil
		}
	}
	return false, sc.Err()
}

// ipv6Only reports whether the host reaches the network over IPv6 alone.
func ipv6Only(procNet, lo string) (bool, error) {
	has := func(name string, parse func(io.Reader, string) (bool, error)) (bool, error) {
		f, err := os.Open(filepath.Join(procNet, name))
		if os.IsNotExist(err) {
			return false, nil // e.g. ipv6_route on a kernel without IPv6
		}
		if err != nil {
			return false, fmt.Errorf("routes: %w", err)
		}
		defer f.Close()
		ok, err := parse(f, lo)
		if err != nil {
			return false, fmt.Errorf("routes: %s: %w", f.Name(), err)
		}
		return ok, nil
	}
	v4, err := has("route", hasIPv4Default)
	if err != nil || v4 {
		return false, err
	}
	return has("ipv6_route", hasIPv6Default)
}

// loRoute is the route that sends 169.254.170.2 to loopback on IPv6-only hosts. Without any
// IPv4 route, connect(169.254.170.2) fails with ENETUNREACH in the routing lookup, before
// the nat OUTPUT REDIRECT could send it to the agent.
type loRoute struct {
	ip  string // resolved ip(8)
	lo  string
	log logr.Logger
}

func (r loRoute) args(op string) []string {
	return []string{"-4", "route", op, CredentialsAddress + "/32", "dev", r.lo, "table", "main"}
}

func (r loRoute) exists(ctx context.Context) (bool, error) {
	args := []string{"-4", "route", "show", "table", "main", "exact", CredentialsAddress + "/32", "dev", r.lo}
	res, err := run(ctx, r.ip, args...)
	if err != nil {
		return false, err
	}
	if res.code != 0 {
		return false, failed(r.ip, args, res)
	}
	return res.out != "", nil
}

func (r loRoute) change(ctx context.Context, op string) error {
	args := r.args(op)
	res, err := run(ctx, r.ip, args...)
	if err != nil {
		return err
	}
	if res.code != 0 {
		return failed(r.ip, args, res)
	}
	return nil
}

// ensure adds the route if it is missing.
func (r loRoute) ensure(ctx context.Context) error {
	ok, err := r.exists(ctx)
	if err != nil || ok {
		if ok {
			r.log.V(1).Info("loopback route already present", "destination", CredentialsAddress)
		}
		return err
	}
	if err := r.change(ctx, "add"); err != nil {
		return err
	}
	r.log.Info("IPv6-only host: routed the credentials address to loopback", "destination", CredentialsAddress, "dev", r.lo)
	return nil
}

// remove deletes the route if it is there.
func (r loRoute) remove(ctx context.Context) error {
	ok, err := r.exists(ctx)
	if err != nil || !ok {
		return err
	}
	if err := r.change(ctx, "del"); err != nil {
		return err
	}
	r.log.Info("removed the loopback route", "destination", CredentialsAddress, "dev", r.lo)
	return nil
}
