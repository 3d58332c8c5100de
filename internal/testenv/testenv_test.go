package testenv

import (
	"regexp"
	"testing"
)

func TestUniqueName(t *testing.T) {
	re := regexp.MustCompile(`^ecsd-[0-9a-f]{8}$`)
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		n := UniqueName(t, "ecsd-")
		if !re.MatchString(n) {
			t.Fatalf("UniqueName = %q, want prefix + 8 hex digits", n)
		}
		if seen[n] {
			t.Fatalf("UniqueName returned %q twice", n)
		}
		seen[n] = true
	}
	if n := UniqueName(t, "ns"); len(n) > 15 {
		t.Fatalf("UniqueName(%q) = %q is longer than an interface name may be", "ns", n)
	}
}

func TestContract(t *testing.T) {
	for _, k := range []string{EnvContainerdAddress, EnvRegistry, EnvAuthRegistry, EnvAuthUser, EnvAuthPassword} {
		t.Setenv(k, "")
	}
	checks := map[string][2]string{
		"ContainerdAddress": {ContainerdAddress(), "/run/ecsd/containerd/containerd.sock"},
		"Registry":          {Registry(), "127.0.0.1:5000"},
		"AuthRegistry":      {AuthRegistry(), "127.0.0.1:5001"},
		"AuthUser":          {AuthUser(), "ecsd"},
		"AuthPassword":      {AuthPassword(), "ecsd-secret"},
		"BusyboxImage":      {BusyboxImage(), "127.0.0.1:5000/ecsd/busybox:latest"},
		"BusyboxImageV2":    {BusyboxImageV2(), "127.0.0.1:5000/ecsd/busybox:v2"},
		"AuthBusyboxImage":  {AuthBusyboxImage(), "127.0.0.1:5001/ecsd/busybox:latest"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s() = %q, want %q", name, c[0], c[1])
		}
	}

	t.Setenv(EnvRegistry, "127.0.0.2:6000")
	t.Setenv(EnvContainerdAddress, "/tmp/other.sock")
	if got, want := BusyboxImage(), "127.0.0.2:6000/ecsd/busybox:latest"; got != want {
		t.Errorf("BusyboxImage() with %s set = %q, want %q", EnvRegistry, got, want)
	}
	if got := ContainerdAddress(); got != "/tmp/other.sock" {
		t.Errorf("ContainerdAddress() with %s set = %q", EnvContainerdAddress, got)
	}
}
