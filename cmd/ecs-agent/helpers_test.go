package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"
)

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func TestInstallHelpersCopiesReplacesAndRemoves(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "deps", "ecsd")
	for _, n := range helperNames {
		writeFile(t, filepath.Join(src, n), "v1 "+n, 0o755)
	}
	copied, err := installHelpers(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(copied, helperNames) {
		t.Fatalf("first install copied %v, want %v", copied, helperNames)
	}
	for _, n := range helperNames {
		fi, err := os.Stat(filepath.Join(dst, n))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("%s mode %v, want 0755", n, fi.Mode().Perm())
		}
	}
	before, _ := os.Stat(filepath.Join(dst, loggerName))

	// Same agent again: nothing rewritten (a running shim's logger is left alone).
	if copied, err = installHelpers(src, dst); err != nil || len(copied) != 0 {
		t.Fatalf("second install copied %v (%v), want nothing", copied, err)
	}
	if after, _ := os.Stat(filepath.Join(dst, loggerName)); !os.SameFile(before, after) {
		t.Error("an identical helper was replaced")
	}

	// A new agent: its changed logger replaces the copy; a helper it no longer ships is
	// removed rather than left for it to use.
	writeFile(t, filepath.Join(src, loggerName), "v2 logger", 0o755)
	if err := os.Remove(filepath.Join(src, initName)); err != nil {
		t.Fatal(err)
	}
	if copied, err = installHelpers(src, dst); err != nil || !slices.Equal(copied, []string{loggerName}) {
		t.Fatalf("update copied %v (%v), want only %s", copied, err, loggerName)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, loggerName)); string(b) != "v2 logger" {
		t.Errorf("logger copy holds %q", b)
	}
	if _, err := os.Stat(filepath.Join(dst, initName)); !os.IsNotExist(err) {
		t.Errorf("%s copy still there (%v)", initName, err)
	}
	// No temporary files left behind.
	entries, _ := os.ReadDir(dst)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left %s in the helpers directory", e.Name())
		}
	}
}

func TestCheckHostSees(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "helpers")
	writeFile(t, filepath.Join(dir, loggerName), "logger", 0o755)

	// The host has the very same file at the same path: a hard link stands for the bind
	// mount.
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, loggerName), filepath.Join(host, dir, loggerName)); err != nil {
		t.Fatal(err)
	}
	if err := checkHostSees(host, dir, logr.Discard()); err != nil {
		t.Fatalf("same file: %v", err)
	}

	// The host has a different file there (another directory mounted), or nothing.
	other := t.TempDir()
	writeFile(t, filepath.Join(other, dir, loggerName), "logger", 0o755)
	if err := checkHostSees(other, dir, logr.Discard()); err == nil || !strings.Contains(err.Error(), "same path") {
		t.Fatalf("different file: err = %v", err)
	}
	if err := checkHostSees(t.TempDir(), dir, logr.Discard()); err == nil {
		t.Fatal("missing on the host: no error")
	}

	// The host's root cannot be read: nothing to compare with, not an error.
	if err := checkHostSees(filepath.Join(t.TempDir(), "absent"), dir, logr.Discard()); err != nil {
		t.Fatalf("unreadable host root: %v", err)
	}
}

func TestCheckSharedMounts(t *testing.T) {
	const info = `26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
86 26 254:0 /var/lib/ecs/data /var/lib/ecs/data rw,relatime shared:2 - ext4 /dev/vda rw
87 86 254:0 /var/lib/ecs/data/cni/netns /var/lib/ecs/data/cni/netns rw,relatime shared:3 - ext4 /dev/vda rw
88 26 254:0 /srv/slave /srv/slave rw,relatime shared:4 master:2 - ext4 /dev/vda rw
89 26 254:0 /srv/private /srv/private rw,relatime - ext4 /dev/vda rw
`
	path := filepath.Join(t.TempDir(), "mountinfo")
	writeFile(t, path, info, 0o644)
	if err := checkSharedMounts(path, sharedDirs("/var/lib/ecs/data")); err != nil {
		t.Fatalf("prepared data directory: %v", err)
	}
	for dir, want := range map[string]string{
		"/var/lib/ecs/other": "not a mount point",
		"/srv/slave":         "--rootfs-propagation rshared",
		"/srv/private":       "not a shared mount",
	} {
		if err := checkSharedMounts(path, []string{dir}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", dir, err, want)
		}
	}
	if err := checkSharedMounts(filepath.Join(t.TempDir(), "none"), []string{"/"}); err == nil {
		t.Error("unreadable mountinfo: no error")
	}
}
