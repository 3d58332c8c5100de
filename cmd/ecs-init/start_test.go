//go:build integration

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ecsd/ecsd/internal/selfupdate/artifact"
	"github.com/ecsd/ecsd/internal/selfupdate/install"
)

// TestStart runs the real `ecs-init start` as systemd does: it executes the package's
// agent with the arguments after --; once an update is ready it installs and executes that
// instead, on trial; a version that never confirms is rolled back after MaxTrialStarts
// starts; a confirmed one stays.
func TestStart(t *testing.T) {
	dir := t.TempDir()
	pkg := filepath.Join(dir, "usr", "libexec", "ecsd")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	// The package's agent: a script saying who it is and what it was given.
	packaged := filepath.Join(pkg, "ecs-agent")
	if err := os.WriteFile(packaged, []byte("#!/bin/sh\necho \"packaged $* trial=$"+install.TrialEnv+"\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The update: real executables of this machine (env(1), which prints the environment
	// it is given), so the artifact checks pass and exec works.
	envBin := "/usr/bin/env"
	upd := filepath.Join(dir, "update")
	if err := os.Mkdir(upd, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(envBin)
	if err != nil {
		t.Skipf("no %s: %v", envBin, err)
	}
	for _, m := range artifact.Members() {
		if err := os.WriteFile(filepath.Join(upd, m), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var art bytes.Buffer
	if err := artifact.Write(&art, upd); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	if err := os.Mkdir(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "agent")
	// The environment carries a stale trial variable: ecs-init must not pass it on.
	env := baseEnv(t, dir, "ECS_UPDATE_DOWNLOAD_DIR="+cache, install.TrialEnv+"=/stale")
	startArgs := []string{binary, "start", "--agent", packaged, "--versions-dir", root}
	// The update's "agent" is env(1): with -u it prints the environment it was given (with
	// no arguments at all, start would give it the unit's --ecs-init-defaults).
	envArgs := append(slices.Clone(startArgs), "--", "-u", "ECSD_UNSET")

	res := runCmd(t, env, append(startArgs, "--", "--ecs-init-defaults", "--loglevel", "debug")...)
	if res.code != 0 || strings.TrimSpace(res.stdout) != "packaged --ecs-init-defaults --loglevel debug trial=" {
		t.Fatalf("start without an update: exit %d, stdout %q, stderr:\n%s", res.code, res.stdout, res.stderr)
	}

	// An update left ready by the agent is installed and run on trial.
	if err := os.WriteFile(filepath.Join(cache, install.ReadyFile), art.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	trialFile := filepath.Join(root, "trial")
	for i := 1; i <= install.MaxTrialStarts; i++ {
		res = runCmd(t, env, envArgs...)
		if res.code != 0 || strings.Contains(res.stdout, "packaged") || !strings.Contains(res.stdout, install.TrialEnv+"="+trialFile+"\n") ||
			strings.Contains(res.stdout, "=/stale") {
			t.Fatalf("start %d with the update: exit %d, stdout %q, stderr:\n%s", i, res.code, res.stdout, res.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(cache, install.ReadyFile)); !os.IsNotExist(err) {
		t.Fatalf("the ready update is still there: %v", err)
	}
	// It never confirmed: rolled back to the package's agent.
	res = runCmd(t, env, append(startArgs, "--", "x")...)
	if res.code != 0 || strings.TrimSpace(res.stdout) != "packaged x trial=" || !strings.Contains(res.stderr, "rolling back") {
		t.Fatalf("start after %d unconfirmed starts: exit %d, stdout %q, stderr:\n%s", install.MaxTrialStarts, res.code, res.stdout, res.stderr)
	}

	// Again, confirmed this time (what the agent does once registered): it stays, off trial.
	if err := os.WriteFile(filepath.Join(cache, install.ReadyFile), art.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if res = runCmd(t, env, envArgs...); res.code != 0 || !strings.Contains(res.stdout, install.TrialEnv+"=") {
		t.Fatalf("start with the update again: exit %d, stdout %q", res.code, res.stdout)
	}
	if err := os.Remove(trialFile); err != nil {
		t.Fatal(err)
	}
	for range install.MaxTrialStarts + 1 {
		res = runCmd(t, env, envArgs...)
		if res.code != 0 || strings.Contains(res.stdout, "packaged") || strings.Contains(res.stdout, install.TrialEnv) {
			t.Fatalf("start of the confirmed update: exit %d, stdout %q, stderr:\n%s", res.code, res.stdout, res.stderr)
		}
	}

	// Usage errors are terminal, with one line.
	res = runCmd(t, env, binary, "start", "--agent", packaged, "--ecs-init-defaults")
	if res.code != 5 || len(res.errorLines()) != 1 || !strings.Contains(res.errorLines()[0], "agent arguments go after --") {
		t.Fatalf("agent flag without --: exit %d, error lines %q", res.code, res.errorLines())
	}
}
