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
//   - SELinux: SELinux is enabled and its policy names container contexts, from which
//     "label:…" options are applied (lsm.ContainerContexts);
//   - NamespaceSharing: ecsd-init was found, which holds pidMode/ipcMode "task" namespaces;
//   - EFS: the volume mounter can make NFSv4 mounts (runtime/hostfs Volumes.Supports), the
//     check that otherwise stops a task with an EFS volume.
//   - TaskCgroupsUnavailable: the cgroup filesystem lacks the cpu or memory controller
//     (missingControllers, from runtime/cgroups), so task limits could not be set.
func probeHost(l lsm.Host, initPath string, efs bool, missingControllers []string) capability.Host {
	selinux := false
	if l.SELinuxEnabled() {
		_, _, err := l.ContainerContexts()
		selinux = err == nil
	}
	return capability.Host{AppArmor: l.AppArmorEnabled(), SELinux: selinux, NamespaceSharing: initPath != "", EFS: efs,
		TaskCgroupsUnavailable: len(missingControllers) > 0}
}

// hostWarnings names the settings that this host makes ineffective: a switch the
// configuration turns on for a protection that is not applied here has no effect, and says
// so once at start like every other ECS_* variable without effect.
func hostWarnings(cfg *config.Config, h capability.Host) []string {
	var w []string
	if cfg.SELinuxCapable.Enabled() && !h.SELinux {
		w = append(w, "ECS_SELINUX_CAPABLE=true has no effect on this host: SELinux is not enabled or its policy names no container contexts, so the selinux attribute is not registered and label:… options are refused")
	}
	if cfg.AppArmorCapable.Enabled() && !h.AppArmor {
		w = append(w, "ECS_APPARMOR_CAPABLE=true has no effect on this host: AppArmor is not enabled, so the apparmor attribute is not registered and apparmor:PROFILE options are refused")
	}
	if cfg.TaskCPUMemLimit.Enabled() && h.TaskCgroupsUnavailable {
		w = append(w, "ECS_ENABLE_TASK_CPU_MEM_LIMIT has no effect on this host: its cgroup filesystem lacks the cpu or memory controller, so the task-cpu-mem-limit attribute is not registered and a task cgroup limit fails its task")
	}
	return w
}
