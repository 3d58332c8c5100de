//go:build integration

package hostfs

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
)

// TestVolumesMountAdoptUnmount: real tmpfs and bind mounts through mount(8); the same mount
// again is adopted (not stacked), another one at the same place refused, a failed mount
// leaves nothing, and Unmount is idempotent and removes the record.
func TestVolumesMountAdoptUnmount(t *testing.T) {
	testenv.RequireRoot(t)
	ctx := context.Background()
	v := Volumes{}
	dir := t.TempDir()
	target := filepath.Join(dir, "mem")
	mem := runtime.VolumeMount{Type: "tmpfs", Device: "tmpfs", Options: []string{"size=1m"}}
	t.Cleanup(func() { _ = v.Unmount(ctx, target) })
	if err := v.Mount(ctx, target, mem); err != nil {
		t.Fatal(err)
	}
	if err := v.Mount(ctx, target, mem); err != nil {
		t.Fatalf("adopting the same mount: %v", err)
	}
	if n := mountCount(t, target); n != 1 {
		t.Fatalf("%d mounts at %s, want 1", n, target)
	}
	other := mem
	other.Options = []string{"size=2m"}
	if err := v.Mount(ctx, target, other); err == nil || !strings.Contains(err.Error(), "already holds another mount") {
		t.Fatalf("another mount at the same place: %v", err)
	}
	if err := v.Unmount(ctx, target); err != nil {
		t.Fatal(err)
	}
	if n := mountCount(t, target); n != 0 {
		t.Fatalf("%d mounts left", n)
	}
	if _, err := os.Stat(recordPath(target)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("record left: %v", err)
	}
	if err := v.Unmount(ctx, target); err != nil {
		t.Fatalf("second unmount: %v", err)
	}

	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	bind := filepath.Join(dir, "bind")
	t.Cleanup(func() { _ = v.Unmount(ctx, bind) })
	if err := v.Mount(ctx, bind, runtime.VolumeMount{Type: "none", Device: src, Options: []string{"bind"}}); err != nil {
		t.Fatal(err)
	}
	// Same device as its parent: only the mount table tells it is mounted.
	if got, err := os.ReadFile(filepath.Join(bind, "f")); err != nil || string(got) != "x" {
		t.Fatalf("through the bind mount: %q %v", got, err)
	}
	if n := mountCount(t, bind); n != 1 {
		t.Fatalf("%d mounts at %s", n, bind)
	}
	if err := v.Unmount(ctx, bind); err != nil || mountCount(t, bind) != 0 {
		t.Fatalf("unmount bind: %v", err)
	}

	bad := filepath.Join(dir, "bad")
	err := v.Mount(ctx, bad, runtime.VolumeMount{Type: "none", Device: filepath.Join(dir, "missing"), Options: []string{"bind"}})
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("bind of a missing directory: %v", err)
	}
	if _, err := os.Stat(recordPath(bad)); !errors.Is(err, os.ErrNotExist) || mountCount(t, bad) != 0 {
		t.Fatalf("a failed mount left a record or a mount: %v", err)
	}
}

// TestVolumesTLSTunnel: the tunnel made for transit encryption carries bytes to a TLS server
// whose certificate names the file system and chains to the CA; it survives being looked up
// again (an agent restart finds it by its pid file) and stops when asked. A server whose
// certificate names another host gets no traffic through.
func TestVolumesTLSTunnel(t *testing.T) {
	testenv.RequireRoot(t)
	v := Volumes{}
	if _, err := v.stunnelBin(); err != nil {
		t.Fatalf("%v (bash hack/install-deps.sh installs stunnel4)", err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	const name = "fs-0123abcd.efs.us-west-2.amazonaws.com"
	ca := writeTestPKI(t, dir, name)

	// The NFS server stand-in: an echo server behind a stunnel in server mode.
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	tlsPort := freeLoopbackPort(t)
	serverConf := filepath.Join(dir, "server.conf")
	conf := "foreground = yes\npid =\n[nfs]\naccept = 127.0.0.1:" + strconv.Itoa(tlsPort) + "\nconnect = " + echo.Addr().String() +
		"\ncert = " + filepath.Join(dir, "server.pem") + "\nkey = " + filepath.Join(dir, "server.key") + "\n"
	if err := os.WriteFile(serverConf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	bin, _ := v.stunnelBin()
	server := exec.Command(bin, serverConf)
	var serverLog bytes.Buffer
	server.Stdout, server.Stderr = &serverLog, &serverLog
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Process.Kill(); _ = server.Wait() })
	waitListening(t, "127.0.0.1:"+strconv.Itoa(tlsPort))

	target := filepath.Join(dir, "vol")
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	tun := &runtime.TLSTunnel{Connect: "127.0.0.1:" + strconv.Itoa(tlsPort), VerifyName: name, CAFile: ca}
	port, err := v.ensureTunnel(ctx, target, 0, tun)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.stopTunnel(target) })
	if port < tlsPortLow || port > tlsPortHigh {
		t.Errorf("tunnel port %d outside the mount helper's range", port)
	}
	if got := roundTrip(t, port); got != "ping" {
		t.Fatalf("through the tunnel: %q; client log:\n%s\nserver log:\n%s", got, readFile(stunnelLog(target)), serverLog.String())
	}
	pid := tunnelPID(target)
	if pid == 0 {
		t.Fatal("no tunnel pid")
	}
	if again, err := v.ensureTunnel(ctx, target, port, tun); err != nil || again != port || tunnelPID(target) != pid {
		t.Fatalf("looking the tunnel up again: port %d pid %d, %v", again, tunnelPID(target), err)
	}
	v.stopTunnel(target)
	if tunnelPID(target) != 0 || processRunning(pid) {
		t.Fatalf("tunnel %d still running", pid)
	}

	// The certificate names the file system; a tunnel that expects another name refuses it.
	wrong := filepath.Join(dir, "wrong")
	if err := os.MkdirAll(wrong, 0o755); err != nil {
		t.Fatal(err)
	}
	port, err = v.ensureTunnel(ctx, wrong, 0, &runtime.TLSTunnel{Connect: tun.Connect, VerifyName: "fs-99999999.efs.us-west-2.amazonaws.com", CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.stopTunnel(wrong) })
	if got := roundTrip(t, port); got == "ping" {
		t.Fatal("a tunnel verifying another name carried traffic")
	}
}

func roundTrip(t *testing.T, port int) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		return ""
	}
	buf := make([]byte, 4)
	n, _ := io.ReadFull(c, buf)
	return string(buf[:n])
}

func mountCount(t *testing.T, target string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && unescapeMountPath(f[4]) == target {
			n++
		}
	}
	return n
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never listened: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processAlive: pid exists and is not a zombie (a daemon's parent is init, which may reap
// it later).

func readFile(p string) string { b, _ := os.ReadFile(p); return string(b) }

// writeTestPKI writes a CA (returned path) and a server certificate and key for name.
func writeTestPKI(t *testing.T, dir, name string) string {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ecsd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("server.pem", "CERTIFICATE", der)
	write("server.key", "EC PRIVATE KEY", keyDER)
	return write("ca.pem", "CERTIFICATE", caDER)
}
