package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadCacheStatus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tarball string // "" for none
		state   *string
		want    cacheStatus
		why     string
	}{
		{name: "nothing", want: statusUncached, why: "no such file"},
		{name: "no state file", tarball: "x", want: statusUncached, why: "no such file"},
		{name: "empty tarball", tarball: "", state: ptr("1"), want: statusUncached, why: "no such file"},
		{name: "empty state", tarball: "x", state: ptr(""), want: statusUncached, why: "is empty"},
		{name: "cached", tarball: "x", state: ptr("1"), want: statusCached},
		{name: "reload needed", tarball: "x", state: ptr("2\n"), want: statusReloadNeeded},
		{name: "uncached", tarball: "x", state: ptr("0"), want: statusUncached},
		{name: "garbage", tarball: "x", state: ptr("yes\n"), want: statusUncached, why: `holds "yes", not 0, 1 or 2`},
		{name: "out of range", tarball: "x", state: ptr("7"), want: statusUncached, why: "not 0, 1 or 2"},
		{name: "blank", tarball: "x", state: ptr(" \n"), want: statusUncached, why: "not 0, 1 or 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.tarball != "" {
				if err := os.WriteFile(filepath.Join(dir, cacheTarball), []byte(tc.tarball), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.state != nil {
				if err := os.WriteFile(filepath.Join(dir, cacheStateFile), []byte(*tc.state), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, why := readCacheStatus(dir)
			if got != tc.want || !strings.Contains(why, tc.why) {
				t.Fatalf("readCacheStatus = %d %q, want %d %q", got, why, tc.want, tc.why)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestRecordCached(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, cacheTarball), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, cacheStateFile), []byte("2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := recordCached(dir); err != nil {
		t.Fatal(err)
	}
	if st, why := readCacheStatus(dir); st != statusCached {
		t.Fatalf("after recordCached: %d (%s)", st, why)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("cache dir holds %d entries, want the tarball and the state file", len(entries))
	}
}

// TestStartAndReloadFlags: start's flags (its own, the image's, the agent's arguments after
// --) and reload-cache's, each bad one a terminal error (exit 5).
func TestStartAndReloadFlags(t *testing.T) {
	dir := t.TempDir()
	agent := filepath.Join(dir, "ecs-agent")
	cfgFile := filepath.Join(dir, "ecs.config")
	if err := os.WriteFile(cfgFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		if k == "ECSD_CONFIG_FILE" {
			return cfgFile, true
		}
		return "", false
	}
	base := []string{"--agent", agent, "--versions-dir", filepath.Join(dir, "versions")}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{agent, "--ecs-init-defaults"}},
		{[]string{"--namespace", "n", "--cache-dir", "/c", "--", "--local", "--acs-tasks", "/t"}, []string{agent, "--local", "--acs-tasks", "/t"}},
		{[]string{"--"}, []string{agent, "--ecs-init-defaults"}},
	} {
		plan, err := planStart(context.Background(), append(slices.Clone(base), tc.args...), env, nil, io.Discard, io.Discard)
		if err != nil || !slices.Equal(plan.argv, tc.want) {
			t.Errorf("start %q: argv %q, %v; want %q", tc.args, plan.argv, err, tc.want)
		}
	}
	for _, bad := range [][]string{{"now"}, {"--deps-dir", "rel"}, {"--cache-dir", "rel"}, {"--bogus"}} {
		if _, err := planStart(context.Background(), append(slices.Clone(base), bad...), env, nil, io.Discard, io.Discard); err == nil || !isTerminal(err) {
			t.Errorf("start %q: err = %v, want a terminal error", bad, err)
		}
	}
	f, err := parseReloadFlags([]string{"--namespace", "n"}, io.Discard)
	if err != nil || f.namespace != "n" || f.cacheDir != defaultCacheDir {
		t.Errorf("reload-cache flags: %+v, %v", f, err)
	}
	if _, err := parseReloadFlags([]string{"--deps-dir", "/x"}, io.Discard); err == nil {
		t.Error("reload-cache accepts --deps-dir")
	}
	if _, err := parseReloadFlags([]string{"x"}, io.Discard); err == nil {
		t.Error("reload-cache accepts arguments")
	}
}
