package lsm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAppArmor(t *testing.T) {
	root := t.TempDir()
	h := Host{Root: root}
	if h.AppArmorEnabled() {
		t.Fatal("empty tree: AppArmor reported enabled")
	}
	if _, err := h.ProfileLoaded("docker-default"); err == nil {
		t.Fatal("ProfileLoaded without AppArmor: want an error")
	}
	write(t, root, appArmorEnabledFile, "N\n")
	write(t, root, appArmorProfilesFile, "")
	if h.AppArmorEnabled() {
		t.Fatal("enabled=N: AppArmor reported enabled")
	}
	write(t, root, appArmorEnabledFile, "Y\n")
	write(t, root, appArmorProfilesFile, "docker-default (enforce)\n/usr/bin/man (enforce)\nmy profile (complain)\n")
	if !h.AppArmorEnabled() {
		t.Fatal("enabled=Y with profiles: AppArmor reported disabled")
	}
	for name, want := range map[string]bool{
		"docker-default": true, "/usr/bin/man": true, "my profile": true, "unconfined": true,
		"docker": false, "enforce": false, "": false,
	} {
		got, err := h.ProfileLoaded(name)
		if err != nil || got != want {
			t.Errorf("ProfileLoaded(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
}

func TestProfileListedLongLine(t *testing.T) {
	// A line longer than the scanner's bound is an error, not a silent miss.
	if _, err := profileListed(strings.NewReader(strings.Repeat("x", 70<<10)+"\n"), "x"); err == nil {
		t.Fatal("want an error for an over-long line")
	}
}

func TestSELinux(t *testing.T) {
	root := t.TempDir()
	h := Host{Root: root}
	if h.SELinuxEnabled() {
		t.Fatal("empty tree: SELinux reported enabled")
	}
	write(t, root, selinuxEnforceFile, "0\n")
	if !h.SELinuxEnabled() {
		t.Fatal("selinuxfs present: SELinux reported disabled")
	}
}

// TestThisHost only documents what the probe says here; it cannot fail on any host.
func TestThisHost(t *testing.T) {
	h := Default()
	t.Logf("apparmor=%v selinux=%v", h.AppArmorEnabled(), h.SELinuxEnabled())
}
