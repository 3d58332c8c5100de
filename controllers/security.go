package controllers

import (
	"fmt"
	"slices"
	"strings"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// HostSecurity says what the host's Linux security modules can apply; internal/lsm's Host
// implements it. The agent registers the AppArmor attribute from the same answers, so what
// it advertises and what it applies cannot disagree.
type HostSecurity interface {
	AppArmorEnabled() bool
	SELinuxEnabled() bool
	ProfileLoaded(name string) (bool, error)
	// SELinuxLabels returns the process and mount labels of the container seed (its
	// runtime ID) with the label options on top of the policy's container contexts.
	SELinuxLabels(seed string, options []string) (process, mount string, err error)
}

// noLSM is a host without AppArmor or SELinux: the answer when no HostSecurity is set.
type noLSM struct{}

func (noLSM) AppArmorEnabled() bool              { return false }
func (noLSM) SELinuxEnabled() bool               { return false }
func (noLSM) ProfileLoaded(string) (bool, error) { return false, fmt.Errorf("apparmor is not enabled") }
func (noLSM) SELinuxLabels(string, []string) (string, string, error) {
	return "", "", fmt.Errorf("selinux is not enabled")
}

// applySecurityOptions turns the container's dockerSecurityOptions into runtime settings.
// An option this host cannot apply is a definition error naming the option and why: the
// container is stopped with that reason instead of running less protected than asked.
// Asking for no confinement ("apparmor:unconfined", "label:disable") is met on any host.
func applySecurityOptions(so *api.SecurityOptions, host HostSecurity, cfg *runtime.ContainerConfig) error {
	if so == nil {
		return nil
	}
	if host == nil {
		host = noLSM{}
	}
	cfg.NoNewPrivileges = so.NoNewPrivileges
	switch p := so.AppArmorProfile; {
	case p == "":
	case !host.AppArmorEnabled():
		if p != "unconfined" {
			return fmt.Errorf("%w: dockerSecurityOptions apparmor:%s: AppArmor is not enabled on this host", errInvalidDefinition, p)
		}
	default:
		loaded, err := host.ProfileLoaded(p)
		if err != nil {
			return fmt.Errorf("%w: dockerSecurityOptions apparmor:%s: %v", errInvalidDefinition, p, err)
		}
		if !loaded {
			return fmt.Errorf("%w: dockerSecurityOptions apparmor:%s: the AppArmor profile is not loaded on this host", errInvalidDefinition, p)
		}
		cfg.AppArmorProfile = p
	}
	if err := applySELinuxLabels(so.SELinuxLabel, host, cfg); err != nil {
		return err
	}
	cfg.SeccompUnconfined = so.Seccomp == "unconfined"
	return nil
}

// applySELinuxLabels labels the container as Docker does when its definition asks for
// labels: the policy's container contexts (container_t, container_file_t) at a level of
// two categories of its own, with the options on top. "label:disable" (alone or with
// others) keeps it unlabelled, which is what a container without label options gets. On a
// host without SELinux, or whose policy has no container contexts, the options are refused.
func applySELinuxLabels(options []string, host HostSecurity, cfg *runtime.ContainerConfig) error {
	if len(options) == 0 || slices.Contains(options, "disable") {
		return nil
	}
	shown := "label:" + strings.Join(options, ",label:")
	if !host.SELinuxEnabled() {
		return fmt.Errorf("%w: dockerSecurityOptions %s: SELinux is not enabled on this host", errInvalidDefinition, shown)
	}
	process, mount, err := host.SELinuxLabels(cfg.ID, options)
	if err != nil {
		return fmt.Errorf("%w: dockerSecurityOptions %s: %v", errInvalidDefinition, shown, err)
	}
	cfg.SELinuxLabel, cfg.SELinuxMountLabel = process, mount
	return nil
}

// applyNamespaceModes applies the task's pidMode and ipcMode. "host" is the machine's
// namespace (the agent never runs in another PID or IPC namespace than containerd, unlike
// its network namespace in tests); "task" is the one the task's holder keeps (ns); ipcMode
// "none" is a private IPC namespace without /dev/shm, as Docker's.
func applyNamespaceModes(t *api.Task, ns taskNamespaces, cfg *runtime.ContainerConfig) {
	switch t.Spec.PIDMode {
	case "host":
		cfg.PIDNamespace = runtime.Namespace{Host: true}
	case "task":
		cfg.PIDNamespace = ns.PID
	}
	switch t.Spec.IPCMode {
	case "host":
		cfg.IPCNamespace = runtime.Namespace{Host: true}
		cfg.ShmPath = "/dev/shm"
	case "task":
		cfg.IPCNamespace = ns.IPC
		cfg.ShmPath = ns.ShmPath
	case "none":
		cfg.NoShm = true
	}
}
