package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/capability"
	"github.com/ecsd/ecsd/internal/lsm"
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
	write(both, "sys/kernel/security/apparmor/profiles", "docker-default (enforce)\n")
	write(both, "sys/fs/selinux/enforce", "1\n")
	write(both, "etc/selinux/config", "SELINUXTYPE=targeted\n")
	write(both, "etc/selinux/targeted/contexts/lxc_contexts", "process = \"system_u:system_r:container_t:s0\"\nfile = \"system_u:object_r:container_file_t:s0\"\n")
	nopolicy := t.TempDir()
	write(nopolicy, "sys/fs/selinux/enforce", "1\n")
	disabled := t.TempDir()
	write(disabled, "sys/module/apparmor/parameters/enabled", "N\n")
	for name, c := range map[string]struct {
		root, init string
		want       capability.Host
	}{
		"no LSM, no init":         {none, "", capability.Host{}},
		"AppArmor, SELinux, init": {both, "/usr/libexec/ecsd/ecsd-init", capability.Host{AppArmor: true, SELinux: true, NamespaceSharing: true}},
		// SELinux without container-selinux: no label to apply, not claimed.
		"SELinux without a container policy": {nopolicy, "", capability.Host{}},
		"AppArmor disabled":                  {disabled, "", capability.Host{}},
	} {
		if got := probeHost(lsm.Host{Root: c.root}, c.init, false, nil); got != c.want {
			t.Errorf("%s: %+v, want %+v", name, got, c.want)
		}
	}
	if got := probeHost(lsm.Host{Root: none}, "", true, nil); !got.EFS {
		t.Errorf("a host that can mount NFS: %+v, want EFS", got)
	}
}

func TestHostWarnings(t *testing.T) {
	cfg := &config.Config{}
	if w := hostWarnings(cfg, capability.Host{}); len(w) != 0 {
		t.Fatalf("nothing switched on, yet warnings %q", w)
	}
	cfg.SELinuxCapable, cfg.AppArmorCapable = config.BooleanDefaultFalse{Value: config.ExplicitlyEnabled}, config.BooleanDefaultFalse{Value: config.ExplicitlyEnabled}
	w := hostWarnings(cfg, capability.Host{})
	if len(w) != 2 || !strings.HasPrefix(w[0], "ECS_SELINUX_CAPABLE") || !strings.HasPrefix(w[1], "ECS_APPARMOR_CAPABLE") {
		t.Fatalf("warnings %q, want one for each switch", w)
	}
	if w := hostWarnings(cfg, capability.Host{AppArmor: true}); len(w) != 1 {
		t.Fatalf("AppArmor applied, yet warnings %q", w)
	}
	if w := hostWarnings(cfg, capability.Host{AppArmor: true, SELinux: true}); len(w) != 0 {
		t.Fatalf("both applied, yet warnings %q", w)
	}
	if h := probeHost(lsm.Host{Root: t.TempDir()}, "", false, []string{"memory"}); !h.TaskCgroupsUnavailable {
		t.Fatalf("no memory controller, yet task cgroups claimed: %+v", h)
	}
	cfg.TaskCPUMemLimit = config.BooleanDefaultTrue{Value: config.ExplicitlyEnabled}
	w = hostWarnings(cfg, capability.Host{AppArmor: true, SELinux: true, TaskCgroupsUnavailable: true})
	if len(w) != 1 || !strings.HasPrefix(w[0], "ECS_ENABLE_TASK_CPU_MEM_LIMIT has no effect") {
		t.Fatalf("task cgroups unavailable: warnings %q, want one saying so", w)
	}
}
