//go:build integration

package peer

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/testenv"
)

// v2Mount is where this host's cgroup v2 hierarchy is mounted (unified or hybrid).
func v2Mount(t *testing.T) string {
	t.Helper()
	for _, m := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		if _, err := os.Stat(filepath.Join(m, "cgroup.procs")); err == nil {
			var st syscall.Statfs_t
			if syscall.Statfs(m, &st) == nil && st.Type == 0x63677270 { // CGROUP2_SUPER_MAGIC
				return m
			}
		}
	}
	t.Fatal("no cgroup v2 hierarchy on this host: the peer check needs one")
	return ""
}

func listen(t *testing.T) (net.Listener, netip.AddrPort) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, ln.Addr().(*net.TCPAddr).AddrPort()
}

// A connection from this process is owned by our uid and sits in our own cgroup.
func TestLookupOwnConnection(t *testing.T) {
	testenv.RequireRoot(t)
	mount := v2Mount(t)
	ln, srv := listen(t)
	c, err := net.Dial("tcp", srv.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	client := s.RemoteAddr().(*net.TCPAddr).AddrPort()
	got, err := Lookup(client, srv)
	if err != nil {
		t.Fatal(err)
	}
	if got.UID != uint32(os.Getuid()) {
		t.Errorf("uid %d, want %d", got.UID, os.Getuid())
	}
	if got.CgroupID == 0 {
		t.Fatal("no cgroup ID reported")
	}
	path, err := CgroupPath(mount, got.CgroupID)
	if err != nil {
		t.Fatal(err)
	}
	if want := ownCgroup(t); path != want {
		t.Errorf("cgroup %q, want our own %q", path, want)
	}
}

// connectFrom starts a process in a new cgroup beneath mount that connects to srv, and
// returns the server's end of that connection and the cgroup's path.
func connectFrom(t *testing.T, mount string, ln net.Listener, srv netip.AddrPort, cred *syscall.Credential) (net.Conn, string) {
	t.Helper()
	name := testenv.UniqueName(t, "ecsd-peer-")
	dir := filepath.Join(mount, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cg, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	cmd := exec.Command("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/"+strconv.Itoa(int(srv.Port()))+"; read -t 30 <&3")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd()), Credential: cred}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = os.Remove(dir)
	})
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, "/" + name
}

// A process in another cgroup (as a host-network task container would be) is told apart.
func TestLookupOtherCgroup(t *testing.T) {
	testenv.RequireRoot(t)
	mount := v2Mount(t)
	ln, srv := listen(t)
	s, want := connectFrom(t, mount, ln, srv, nil)
	got, err := Lookup(s.RemoteAddr().(*net.TCPAddr).AddrPort(), srv)
	if err != nil {
		t.Fatal(err)
	}
	path, err := CgroupPath(mount, got.CgroupID)
	if err != nil {
		t.Fatal(err)
	}
	if path != want {
		t.Errorf("cgroup %q, want %s", path, want)
	}
}

func TestLookupUnknownSocket(t *testing.T) {
	testenv.RequireRoot(t)
	_, srv := listen(t)
	_, err := Lookup(netip.MustParseAddrPort("127.0.0.1:1"), srv)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup of a socket that does not exist: %v, want ErrNotFound", err)
	}
}

func ownCgroup(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
	}
	t.Fatal("no cgroup v2 line in /proc/self/cgroup")
	return ""
}

// HostRoot admits a root process outside the task root and refuses one inside it.
func TestHostRoot(t *testing.T) {
	testenv.RequireRoot(t)
	mount := v2Mount(t)
	ln, srv := listen(t)
	s, cgroup := connectFrom(t, mount, ln, srv, nil)
	client := s.RemoteAddr().(*net.TCPAddr).AddrPort()
	if !(HostRoot{Mount: mount, TaskRoot: "/ecs"}).Allows(client, srv) {
		t.Error("a root process outside the task root was refused")
	}
	if (HostRoot{Mount: mount, TaskRoot: cgroup}).Allows(client, srv) {
		t.Errorf("a process in the task root %s was admitted", cgroup)
	}
	other, _ := connectFrom(t, mount, ln, srv, &syscall.Credential{Uid: 65534, Gid: 65534})
	if (HostRoot{Mount: mount, TaskRoot: "/ecs"}).Allows(other.RemoteAddr().(*net.TCPAddr).AddrPort(), srv) {
		t.Error("a process of another user was admitted")
	}
	if (HostRoot{TaskRoot: "/ecs"}).Allows(client, srv) {
		t.Error("admitted without a cgroup v2 hierarchy to tell tasks apart")
	}
	if (HostRoot{Mount: mount, TaskRoot: "/ecs"}).Allows(netip.MustParseAddrPort("10.0.0.1:1234"), srv) {
		t.Error("admitted a caller that is not on loopback")
	}
}
