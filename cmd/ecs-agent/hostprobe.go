package main

import (
	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/capability"
	"github.com/ecsd/ecsd/internal/lsm"
)

// probeHost fills the host facts of the capability table from the same probes that decide
// whether a task's options are applied or refused, so that an attribute is registered
// exactly when the feature behind it works here:
//   - AppArmor: the LSM probe that applies "apparmor:PROFILE" (internal/lsm);
//   - SELinux: never, since ecsd applies no SELinux labels ("label:…" options are refused);
//   - NamespaceSharing: ecsd-init was found, which holds pidMode/ipcMode "task" namespaces.
func probeHost(l lsm.Host, initPath string) capability.Host {
	return capability.Host{AppArmor: l.AppArmorEnabled(), NamespaceSharing: initPath != ""}
}

// hostWarnings names the settings that this host makes ineffective: a switch the
// configuration turns on for a protection that is not applied here has no effect, and says
// so once at start like every other ECS_* variable without effect.
func hostWarnings(cfg *config.Config, h capability.Host) []string {
	var w []string
	if cfg.SELinuxCapable.Enabled() {
		w = append(w, "ECS_SELINUX_CAPABLE=true has no effect in ecsd: it applies no SELinux labels (dockerSecurityOptions label:… are refused), so the selinux attribute is never registered")
	}
	if cfg.AppArmorCapable.Enabled() && !h.AppArmor {
		w = append(w, "ECS_APPARMOR_CAPABLE=true has no effect on this host: AppArmor is not enabled, so the apparmor attribute is not registered and apparmor:PROFILE options are refused")
	}
	return w
}
