// Package etcfiles renders and writes the /etc/hostname, /etc/hosts and /etc/resolv.conf a
// task's containers get for their network, Docker's way. Rendering is a pure function so
// the create controller's choices are unit-testable; writing needs only the agent's data
// directory, not root.
package etcfiles

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/ecsd/ecsd/runtime"
)

// DNS is what resolv.conf should hold.
type DNS = runtime.DNS

// FilesInput is everything the per-task /etc files depend on.
type FilesInput struct {
	// Hostname goes to /etc/hostname and, with IPv4, to /etc/hosts.
	Hostname string
	// IPv4 is the task's own address (runtime.NetworkResult.IPv4); zero in none mode.
	IPv4 netip.Addr
	// ExtraHosts are "name:ip" entries (ECS extraHosts, Docker --add-host).
	ExtraHosts []string
	// Links are legacy container links: alias → IP of the linked container.
	Links []Link
	// DNS comes from the ENI in awsvpc mode. When it has no servers, the host's resolv.conf
	// (HostResolvConf) is used instead, as Docker does for bridge networks.
	DNS DNS
	// HostResolvConf is the content of the host's /etc/resolv.conf.
	HostResolvConf []byte
}

// Link is one legacy link entry in /etc/hosts.
type Link struct {
	Alias string
	IP    netip.Addr
}

// TaskFiles are the contents of /etc/hostname, /etc/hosts and /etc/resolv.conf for a task.
type TaskFiles struct {
	Hostname, Hosts, ResolvConf []byte
}

// defaultDNS is what Docker falls back to when the host only has loopback resolvers, which
// containers in their own namespace cannot reach.
const defaultDNS = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"

// BuildFiles renders the per-task files. It is a pure function of its input.
func BuildFiles(in FilesInput) (TaskFiles, error) {
	var f TaskFiles
	if in.Hostname != "" {
		f.Hostname = []byte(in.Hostname + "\n")
	}

	var h bytes.Buffer
	h.WriteString("127.0.0.1\tlocalhost\n")
	h.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	h.WriteString("fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	if in.IPv4.IsValid() && in.Hostname != "" {
		fmt.Fprintf(&h, "%s\t%s\n", in.IPv4, in.Hostname)
	}
	for _, e := range in.ExtraHosts {
		// The address may be IPv6 and contain colons: split at the first one.
		name, addr, ok := strings.Cut(e, ":")
		ip, err := netip.ParseAddr(strings.TrimSpace(addr))
		name = strings.TrimSpace(name)
		if !ok || err != nil || name == "" || strings.ContainsAny(name, " \t\n") {
			return TaskFiles{}, fmt.Errorf("cni: extra host %q: want name:ip: %w", e, runtime.ErrInvalidNetworkRequest)
		}
		fmt.Fprintf(&h, "%s\t%s\n", ip, name)
	}
	for _, l := range in.Links {
		if !l.IP.IsValid() || l.Alias == "" || strings.ContainsAny(l.Alias, " \t\n") {
			return TaskFiles{}, fmt.Errorf("cni: link %q → %s: %w", l.Alias, l.IP, runtime.ErrInvalidNetworkRequest)
		}
		fmt.Fprintf(&h, "%s\t%s\n", l.IP, l.Alias)
	}
	f.Hosts = h.Bytes()

	f.ResolvConf = resolvConf(in.DNS, in.HostResolvConf)
	return f, nil
}

// resolvConf uses dns if it has servers; otherwise the host file without loopback
// nameservers (127.0.0.53 and friends only answer in the host namespace), defaulting to
// public resolvers when none remain.
func resolvConf(dns DNS, host []byte) []byte {
	var b bytes.Buffer
	if len(dns.Servers) > 0 {
		for _, s := range dns.Servers {
			fmt.Fprintf(&b, "nameserver %s\n", s)
		}
		if len(dns.Search) > 0 {
			fmt.Fprintf(&b, "search %s\n", strings.Join(dns.Search, " "))
		}
		return b.Bytes()
	}
	servers := 0
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "nameserver" {
			if ip, err := netip.ParseAddr(fields[1]); err == nil && ip.IsLoopback() {
				continue
			}
			servers++
		}
		b.WriteString(line + "\n")
	}
	if servers == 0 {
		b.WriteString(defaultDNS)
	}
	return b.Bytes()
}

// WriteTo writes the files as dir/hostname, dir/hosts and dir/resolv.conf (mode 0644), each
// replaced atomically, for the runtime to bind-mount into the containers. An empty Hostname
// is not written.
func (f TaskFiles) WriteTo(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cni: task files dir: %w", err)
	}
	var errs []error
	for name, data := range map[string][]byte{"hostname": f.Hostname, "hosts": f.Hosts, "resolv.conf": f.ResolvConf} {
		if name == "hostname" && data == nil {
			continue
		}
		errs = append(errs, writeAtomic(filepath.Join(dir, name), data))
	}
	return errors.Join(errs...)
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("cni: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("cni: write %s: %w", path, err)
	}
	return nil
}
