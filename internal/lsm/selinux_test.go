package lsm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// A Fedora/RHEL/Amazon Linux 2023 host with container-selinux, as its files are.
var targetedHost = map[string]string{
	"etc/selinux/config": "# This file controls the state of SELinux on the system.\nSELINUX=permissive\nSELINUXTYPE=targeted\n",
	"etc/selinux/targeted/contexts/lxc_contexts": "process = \"system_u:system_r:container_t:s0\"\ncontent = \"system_u:object_r:virt_var_lib_t:s0\"\n" +
		"file = \"system_u:object_r:container_file_t:s0\"\nro_file=\"system_u:object_r:container_ro_file_t:s0\"\n",
}

func TestContainerContexts(t *testing.T) {
	p, f, err := Host{Root: writeTree(t, targetedHost)}.ContainerContexts()
	if err != nil || p.String() != "system_u:system_r:container_t:s0" || f.String() != "system_u:object_r:container_file_t:s0" {
		t.Fatalf("contexts %v %v, %v", p, f, err)
	}
	noPolicy := writeTree(t, map[string]string{"etc/selinux/config": "SELINUXTYPE=targeted\n"})
	if _, _, err := (Host{Root: noPolicy}).ContainerContexts(); !errors.Is(err, ErrNoContainerPolicy) {
		t.Fatalf("without lxc_contexts: %v, want ErrNoContainerPolicy", err)
	}
	if _, _, err := (Host{Root: t.TempDir()}).ContainerContexts(); err == nil {
		t.Fatal("no SELinux configuration, yet contexts")
	}
	evil := writeTree(t, map[string]string{"etc/selinux/config": "SELINUXTYPE=../../etc\n"})
	if _, _, err := (Host{Root: evil}).ContainerContexts(); err == nil {
		t.Fatal("a policy type that leaves /etc/selinux was followed")
	}
}

func TestContainerLabels(t *testing.T) {
	p, f, err := Host{Root: writeTree(t, targetedHost)}.ContainerContexts()
	if err != nil {
		t.Fatal(err)
	}
	proc, mount, err := ContainerLabels(p, f, "container-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	level := strings.SplitN(proc, ":", 4)[3]
	if !strings.HasPrefix(proc, "system_u:system_r:container_t:s0:c") || mount != "system_u:object_r:container_file_t:"+level {
		t.Fatalf("labels %q %q: want container_t and container_file_t at one level of two categories", proc, mount)
	}
	var a, b int
	if _, err := fmtSscanf(level, &a, &b); err != nil || a >= b || b >= mcsCategories {
		t.Fatalf("level %q: want s0:cA,cB with A < B < %d (%v)", level, mcsCategories, err)
	}
	again, _, _ := ContainerLabels(p, f, "container-a", nil)
	other, _, _ := ContainerLabels(p, f, "container-b", nil)
	if again != proc || other == proc {
		t.Fatalf("same seed %q vs %q, other seed %q: want stable and distinct", proc, again, other)
	}
	proc, mount, err = ContainerLabels(p, f, "container-a", []string{"user:staff_u", "role:staff_r", "type:spc_t", "level:s0:c100,c200"})
	if err != nil || proc != "staff_u:staff_r:spc_t:s0:c100,c200" || mount != "system_u:object_r:container_file_t:s0:c100,c200" {
		t.Fatalf("with options: %q %q, %v", proc, mount, err)
	}
	for _, bad := range []string{"colour:red", "type:", "user"} {
		if _, _, err := ContainerLabels(p, f, "x", []string{bad}); err == nil {
			t.Errorf("label option %q accepted", bad)
		}
	}
}

func fmtSscanf(level string, a, b *int) (int, error) { return fmt.Sscanf(level, "s0:c%d,c%d", a, b) }
