//go:build integration && linux

package netns

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("test needs root (network namespaces and mounts); run hack/setup-test-env.sh and the tests as root")
	}
}

// newDir returns a fresh namespace directory that is fully removed (mounts included) after
// the test, even if it fails.
func newDir(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	b := make([]byte, 4)
	rand.Read(b)
	dir := filepath.Join(t.TempDir(), "netns-"+hex.EncodeToString(b))
	t.Cleanup(func() {
		if err := DeleteDir(dir); err != nil {
			t.Errorf("DeleteDir: %v", err)
		}
	})
	return dir
}

func randName() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "ecsdt-" + hex.EncodeToString(b)
}

// loopbackUp brings lo up inside the namespace at path (new namespaces start with it down).
func loopbackUp(t *testing.T, path string) {
	t.Helper()
	err := Do(path, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		ifr, err := unix.NewIfreq("lo")
		if err != nil {
			return err
		}
		if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
			return err
		}
		ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
		return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
	})
	if err != nil {
		t.Fatalf("loopback up: %v", err)
	}
}

func mounted(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && fields[4] == path {
			return true
		}
	}
	return false
}

func TestCreateDelete(t *testing.T) {
	dir := newDir(t)
	name := randName()
	path, err := Create(dir, name)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { Delete(path) })
	if path != filepath.Join(dir, name) {
		t.Fatalf("path = %q", path)
	}
	if ok, err := IsNetNS(path); err != nil || !ok {
		t.Fatalf("IsNetNS = %v, %v", ok, err)
	}
	if !mounted(t, path) {
		t.Fatalf("%s not in mountinfo", path)
	}
	id, err := ID(path)
	if err != nil {
		t.Fatal(err)
	}
	self, err := ID("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if id == self {
		t.Fatalf("new namespace has the process's own ID %d", id)
	}

	// Idempotent: the same namespace is reused.
	again, err := Create(dir, name)
	if err != nil {
		t.Fatalf("second Create: %v", err)
	}
	if id2, _ := ID(again); id2 != id {
		t.Fatalf("second Create made a new namespace: %d != %d", id2, id)
	}

	// Do runs inside it: only lo exists, and Current names it.
	err = Do(path, func() error {
		cur, err := ID(Current())
		if err != nil {
			return err
		}
		if cur != id {
			t.Errorf("inside Do the thread is in %d, want %d", cur, id)
		}
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		if len(ifs) != 1 || ifs[0].Name != "lo" {
			t.Errorf("interfaces inside new namespace = %v, want only lo", ifs)
		}
		return errors.New("fn error")
	})
	if err == nil || err.Error() != "fn error" {
		t.Fatalf("Do returned %v, want fn's error", err)
	}

	if err := Delete(path); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file still there after Delete: %v", err)
	}
	if mounted(t, path) {
		t.Fatalf("%s still mounted", path)
	}
	if err := Delete(path); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if err := Delete(filepath.Join(t.TempDir(), "missing", "x")); err != nil {
		t.Fatalf("Delete in missing dir: %v", err)
	}
}

func TestCreateReusesStaleFile(t *testing.T) {
	dir := newDir(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "stale")
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := Do(path, func() error { return nil }); !errors.Is(err, ErrNotNetNS) {
		t.Fatalf("Do on a plain file = %v, want ErrNotNetNS", err)
	}
	if _, err := Create(dir, "stale"); err != nil {
		t.Fatalf("Create over stale file: %v", err)
	}
	if ok, _ := IsNetNS(path); !ok {
		t.Fatal("stale file not turned into a namespace")
	}
	if _, err := Create(dir, "a/b"); err == nil {
		t.Fatal("Create accepted a name with a slash")
	}
}

func TestListenDial(t *testing.T) {
	dir := newDir(t)
	path, err := Create(dir, randName())
	if err != nil {
		t.Fatal(err)
	}
	loopbackUp(t, path)

	ln, err := Listen(path, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, path, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("Dial inside namespace: %v", err)
	}
	echo(t, c, "hello")

	if _, err := Dial(ctx, path, "tcp", "localhost:80"); err == nil {
		t.Fatal("Dial accepted a host name")
	}

	pc, err := ListenPacket(path, "udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ListenPacket: %v", err)
	}
	defer pc.Close()
	uc, err := Dial(ctx, path, "udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	if _, err := uc.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("UDP read = %q, %v", buf[:n], err)
	}
}

// echo writes msg, half-closes, and expects the same bytes back followed by EOF.
func echo(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != msg {
		t.Fatalf("echo = %q, %v; want %q", got, err, msg)
	}
}

func TestForward(t *testing.T) {
	dir := newDir(t)
	path, err := Create(dir, randName())
	if err != nil {
		t.Fatal(err)
	}
	loopbackUp(t, path)

	// Target in the test process's own namespace, on loopback.
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fwd, err := Forward(ctx, path, "127.0.0.1:0", target.Addr().String())
	if err != nil {
		t.Fatalf("Forward: %v", err)
	}
	defer fwd.Close()

	for i := range 3 {
		c, err := Dial(ctx, path, "tcp", fwd.Addr().String())
		if err != nil {
			t.Fatalf("dial forwarder: %v", err)
		}
		echo(t, c, strings.Repeat("x", 1+i*100000))
	}

	// An open connection is cut by Close, and the listener stops.
	c, err := Dial(ctx, path, "tcp", fwd.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read through forwarder: %v", err)
	}
	fwd.Close()
	if _, err := c.Read(buf); err == nil {
		t.Fatal("connection still open after Close")
	}
	if c2, err := Dial(ctx, path, "tcp", fwd.Addr().String()); err == nil {
		c2.Close()
		t.Fatal("forwarder still accepting after Close")
	}
}

func TestDeleteDir(t *testing.T) {
	dir := newDir(t)
	var paths []string
	for range 2 {
		p, err := Create(dir, randName())
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if err := DeleteDir(dir); err != nil {
		t.Fatalf("DeleteDir: %v", err)
	}
	for _, p := range append(paths, dir) {
		if mounted(t, p) {
			t.Errorf("%s still mounted", p)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dir still there: %v", err)
	}
}
