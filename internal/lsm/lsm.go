// Package lsm probes the host's Linux security modules: whether AppArmor and SELinux are
// enabled and which AppArmor profiles are loaded. The agent applies a container's
// dockerSecurityOptions only where the protection they name exists, and registers the
// matching ECS attributes only then; both questions are answered here, from the kernel's
// own files, so they cannot disagree.
//
// A Host reads below a root directory (normally "/") so tests can point it at a fake
// tree. The package has no mutable package-level state.
package lsm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The kernel's files, relative to the root.
const (
	appArmorEnabledFile  = "sys/module/apparmor/parameters/enabled"
	appArmorProfilesFile = "sys/kernel/security/apparmor/profiles"
	selinuxEnforceFile   = "sys/fs/selinux/enforce"
)

// maxProfilesBytes bounds what is read of the loaded-profiles list: a host with thousands of
// profiles has well under a megabyte of names.
const maxProfilesBytes = 4 << 20

// Host answers questions about one host's security modules.
type Host struct {
	// Root is the directory the kernel's files are read below; "" means "/".
	Root string
}

// Default is the running host.
func Default() Host { return Host{Root: "/"} }

func (h Host) path(rel string) string {
	root := h.Root
	if root == "" {
		root = "/"
	}
	return filepath.Join(root, rel)
}

// AppArmorEnabled reports whether AppArmor is enabled in the kernel and its interface is
// mounted (securityfs), the same test runc makes before it applies a profile.
func (h Host) AppArmorEnabled() bool {
	b, err := os.ReadFile(h.path(appArmorEnabledFile))
	if err != nil || !strings.HasPrefix(strings.TrimSpace(string(b)), "Y") {
		return false
	}
	_, err = os.Stat(h.path(appArmorProfilesFile))
	return err == nil
}

// SELinuxEnabled reports whether SELinux is enabled (selinuxfs mounted), whether enforcing
// or permissive.
func (h Host) SELinuxEnabled() bool {
	_, err := os.Stat(h.path(selinuxEnforceFile))
	return err == nil
}

// ProfileLoaded reports whether the AppArmor profile name is loaded. "unconfined" is no
// profile and counts as loaded wherever AppArmor is enabled. An error means the list could
// not be read (AppArmor off, or not root).
func (h Host) ProfileLoaded(name string) (bool, error) {
	if !h.AppArmorEnabled() {
		return false, errors.New("apparmor is not enabled on this host")
	}
	if name == "unconfined" {
		return true, nil
	}
	f, err := os.Open(h.path(appArmorProfilesFile))
	if err != nil {
		return false, fmt.Errorf("read loaded apparmor profiles: %w", err)
	}
	defer f.Close()
	return profileListed(io.LimitReader(f, maxProfilesBytes), name)
}

// profileListed scans the kernel's profile list, one "NAME (MODE)" per line; names may
// contain spaces, so the mode is cut from the end.
func profileListed(r io.Reader, name string) (bool, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.LastIndex(line, " ("); i >= 0 && strings.HasSuffix(line, ")") {
			line = line[:i]
		}
		if line == name {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("read loaded apparmor profiles: %w", err)
	}
	return false, nil
}
