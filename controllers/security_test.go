package controllers

import (
	"errors"
	"strings"
	"testing"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/lsm"
	"github.com/ecsd/ecsd/runtime"
)

type fakeLSM struct {
	apparmor, selinux bool
	profiles          map[string]bool
	// policyless: SELinux without container contexts in its policy.
	policyless bool
}

func (f fakeLSM) AppArmorEnabled() bool { return f.apparmor }
func (f fakeLSM) SELinuxEnabled() bool  { return f.selinux }
func (f fakeLSM) ProfileLoaded(n string) (bool, error) {
	if !f.apparmor {
		return false, errors.New("apparmor is not enabled")
	}
	return n == "unconfined" || f.profiles[n], nil
}

func (f fakeLSM) SELinuxLabels(seed string, options []string) (string, string, error) {
	if !f.selinux || f.policyless {
		return "", "", lsm.ErrNoContainerPolicy
	}
	p, _ := lsm.ParseContext("system_u:system_r:container_t:s0")
	fc, _ := lsm.ParseContext("system_u:object_r:container_file_t:s0")
	return lsm.ContainerLabels(p, fc, seed, options)
}

func TestApplySecurityOptions(t *testing.T) {
	aa := fakeLSM{apparmor: true, profiles: map[string]bool{"docker-default": true}}
	for _, tc := range []struct {
		name   string
		so     *api.SecurityOptions
		host   HostSecurity
		want   runtime.ContainerConfig
		reason string
	}{
		{name: "none", so: nil, host: nil},
		{name: "no-new-privileges", so: &api.SecurityOptions{NoNewPrivileges: true}, want: runtime.ContainerConfig{NoNewPrivileges: true}},
		{name: "seccomp unconfined", so: &api.SecurityOptions{Seccomp: "unconfined"}, want: runtime.ContainerConfig{SeccompUnconfined: true}},
		{name: "apparmor loaded", so: &api.SecurityOptions{AppArmorProfile: "docker-default"}, host: aa, want: runtime.ContainerConfig{AppArmorProfile: "docker-default"}},
		{name: "apparmor unconfined with apparmor", so: &api.SecurityOptions{AppArmorProfile: "unconfined"}, host: aa, want: runtime.ContainerConfig{AppArmorProfile: "unconfined"}},
		{name: "apparmor unconfined without apparmor", so: &api.SecurityOptions{AppArmorProfile: "unconfined"}},
		{name: "apparmor not loaded", so: &api.SecurityOptions{AppArmorProfile: "mine"}, host: aa, reason: "apparmor:mine: the AppArmor profile is not loaded on this host"},
		{name: "apparmor off", so: &api.SecurityOptions{AppArmorProfile: "docker-default"}, host: fakeLSM{}, reason: "apparmor:docker-default: AppArmor is not enabled on this host"},
		{name: "label disable", so: &api.SecurityOptions{SELinuxLabel: []string{"disable"}}},
		{name: "label without selinux", so: &api.SecurityOptions{SELinuxLabel: []string{"type:spc_t"}}, reason: "label:type:spc_t: SELinux is not enabled on this host"},
		{name: "label with selinux", so: &api.SecurityOptions{SELinuxLabel: []string{"type:spc_t", "level:s0:c1,c2"}}, host: fakeLSM{selinux: true},
			want: runtime.ContainerConfig{SELinuxLabel: "system_u:system_r:spc_t:s0:c1,c2", SELinuxMountLabel: "system_u:object_r:container_file_t:s0:c1,c2"}},
		{name: "label disable with others", so: &api.SecurityOptions{SELinuxLabel: []string{"type:spc_t", "disable"}}, host: fakeLSM{selinux: true}},
		{name: "label without a container policy", so: &api.SecurityOptions{SELinuxLabel: []string{"type:spc_t"}}, host: fakeLSM{selinux: true, policyless: true},
			reason: "label:type:spc_t: the SELinux policy names no container contexts"},
		{name: "bad label option", so: &api.SecurityOptions{SELinuxLabel: []string{"colour:red"}}, host: fakeLSM{selinux: true}, reason: `label option "colour:red"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg runtime.ContainerConfig
			err := applySecurityOptions(tc.so, tc.host, &cfg)
			if tc.reason != "" {
				if !errors.Is(err, errInvalidDefinition) || !strings.Contains(err.Error(), tc.reason) {
					t.Fatalf("err = %v, want a definition error with %q", err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.NoNewPrivileges != tc.want.NoNewPrivileges || cfg.AppArmorProfile != tc.want.AppArmorProfile || cfg.SeccompUnconfined != tc.want.SeccompUnconfined ||
				cfg.SELinuxLabel != tc.want.SELinuxLabel || cfg.SELinuxMountLabel != tc.want.SELinuxMountLabel {
				t.Fatalf("cfg = %+v, want %+v", cfg, tc.want)
			}
		})
	}
}

func TestApplyNamespaceModes(t *testing.T) {
	ns := taskNamespaces{PID: runtime.Namespace{Path: "/proc/9/ns/pid"}, IPC: runtime.Namespace{Path: "/proc/9/ns/ipc"}, ShmPath: "/data/shm"}
	for _, tc := range []struct {
		pid, ipc string
		want     runtime.ContainerConfig
	}{
		{"", "", runtime.ContainerConfig{}},
		{"host", "host", runtime.ContainerConfig{PIDNamespace: runtime.Namespace{Host: true}, IPCNamespace: runtime.Namespace{Host: true}, ShmPath: "/dev/shm"}},
		{"task", "task", runtime.ContainerConfig{PIDNamespace: ns.PID, IPCNamespace: ns.IPC, ShmPath: "/data/shm"}},
		{"task", "none", runtime.ContainerConfig{PIDNamespace: ns.PID, NoShm: true}},
	} {
		task := &api.Task{Spec: api.TaskSpec{PIDMode: tc.pid, IPCMode: tc.ipc}}
		var cfg runtime.ContainerConfig
		applyNamespaceModes(task, ns, &cfg)
		if cfg.PIDNamespace != tc.want.PIDNamespace || cfg.IPCNamespace != tc.want.IPCNamespace || cfg.ShmPath != tc.want.ShmPath || cfg.NoShm != tc.want.NoShm {
			t.Errorf("pid=%q ipc=%q: %+v, want %+v", tc.pid, tc.ipc, cfg, tc.want)
		}
	}
}
