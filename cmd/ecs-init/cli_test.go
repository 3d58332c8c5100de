//go:build integration

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandLine checks exit codes (0 ok, 5 terminal, 1 other) and that a failure ends in
// exactly one clear error line. Host commands run inside a namespace: a failure must also
// leave the tables untouched.
func TestCommandLine(t *testing.T) {
	n := newNetns(t)
	seed(t, n)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	before4, before6 := save(t, n, 4), save(t, n, 6)
	quiet := "ECS_LOGLEVEL=none" // leaves the error line alone on stderr

	for _, tc := range []struct {
		name     string
		args     []string
		env      []string
		code     int
		stdout   []string // substrings
		errLine  string   // prefix of the one stderr line; "" for success
		inNetns  bool
		noStderr bool
	}{
		{name: "no command", code: 5, errLine: "ecs-init: no command"},
		{name: "unknown command", args: []string{"bogus"}, code: 5, errLine: `ecs-init: unknown command "bogus"`},
		{name: "version", args: []string{"version"}, stdout: []string{"ecsd ecs-init "}, noStderr: true},
		{name: "--version", args: []string{"--version"}, stdout: []string{"ecsd ecs-init "}, noStderr: true},
		{name: "version with arguments", args: []string{"version", "x"}, code: 5, errLine: "ecs-init: version: takes no arguments"},
		{name: "help", args: []string{"help"}, stdout: []string{"pre-start", "post-stop", "reload-cache", "ECSD_AGENT_IMAGE", "ECS_SKIP_LOCALHOST_TRAFFIC_FILTER", "ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS", "--bridge"}, noStderr: true},
		{name: "-h", args: []string{"-h"}, stdout: []string{"Usage:"}, noStderr: true},
		{name: "pre-start -h", args: []string{"pre-start", "-h"}, stdout: []string{"usage: ecs-init pre-start", "-root"}, noStderr: true},
		{name: "reload-cache without a cache", args: []string{"reload-cache", "--cache-dir", filepath.Join(dir, "cache")}, code: 1, errLine: "ecs-init: reload-cache: no cached agent image in " + filepath.Join(dir, "cache")},
		{name: "reload-cache relative cache", args: []string{"reload-cache", "--cache-dir", "cache"}, code: 5, errLine: `ecs-init: reload-cache: --cache-dir "cache": the path must be absolute`},
		{name: "start -h", args: []string{"start", "-h"}, stdout: []string{"usage: ecs-init start [flags] [-- agent arguments]", "-deps-dir"}, noStderr: true},
		{name: "start extra argument", args: []string{"start", "now"}, code: 5, errLine: `ecs-init: start: unexpected arguments ["now"] (the agent's arguments go after --)`},
		{name: "unknown flag", args: []string{"pre-start", "--bogus"}, code: 5, errLine: "ecs-init: pre-start: flag provided but not defined: -bogus", inNetns: true},
		{name: "extra argument", args: []string{"post-stop", "now"}, code: 5, errLine: `ecs-init: post-stop: unexpected arguments ["now"]`, inNetns: true},
		{name: "bad bridge name", args: []string{"pre-start", "--root", root, "--bridge", "a/b"}, code: 5, errLine: "ecs-init: pre-start: invalid settings: bridge name", inNetns: true},
		{
			name: "missing config file", args: []string{"pre-start", "--root", root},
			env:  []string{"ECSD_CONFIG_FILE=" + filepath.Join(dir, "missing.config")},
			code: 5, errLine: "ecs-init: pre-start: configuration: ECSD_CONFIG_FILE=", inNetns: true,
		},
		{
			name: "fatal config value", args: []string{"pre-start", "--root", root},
			env:  []string{"ECS_INSTANCE_ATTRIBUTES=not-json"},
			code: 5, errLine: "ecs-init: pre-start: configuration: ", inNetns: true,
		},
		{name: "no iptables", args: []string{"pre-start", "--root", root, "--iptables", "/nonexistent/iptables"}, code: 1, errLine: "ecs-init: pre-start: iptables: /nonexistent/iptables", inNetns: true},
		{name: "post-stop without iptables", args: []string{"post-stop", "--iptables", "/nonexistent/iptables"}, code: 1, errLine: "ecs-init: post-stop: iptables: /nonexistent/iptables", inNetns: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := baseEnv(t, dir, append([]string{quiet}, tc.env...)...)
			var res result
			if tc.inNetns {
				res = n.ecsInit(t, env, tc.args...)
			} else {
				res = runCmd(t, env, append([]string{binary}, tc.args...)...)
			}
			if res.code != tc.code {
				t.Errorf("exit %d, want %d\nstderr: %s", res.code, tc.code, res.stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(res.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, res.stdout)
				}
			}
			if tc.noStderr && res.stderr != "" {
				t.Errorf("stderr: %q, want none", res.stderr)
			}
			if tc.errLine != "" {
				lines := strings.SplitAfter(res.stderr, "\n")
				if len(lines) != 2 || lines[1] != "" || !strings.HasPrefix(lines[0], tc.errLine) {
					t.Errorf("stderr: %q, want one line starting with %q", res.stderr, tc.errLine)
				}
			}
		})
	}
	if got4, got6 := save(t, n, 4), save(t, n, 6); got4 != before4 || got6 != before6 {
		t.Errorf("failed commands changed the tables:\n%s%s\nwant:\n%s%s", got4, got6, before4, before6)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("failed pre-starts created directories (%v)", err)
	}
}
