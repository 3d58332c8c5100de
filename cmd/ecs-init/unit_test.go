//go:build integration

package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	unitFile   = "../../packaging/systemd/ecs.service"
	unitReadme = "../../packaging/systemd/README.md"
	installDir = "/usr/libexec/ecsd/"
	// agentPath is where the packages install the agent (its helpers stay in installDir).
	agentPath = "/usr/bin/ecs-agent"
)

// unit is a parsed unit file: section → key → values in file order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, text string) unit {
	t.Helper()
	u := unit{}
	var section string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";"):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			section = l[1 : len(l)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || section == "" {
				t.Fatalf("unit line %q", l)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// words splits every value of a list setting (Wants=, After=, ...) into its items.
func (u unit) words(section, key string) []string {
	var out []string
	for _, v := range u[section][key] {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

// TestUnitFile pins the directives the agent relies on and runs systemd-analyze verify on
// the unit, with its binary paths pointed at built binaries (PID 1 here need not be
// systemd; verify only needs the unit and the executables).
func TestUnitFile(t *testing.T) {
	raw, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	u := parseUnit(t, string(raw))
	exact := map[string]map[string][]string{
		"Service": {
			"Type":                     {"notify"},
			"NotifyAccess":             {"main"},
			"Restart":                  {"always"},
			"RestartPreventExitStatus": {"5"},
			"KillMode":                 {"process"},
			"EnvironmentFile":          {"-/var/lib/ecs/ecs.config", "-/etc/ecs/ecs.config"},
			"ExecStartPre":             {installDir + "ecs-init pre-start"},
			"ExecStart":                {installDir + "ecs-init start --agent " + agentPath + " -- --ecs-init-defaults"},
			"ExecStopPost":             {installDir + "ecs-init post-stop"},
		},
		"Install": {"WantedBy": {"multi-user.target"}},
	}
	for section, keys := range exact {
		for k, want := range keys {
			if got := u[section][k]; !slices.Equal(got, want) {
				t.Errorf("[%s] %s = %q, want %q", section, k, got, want)
			}
		}
	}
	for _, dep := range []struct{ key, unit string }{
		{"Wants", "containerd.service"}, {"After", "containerd.service"}, {"After", "network-online.target"},
	} {
		if !slices.Contains(u.words("Unit", dep.key), dep.unit) {
			t.Errorf("[Unit] %s lacks %s", dep.key, dep.unit)
		}
	}
	durations := []struct {
		key      string
		min, max time.Duration
	}{
		{"RestartSec", time.Second, 30 * time.Second},
		{"TimeoutStartSec", 5 * time.Minute, time.Hour},
		// The agent pings every half of it; long enough that a loaded host's slow check
		// does not restart a healthy agent, short enough that a wedged one is not left.
		{"WatchdogSec", time.Minute, 10 * time.Minute},
	}
	for _, d := range durations {
		v := u["Service"][d.key]
		got, err := time.ParseDuration(strings.Replace(strings.Join(v, ""), "min", "m", 1))
		if len(v) != 1 || err != nil || got < d.min || got > d.max {
			t.Errorf("[Service] %s = %q, want one value within [%v, %v]", d.key, v, d.min, d.max)
		}
	}
	if len(u["Service"]["LimitNOFILE"]) != 1 {
		t.Errorf("[Service] LimitNOFILE = %q, want one value", u["Service"]["LimitNOFILE"])
	}

	// The install notes must name the same paths as the unit.
	readme, err := os.ReadFile(unitReadme)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{installDir + "ecs-init", agentPath, "/etc/systemd/system/ecs.service"} {
		if !strings.Contains(string(readme), p) {
			t.Errorf("%s does not mention %s", unitReadme, p)
		}
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "bin") + "/"
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ecs-init", "ecs-agent"} {
		// The real ecs-init; any executable will do as the agent, verify does not run it.
		if err := os.Symlink(binary, bin+name); err != nil {
			t.Fatal(err)
		}
	}
	testUnit := strings.ReplaceAll(strings.ReplaceAll(string(raw), agentPath, bin+"ecs-agent"), installDir, bin)
	if out, ok := verify(t, dir, testUnit); !ok || out != "" {
		t.Errorf("systemd-analyze verify reports problems:\n%s", out)
	}

	// Control: the same check does catch a broken unit here.
	broken := strings.Replace(testUnit, "KillMode=process", "KillMode=process\nNoSuchDirective=1", 1)
	broken = strings.Replace(broken, bin+"ecs-init start", bin+"missing-init start", 1)
	if out, ok := verify(t, dir, broken); ok && out == "" {
		t.Error("systemd-analyze verify accepted a unit with an unknown directive and a missing binary")
	}
}

// verify writes text as ecs.service in a fresh directory below dir and runs
// systemd-analyze verify on it. It returns the combined output and whether it exited 0.
func verify(t *testing.T, dir, text string) (string, bool) {
	t.Helper()
	sub, err := os.MkdirTemp(dir, "unit-")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sub, "ecs.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("systemd-analyze", "verify", "--man=no", path)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if execErr := (*exec.Error)(nil); errors.As(err, &execErr) {
		t.Fatalf("systemd-analyze: %v (install systemd)", err)
	}
	return strings.TrimSpace(string(out)), err == nil
}
