//go:build linux

package cni

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ecsd/ecsd/internal/hostsetup"
)

// imdsRuleComment marks the bridge IMDS rule so operators can tell where it comes from.
const imdsRuleComment = "ecsd: block instance metadata from bridge tasks"

// imdsRule is the filter FORWARD rule dropping bridge traffic to IMDS. It matches only
// 169.254.169.254, so 169.254.170.2 (task credentials and metadata, DNAT'd to the agent by
// ecs-init's rules) keeps working. It lives in the host namespace, out of reach of containers
// even with CAP_NET_ADMIN, and like the bridge it is shared: only ReleaseHostRules removes
// it, when the agent stops with no task left.
func imdsRule(bridge string) []string {
	return []string{"FORWARD", "-i", bridge, "-d", IMDSAddress + "/32",
		"-m", "comment", "--comment", imdsRuleComment, "-j", "DROP"}
}

// ensureBridgeIMDSRule inserts the rule unless it is present (-C then -I); checked on every
// bridge Setup so a flushed firewall heals with the next task.
func (m *Manager) ensureBridgeIMDSRule(ctx context.Context) error {
	bin, err := exec.LookPath("iptables")
	if err != nil {
		bin = "/usr/sbin/iptables"
	}
	rule := imdsRule(m.opts.BridgeName)
	return m.inHost(func() error {
		check := exec.CommandContext(ctx, bin, append([]string{"-w", "5", "-t", "filter", "-C"}, rule...)...)
		if check.Run() == nil {
			return nil
		}
		out, err := exec.CommandContext(ctx, bin, append([]string{"-w", "5", "-t", "filter", "-I"}, rule...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("cni: insert IMDS block rule: %w: %s", err, strings.TrimSpace(string(out)))
		}
		m.log.Info("inserted iptables rule blocking instance metadata for bridge tasks", "bridge", m.opts.BridgeName)
		return nil
	})
}

// hostIMDSComment marks the host-network IMDS rule.
const hostIMDSComment = "ecsd: block instance metadata from host-network tasks"

// hostIMDSRule is the filter OUTPUT rule refusing IMDS to sockets of processes in the task
// cgroup tree (cgroup v2 path match, descendants included). Host-network containers share
// the host's namespace, so no route or FORWARD rule can tell them from the agent; their
// cgroup can. REJECT makes connects fail at once instead of hanging.
func hostIMDSRule(cgroup2Path string) []string {
	return []string{"OUTPUT", "-d", IMDSAddress + "/32", "-m", "cgroup", "--path", cgroup2Path,
		"-m", "comment", "--comment", hostIMDSComment, "-j", "REJECT"}
}

// BlockHostIMDS installs hostIMDSRule for cgroup2Path, the task cgroup root relative to the
// cgroup v2 hierarchy, which must exist. Any earlier copy is deleted first: the kernel binds
// the rule to the cgroup that existed when it was inserted, so one from before the root was
// recreated would match nothing.
func (m *Manager) BlockHostIMDS(ctx context.Context, cgroup2Path string) error {
	bin, err := exec.LookPath("iptables")
	if err != nil {
		bin = "/usr/sbin/iptables"
	}
	rule := hostIMDSRule(cgroup2Path)
	return m.inHost(func() error {
		for range 8 { // duplicates from older runs, bounded in case -D misbehaves
			if exec.CommandContext(ctx, bin, append([]string{"-w", "5", "-t", "filter", "-D"}, rule...)...).Run() != nil {
				break
			}
		}
		out, err := exec.CommandContext(ctx, bin, append([]string{"-w", "5", "-t", "filter", "-I"}, rule...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("cni: insert host-network IMDS block rule: %w: %s", err, strings.TrimSpace(string(out)))
		}
		m.log.Info("inserted iptables rule blocking instance metadata for host-network tasks", "cgroup", cgroup2Path)
		return nil
	})
}

// ReleaseHostRules removes the host rules that exist only for tasks: the two instance
// metadata blocks and the CNI portmap plugin's shared nat chains (those only when no port
// is mapped). The agent calls it when it stops with no task container left, so that the
// host's firewall is as it found it; the next start (BlockHostIMDS) and the next bridge
// task (ensureBridgeIMDSRule, the portmap plugin) put them back. It tries every removal
// and returns their errors joined.
func (m *Manager) ReleaseHostRules(ctx context.Context) error {
	log := m.log.WithName("release")
	return m.inHost(func() error {
		return errors.Join(
			hostsetup.RemoveCommented(ctx, log, "filter", "FORWARD", imdsRuleComment),
			hostsetup.RemoveCommented(ctx, log, "filter", "OUTPUT", hostIMDSComment),
			hostsetup.ReleasePortmap(ctx, log),
		)
	})
}

// addUnreachableRoute adds "unreachable <dst>/32" to the main table of the calling thread's
// namespace over rtnetlink, so connects fail at once with EHOSTUNREACH. An existing route is
// success. Used inside awsvpc and none task namespaces, where no host rule sees the traffic.
func addUnreachableRoute(dst netip.Addr) error {
	if !dst.Is4() {
		return fmt.Errorf("cni: unreachable route: %s is not IPv4", dst)
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("cni: netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("cni: netlink bind: %w", err)
	}

	const seq = 1
	addr := dst.As4()
	attrLen := unix.SizeofRtAttr + len(addr)
	msgLen := unix.NLMSG_HDRLEN + unix.SizeofRtMsg + attrLen
	b := make([]byte, msgLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(msgLen))
	ne.PutUint16(b[4:], unix.RTM_NEWROUTE)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	ne.PutUint32(b[8:], seq)
	rt := b[unix.NLMSG_HDRLEN:]
	rt[0] = unix.AF_INET           // family
	rt[1] = 32                     // dst_len
	rt[4] = unix.RT_TABLE_MAIN     // table
	rt[5] = unix.RTPROT_STATIC     // protocol
	rt[6] = unix.RT_SCOPE_UNIVERSE // scope, as `ip route add unreachable` sends
	rt[7] = unix.RTN_UNREACHABLE   // type
	at := rt[unix.SizeofRtMsg:]
	ne.PutUint16(at[0:], uint16(attrLen))
	ne.PutUint16(at[2:], unix.RTA_DST)
	copy(at[unix.SizeofRtAttr:], addr[:])

	if err := unix.Sendto(fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("cni: netlink send: %w", err)
	}
	buf := make([]byte, 4096)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("cni: netlink receive: %w", err)
		}
		msgs, err := parseNetlink(buf[:n])
		if err != nil {
			return err
		}
		for _, msg := range msgs {
			if msg.Header.Seq != seq || msg.Header.Type != unix.NLMSG_ERROR {
				continue
			}
			if len(msg.Data) < 4 {
				return fmt.Errorf("cni: short netlink ack")
			}
			errno := -int32(ne.Uint32(msg.Data[:4]))
			if errno == 0 || unix.Errno(errno) == unix.EEXIST {
				return nil
			}
			return fmt.Errorf("cni: add unreachable route %s: %w", dst, unix.Errno(errno))
		}
	}
}

func parseNetlink(b []byte) ([]netlinkMsg, error) {
	var out []netlinkMsg
	ne := binary.NativeEndian
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(ne.Uint32(b[0:]))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return nil, fmt.Errorf("cni: malformed netlink message")
		}
		out = append(out, netlinkMsg{
			Header: unix.NlMsghdr{Len: uint32(l), Type: ne.Uint16(b[4:]), Flags: ne.Uint16(b[6:]), Seq: ne.Uint32(b[8:]), Pid: ne.Uint32(b[12:])},
			Data:   b[unix.NLMSG_HDRLEN:l],
		})
		next := (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
		if next > len(b) {
			break
		}
		b = b[next:]
	}
	return out, nil
}

type netlinkMsg struct {
	Header unix.NlMsghdr
	Data   []byte
}
