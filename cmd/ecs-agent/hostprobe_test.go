package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ecsd/ecsd/internal/capability"
)

func TestProbeHost(t *testing.T) {
	write := func(root, rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	none := t.TempDir()
	both := t.TempDir()
	write(both, "sys/module/apparmor/parameters/enabled", "Y\n")
	write(both, "sys/fs/selinux/enforce", "1\n")
	disabled := t.TempDir()
	write(disabled, "sys/module/apparmor/parameters/enabled", "N\n")
	for name, c := range map[string]struct {
		root string
		want capability.Host
	}{
		"no LSM":            {none, capability.Host{}},
		"AppArmor, SELinux": {both, capability.Host{AppArmor: true, SELinux: true}},
		"AppArmor disabled": {disabled, capability.Host{}},
	} {
		if got := probeHost(c.root); got != c.want {
			t.Errorf("%s: %+v, want %+v", name, got, c.want)
		}
	}
}
