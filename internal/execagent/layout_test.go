package execagent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// install makes a layout under root: each version with the binaries named (mode 0755, or
// 0644 for a name ending in "-"), then config/ and the certificate bundle when asked.
func install(t *testing.T, root string, versions map[string][]string, config, cert bool) {
	t.Helper()
	for v, bins := range versions {
		dir := filepath.Join(root, "bin", v)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, b := range bins {
			mode := os.FileMode(0o755)
			if n, ok := strings.CutSuffix(b, "-"); ok {
				b, mode = n, 0o644
			}
			if err := os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\n"), mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	if config {
		if err := os.MkdirAll(filepath.Join(root, "config"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if cert {
		if err := os.MkdirAll(filepath.Join(root, "certs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "certs", "tls-ca-bundle.pem"), []byte("pem"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var all = []string{SSMAgentBin, SSMAgentWorker, SSMSessionWorker}

func TestFind(t *testing.T) {
	for _, c := range []struct {
		name          string
		versions      map[string][]string
		config, cert  bool
		want, errWant string
	}{
		{name: "nothing", errWant: "no such file"},
		{name: "one version", versions: map[string][]string{"3.2.582.0": all}, config: true, cert: true, want: "3.2.582.0"},
		{name: "newest numerically", versions: map[string][]string{"3.2.582.0": all, "3.10.1.0": all, "3.9.9.9": all}, config: true, cert: true, want: "3.10.1.0"},
		{name: "newest incomplete falls back", versions: map[string][]string{"3.1.0.0": all, "3.2.0.0": {SSMAgentBin, SSMAgentWorker}}, config: true, cert: true, want: "3.1.0.0"},
		{name: "not executable falls back", versions: map[string][]string{"3.1.0.0": all, "3.2.0.0": {SSMAgentBin + "-", SSMAgentWorker, SSMSessionWorker}}, config: true, cert: true, want: "3.1.0.0"},
		{name: "no complete version", versions: map[string][]string{"3.2.0.0": {SSMAgentBin}}, config: true, cert: true, errWant: "3.2.0.0 lacks ssm-agent-worker"},
		{name: "not a version", versions: map[string][]string{"latest": all}, config: true, cert: true, errWant: "no version directory"},
		{name: "no config dir", versions: map[string][]string{"3.2.0.0": all}, cert: true, errWant: "no directory"},
		{name: "no certificates", versions: map[string][]string{"3.2.0.0": all}, config: true, errWant: "no certificate bundle"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			install(t, root, c.versions, c.config, c.cert)
			l, err := Find(root)
			if c.errWant != "" {
				if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), c.errWant) {
					t.Fatalf("Find: %v, want ErrNotInstalled saying %q", err, c.errWant)
				}
				return
			}
			if err != nil || l.Version != c.want || l.BinDir != filepath.Join(root, "bin", c.want) {
				t.Fatalf("Find = %+v, %v; want version %s", l, err, c.want)
			}
		})
	}
}

func TestDepsDirAndMounts(t *testing.T) {
	if got := DepsDir("/var/lib/ecs/data/"); got != "/var/lib/ecs/deps/execute-command" {
		t.Errorf("DepsDir = %s", got)
	}
	l := Layout{BinDir: "/d/bin/1.0", ConfigDir: "/d/config", CertFile: "/d/certs/tls-ca-bundle.pem"}
	m := l.Mounts("u1", "amazon-ssm-agent-h.json", "seelog-h.xml", "/var/log/ecs/exec/t/app")
	want := []Mount{
		{"/d/bin/1.0/amazon-ssm-agent", "/ecs-execute-command-u1/amazon-ssm-agent", true},
		{"/d/bin/1.0/ssm-agent-worker", "/ecs-execute-command-u1/ssm-agent-worker", true},
		{"/d/bin/1.0/ssm-session-worker", "/ecs-execute-command-u1/ssm-session-worker", true},
		{"/d/config/amazon-ssm-agent-h.json", "/ecs-execute-command-u1/configuration/amazon-ssm-agent.json", true},
		{"/d/config/seelog-h.xml", "/ecs-execute-command-u1/configuration/seelog.xml", true},
		{"/d/certs/tls-ca-bundle.pem", "/ecs-execute-command-u1/certs/amazon-ssm-agent.crt", true},
		{"/var/log/ecs/exec/t/app", "/var/log/amazon/ssm", false},
	}
	if len(m) != len(want) {
		t.Fatalf("Mounts = %+v", m)
	}
	for i := range want {
		if m[i] != want[i] {
			t.Errorf("mount %d = %+v, want %+v", i, m[i], want[i])
		}
	}
	if AgentPath("u1") != "/ecs-execute-command-u1/amazon-ssm-agent" {
		t.Errorf("AgentPath = %s", AgentPath("u1"))
	}
}
