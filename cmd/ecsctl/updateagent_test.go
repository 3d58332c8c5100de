package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecsd/ecsd/internal/selfupdate/artifact"
)

// headerOnlyArtifact writes an update artifact whose members are the first bytes of this
// test binary: ELF executables of this machine as far as the checks read, never run.
func headerOnlyArtifact(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 4096)
	if _, err := io.ReadFull(f, head); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, m := range artifact.Members() {
		if err := os.WriteFile(filepath.Join(dir, m), head, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "ecsd-update.tar.gz")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := artifact.Write(out, dir); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUpdateAgentRefused: update-agent serves the file, asks the local control plane for
// the update, and reports the agent's refusal (this test's agent has updates disabled)
// as its error; bad input is refused before anything is asked.
func TestUpdateAgentRefused(t *testing.T) {
	e := newEnv(t)
	p := newLocalPlane(t)
	art := headerOnlyArtifact(t)

	r := e.ecsctl(t, "update-agent", "--file", art, "--container-instance", p.instance, "--timeout", "30s")
	if r.code != 1 || !strings.Contains(r.err, "error: the agent refused the update: Updates are disabled") {
		t.Fatalf("update-agent: exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
	}
	for _, want := range []string{"serving " + art, "update requested for " + p.instance + " (agent 1.0.0 (test))",
		"agent update status: PENDING", "agent update status: FAILED"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.out)
		}
	}

	notArtifact := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notArtifact, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"update-agent"}, `required flag(s) "file" not set`},
		{[]string{"update-agent", "--file", filepath.Join(t.TempDir(), "missing")}, "no such file"},
		{[]string{"update-agent", "--file", notArtifact}, "not a valid ecsd update artifact: not gzip-compressed"},
		{[]string{"update-agent", "--file", art, "--listen", "0.0.0.0:0"}, "--listen"},
		{[]string{"update-agent", "--file", art, "--timeout", "0s"}, "--timeout must be positive"},
	} {
		r := e.ecsctl(t, tc.args...)
		if r.code != 1 || !strings.Contains(r.err, tc.err) {
			t.Errorf("ecsctl %v: exit %d, stderr %q, want one containing %q", tc.args, r.code, r.err, tc.err)
		}
	}
}
