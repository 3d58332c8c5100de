package main

import (
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

func TestParseImageFlags(t *testing.T) {
	f, err := parseImageFlags("start", nil, io.Discard, true)
	if err != nil || f.cacheDir != defaultCacheDir || f.namespace != defaultImageNamespace || f.depsDir != defaultDepsDir ||
		!slices.Equal(f.agentArgs, []string{"--ecs-init-defaults"}) {
		t.Fatalf("defaults: %+v, %v", f, err)
	}
	f, err = parseImageFlags("start", []string{"--namespace", "n", "--", "--local", "--acs-tasks", "/t"}, io.Discard, true)
	if err != nil || f.namespace != "n" || !slices.Equal(f.agentArgs, []string{"--local", "--acs-tasks", "/t"}) {
		t.Fatalf("agent arguments: %+v, %v", f, err)
	}
	for _, bad := range [][]string{{"now"}, {"--deps-dir", "rel"}, {"--bogus"}} {
		if _, err := parseImageFlags("start", bad, io.Discard, true); err == nil || !isTerminal(err) {
			t.Errorf("start %q: err = %v, want a terminal error", bad, err)
		}
	}
	if _, err := parseImageFlags("reload-cache", []string{"--deps-dir", "/x"}, io.Discard, false); err == nil {
		t.Error("reload-cache accepts --deps-dir")
	}
	if _, err := parseImageFlags("reload-cache", []string{"x"}, io.Discard, false); err == nil {
		t.Error("reload-cache accepts arguments")
	}
}
