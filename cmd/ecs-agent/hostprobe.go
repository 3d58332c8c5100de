package main

import (
	"bytes"
	"os"
	"path/filepath"

	"github.com/ecsd/ecsd/internal/capability"
)

// probeHost fills the host facts of the capability table. root is "/" except in tests.
//
// The AppArmor and SELinux answers are a stand-in for the LSM probe of the security
// options feature, which is what decides whether "apparmor:" and "label:" options are
// applied; this function is the one place to call it from. Until then: AppArmor when the
// kernel module says it is enabled, SELinux when selinuxfs is mounted.
func probeHost(root string) capability.Host {
	var h capability.Host
	if b, err := os.ReadFile(filepath.Join(root, "sys/module/apparmor/parameters/enabled")); err == nil {
		h.AppArmor = string(bytes.TrimSpace(b)) == "Y"
	}
	if _, err := os.Stat(filepath.Join(root, "sys/fs/selinux/enforce")); err == nil {
		h.SELinux = true
	}
	return h
}
