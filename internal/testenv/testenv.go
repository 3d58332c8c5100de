// Package testenv is the Go side of the ecsd test environment contract set
// up by hack/setup-test-env.sh (run it as root before the tests):
//
//   - a dedicated containerd v2.4.2 on /run/ecsd/containerd/containerd.sock
//     (root /var/lib/ecsd/containerd, overlayfs, io.containerd.runc.v2 with
//     /usr/sbin/runc, CRI disabled);
//   - a plain-HTTP registry without auth on 127.0.0.1:5000;
//   - a plain-HTTP registry with htpasswd basic auth on 127.0.0.1:5001
//     (user "ecsd", password "ecsd-secret");
//   - the images ecsd/busybox:latest and ecsd/busybox:v2 (different digest,
//     /etc/ecsd-version holds "v2") on :5000 and ecsd/busybox:latest on
//     :5001. They contain a static busybox with all applets in /bin, Env
//     PATH=/usr/sbin:/usr/bin:/sbin:/bin, Cmd ["sh"], /etc/passwd with root
//     and nobody (65534), /tmp 1777.
//
// Every value can be overridden with an ECSD_TEST_* environment variable.
// Tests that need the environment fail (never skip) when it is missing, so
// that a broken environment cannot pass as green.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Defaults of the contract; see the package comment.
const (
	DefaultContainerdAddress = "/run/ecsd/containerd/containerd.sock"
	DefaultContainerdRoot    = "/var/lib/ecsd/containerd"
	DefaultRegistry          = "127.0.0.1:5000"
	DefaultAuthRegistry      = "127.0.0.1:5001"
	DefaultAuthUser          = "ecsd"
	DefaultAuthPassword      = "ecsd-secret"

	// BusyboxRepo is the repository of the test images in both registries.
	BusyboxRepo = "ecsd/busybox"

	// SetupHint is appended to failures caused by a missing environment.
	SetupHint = "run hack/setup-test-env.sh as root first"
)

// Environment variables that override the defaults.
const (
	EnvContainerdAddress = "ECSD_TEST_CONTAINERD_ADDRESS"
	EnvContainerdRoot    = "ECSD_TEST_CONTAINERD_ROOT"
	EnvRegistry          = "ECSD_TEST_REGISTRY"
	EnvAuthRegistry      = "ECSD_TEST_AUTH_REGISTRY"
	EnvAuthUser          = "ECSD_TEST_AUTH_USER"
	EnvAuthPassword      = "ECSD_TEST_AUTH_PASSWORD"
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// ContainerdAddress is the unix socket of the test containerd.
func ContainerdAddress() string { return envOr(EnvContainerdAddress, DefaultContainerdAddress) }

// ContainerdRoot is the test containerd's root directory (hack/start-containerd.sh), which
// an agent run in a container mounts, as it mounts /var/lib/containerd on a host.
func ContainerdRoot() string { return envOr(EnvContainerdRoot, DefaultContainerdRoot) }

// Registry is the host:port of the registry without authentication
// (plain HTTP).
func Registry() string { return envOr(EnvRegistry, DefaultRegistry) }

// AuthRegistry is the host:port of the registry that requires HTTP basic
// authentication with AuthUser/AuthPassword (plain HTTP).
func AuthRegistry() string { return envOr(EnvAuthRegistry, DefaultAuthRegistry) }

// AuthUser is the user name accepted by AuthRegistry.
func AuthUser() string { return envOr(EnvAuthUser, DefaultAuthUser) }

// AuthPassword is the password of AuthUser.
func AuthPassword() string { return envOr(EnvAuthPassword, DefaultAuthPassword) }

// BusyboxImage is the reference of the busybox test image in Registry().
func BusyboxImage() string { return Registry() + "/" + BusyboxRepo + ":latest" }

// BusyboxImageV2 is a second tag in Registry() with a different digest from
// BusyboxImage (an extra layer with /etc/ecsd-version containing "v2", and
// the label org.ecsd.test.version=v2).
func BusyboxImageV2() string { return Registry() + "/" + BusyboxRepo + ":v2" }

// CredProbeImage is busybox plus /usr/bin/credprobe (hack/testimages/credprobe), which
// resolves credentials with aws-sdk-go-v2's default chain and GETs metadata URIs.
func CredProbeImage() string { return Registry() + "/ecsd/credprobe:latest" }

// OTelProbeImage is busybox plus /usr/bin/otelprobe (hack/testimages/otelprobe), which runs
// OpenTelemetry's ECS resource detector and prints the resource attributes it finds.
func OTelProbeImage() string { return Registry() + "/ecsd/otelprobe:latest" }

// AuthBusyboxImage is the busybox test image in AuthRegistry(); it has the
// same manifest digest as BusyboxImage.
func AuthBusyboxImage() string { return AuthRegistry() + "/" + BusyboxRepo + ":latest" }

// MissingImage is a reference in Registry() that does not exist.
func MissingImage() string { return Registry() + "/" + BusyboxRepo + ":does-not-exist" }

// RequireRoot fails the test unless it runs as root. It fails rather than
// skips on purpose: a skipped test must not count as a pass.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("test needs root (euid is %d); %s and run the tests as root", os.Geteuid(), SetupHint)
	}
}

// RequireContainerd fails the test unless the test containerd's socket
// accepts connections. It only dials the socket; it does not speak gRPC.
func RequireContainerd(t testing.TB) {
	t.Helper()
	addr := ContainerdAddress()
	conn, err := net.DialTimeout("unix", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("test containerd is not reachable on %s: %v; %s", addr, err, SetupHint)
	}
	conn.Close()
}

// RequireRegistries fails the test unless both test registries answer on
// /v2/ as expected (200 without auth on Registry(), 401 without credentials
// and 200 with them on AuthRegistry()).
func RequireRegistries(t testing.TB) {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	check := func(host, user, password string, want int) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+host+"/v2/", nil)
		if err != nil {
			t.Fatalf("registry %s: %v", host, err)
		}
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("test registry %s is not reachable: %v; %s", host, err, SetupHint)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("test registry %s: GET /v2/ (user %q) answered %s, want %d; %s", host, user, resp.Status, want, SetupHint)
		}
	}
	check(Registry(), "", "", http.StatusOK)
	check(AuthRegistry(), "", "", http.StatusUnauthorized)
	check(AuthRegistry(), AuthUser(), AuthPassword(), http.StatusOK)
}

// UniqueName returns prefix followed by 8 random hex digits, e.g.
// "ecsdt-1a2b3c4d", for containerd namespaces, container ids, network
// namespaces and the like. Keep prefix at most 7 bytes when the name must fit
// a Linux interface name (15 bytes).
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("UniqueName: %v", err)
	}
	return fmt.Sprintf("%s%s", prefix, hex.EncodeToString(b[:]))
}

// MountTmpfs mounts a tmpfs with the given mount options (e.g. "size=1m") on a fresh
// directory and unmounts it when the test ends: a small filesystem a test can fill.
func MountTmpfs(t testing.TB, options string) string {
	t.Helper()
	RequireRoot(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, options); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// FillUp writes a file at path until its filesystem refuses with ENOSPC.
func FillUp(t testing.TB, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatalf("fill %s: %v", path, err)
			}
			return
		}
	}
}

// WaitFor polls cond until it holds, failing the test after 10 s with what it waited for:
// tests wait on conditions, never on sleeps.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
