// Package peer tells who is at the other end of a TCP connection made on this host: the
// owner uid and the cgroup (v2) of the client's socket, as the kernel's sock_diag reports
// them. The agent uses it to tell a root process on the host from a task container that
// shares the host's network namespace: both connect from 127.0.0.1, only the cgroup differs.
package peer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Socket is what the kernel knows of the client's socket.
type Socket struct {
	// UID owns the socket (the creating process's fsuid).
	UID uint32
	// CgroupID is the cgroup v2 the socket was created in; 0 when the kernel does not say
	// (no cgroup socket data, or a kernel older than 5.7).
	CgroupID uint64
}

// ErrNotFound means no socket on this host has that address pair: the client is not on
// this host, or not in this network namespace.
var ErrNotFound = errors.New("no such socket on this host")

// Netlink wire constants (linux/inet_diag.h, linux/sock_diag.h).
const (
	sockDiagByFamily = 20
	inetDiagCgroupID = 21
	reqLen           = 56 // struct inet_diag_req_v2
	msgLen           = 72 // struct inet_diag_msg
	tcpAllStates     = 0xffffffff
)

// Lookup returns the socket whose local address is client and whose peer is server, both
// as a server sees a connection (client is its remote address, server its local one).
func Lookup(client, server netip.AddrPort) (Socket, error) {
	client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	server = netip.AddrPortFrom(server.Addr().Unmap(), server.Port())
	if client.Addr().Is4() != server.Addr().Is4() {
		return Socket{}, fmt.Errorf("peer: %s and %s are of different families", client, server)
	}
	family := uint8(unix.AF_INET6)
	if client.Addr().Is4() {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return Socket{}, fmt.Errorf("peer: sock_diag socket: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 1}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Sendto(fd, request(family, client, server), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return Socket{}, fmt.Errorf("peer: sock_diag request: %w", err)
	}
	buf := make([]byte, 8192)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return Socket{}, fmt.Errorf("peer: sock_diag reply: %w", err)
	}
	return parse(buf[:n])
}

// request is one exact-match SOCK_DIAG_BY_FAMILY request for the TCP socket at client.
func request(family uint8, client, server netip.AddrPort) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN+reqLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], sockDiagByFamily)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	r := b[unix.NLMSG_HDRLEN:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	ne.PutUint32(r[4:], tcpAllStates)
	id := r[8:]
	binary.BigEndian.PutUint16(id[0:], client.Port())
	binary.BigEndian.PutUint16(id[2:], server.Port())
	putAddr(id[4:20], client.Addr())
	putAddr(id[20:36], server.Addr())
	// idiag_if 0; the cookie INET_DIAG_NOCOOKIE asks for a lookup by address alone.
	ne.PutUint32(id[40:], 0xffffffff)
	ne.PutUint32(id[44:], 0xffffffff)
	return b
}

func putAddr(dst []byte, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		copy(dst, v[:])
		return
	}
	v := a.As16()
	copy(dst, v[:])
}

// parse reads the reply: one inet_diag_msg with attributes, or an error message.
func parse(b []byte) (Socket, error) {
	if len(b) < unix.NLMSG_HDRLEN {
		return Socket{}, errors.New("peer: short sock_diag reply")
	}
	ne := binary.NativeEndian
	l := int(ne.Uint32(b[0:]))
	typ := ne.Uint16(b[4:])
	if l > len(b) || l < unix.NLMSG_HDRLEN {
		return Socket{}, errors.New("peer: malformed sock_diag reply")
	}
	body := b[unix.NLMSG_HDRLEN:l]
	if typ == unix.NLMSG_ERROR {
		if len(body) < 4 {
			return Socket{}, errors.New("peer: malformed sock_diag error")
		}
		errno := unix.Errno(-int32(ne.Uint32(body)))
		if errno == unix.ENOENT {
			return Socket{}, ErrNotFound
		}
		return Socket{}, fmt.Errorf("peer: sock_diag: %w", errno)
	}
	if typ != sockDiagByFamily || len(body) < msgLen {
		return Socket{}, fmt.Errorf("peer: unexpected sock_diag reply type %d", typ)
	}
	s := Socket{UID: ne.Uint32(body[64:])}
	for attrs := body[msgLen:]; len(attrs) >= unix.SizeofRtAttr; {
		alen := int(ne.Uint16(attrs[0:]))
		atyp := ne.Uint16(attrs[2:])
		if alen < unix.SizeofRtAttr || alen > len(attrs) {
			break
		}
		if atyp == inetDiagCgroupID && alen >= unix.SizeofRtAttr+8 {
			s.CgroupID = ne.Uint64(attrs[unix.SizeofRtAttr:])
		}
		next := (alen + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1)
		if next > len(attrs) {
			break
		}
		attrs = attrs[next:]
	}
	return s, nil
}

// CgroupPath returns the path, relative to the cgroup v2 hierarchy mounted at mount, of the
// cgroup with id (e.g. "/ecs/<task>/<container>"). It opens the cgroup by its kernfs file
// handle, which needs CAP_DAC_READ_SEARCH, as systemd does to name a cgroup ID.
func CgroupPath(mount string, id uint64) (string, error) {
	m, err := unix.Open(mount, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("peer: open %s: %w", mount, err)
	}
	defer unix.Close(m)
	var h [8]byte
	binary.NativeEndian.PutUint64(h[:], id)
	const fileIDKernfs = 0xfe
	fd, err := unix.OpenByHandleAt(m, unix.NewFileHandle(fileIDKernfs, h[:]), unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return "", fmt.Errorf("peer: open cgroup %d: %w", id, err)
	}
	defer unix.Close(fd)
	full, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return "", fmt.Errorf("peer: name cgroup %d: %w", id, err)
	}
	rel, ok := strings.CutPrefix(full, filepath.Clean(mount))
	if !ok {
		return "", fmt.Errorf("peer: cgroup %d is at %s, outside %s", id, full, mount)
	}
	if rel == "" {
		rel = "/"
	}
	return rel, nil
}

// HostRoot tells a root process on the host from everything else that reaches a server on
// this host: a task container (even a host-network one running as root, whose socket sits
// in a cgroup beneath TaskRoot), another user, or a remote client.
type HostRoot struct {
	// Mount is where the cgroup v2 hierarchy is mounted; "" (a host without one) means no
	// caller can be told apart from a task, so none is a host root caller.
	Mount string
	// TaskRoot is the cgroup (relative to Mount, e.g. "/ecs") every task container is in.
	TaskRoot string
}

// Allows reports whether the connection from client to server (as the server sees them)
// was made by a root process on this host outside TaskRoot. Any doubt answers false.
func (h HostRoot) Allows(client, server netip.AddrPort) bool {
	if h.Mount == "" || h.TaskRoot == "" || !client.Addr().Unmap().IsLoopback() {
		return false
	}
	s, err := Lookup(client, server)
	if err != nil || s.UID != 0 || s.CgroupID == 0 {
		return false
	}
	path, err := CgroupPath(h.Mount, s.CgroupID)
	if err != nil {
		return false
	}
	root := filepath.Clean("/" + h.TaskRoot)
	return path != root && !strings.HasPrefix(path, root+"/")
}
