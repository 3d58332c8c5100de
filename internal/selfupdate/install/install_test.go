package install

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/ecsd/ecsd/internal/selfupdate/artifact"
	"github.com/ecsd/ecsd/internal/testutil"
)

// fakeArtifact builds a valid amd64 artifact whose binaries differ by tag, and returns it
// with its version ID.
func fakeArtifact(t *testing.T, tag string) ([]byte, string) {
	t.Helper()
	dir := t.TempDir()
	for _, m := range artifact.Members() {
		b := make([]byte, 128)
		copy(b, elf.ELFMAG)
		b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
		binary.LittleEndian.PutUint16(b[16:], uint16(elf.ET_EXEC))
		binary.LittleEndian.PutUint16(b[18:], uint16(elf.EM_X86_64))
		b = append(b, tag...)
		if err := os.WriteFile(filepath.Join(dir, m), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := artifact.Write(&buf, dir); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), hex.EncodeToString(sum[:])[:16]
}

type fixture struct {
	t        *testing.T
	o        Options
	packaged string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	base := t.TempDir()
	f := &fixture{t: t, packaged: filepath.Join(base, "usr", "ecs-agent")}
	if err := os.MkdirAll(filepath.Dir(f.packaged), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.packaged, []byte("packaged v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.o = Options{Root: filepath.Join(base, "root"), UpdateDir: filepath.Join(base, "cache"), PackagedAgent: f.packaged,
		Arch: "amd64", Log: testutil.Logger(t)}
	if err := os.MkdirAll(f.o.UpdateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	return f
}

// ready leaves an artifact as the agent does on PerformUpdate.
func (f *fixture) ready(data []byte) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.o.UpdateDir, ReadyFile), data, 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) prepare() Result {
	f.t.Helper()
	res, err := Prepare(context.Background(), f.o)
	if err != nil {
		f.t.Fatalf("Prepare: %v", err)
	}
	return res
}

// confirm does what the agent does once it is up.
func (f *fixture) confirm(res Result) {
	f.t.Helper()
	if res.TrialFile == "" {
		f.t.Fatal("no trial file to confirm")
	}
	if err := os.Remove(res.TrialFile); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) want(res Result, version string, onTrial bool) {
	f.t.Helper()
	agent := f.packaged
	if version != Packaged {
		agent = filepath.Join(f.o.Root, "versions", version, "ecs-agent")
	}
	if res.Version != version || res.Agent != agent || (res.TrialFile != "") != onTrial {
		f.t.Fatalf("Prepare = %+v, want version %s (%s), on trial %v", res, version, agent, onTrial)
	}
	if _, err := os.Stat(res.Agent); err != nil {
		f.t.Fatalf("the agent to run: %v", err)
	}
}

func (f *fixture) versions() []string {
	f.t.Helper()
	entries, err := os.ReadDir(filepath.Join(f.o.Root, "versions"))
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestNoUpdateRunsThePackagedAgent(t *testing.T) {
	f := newFixture(t)
	f.want(f.prepare(), Packaged, false)
	// A staged update that was never performed is not installed.
	data, _ := fakeArtifact(t, "v2")
	if err := os.WriteFile(filepath.Join(f.o.UpdateDir, StagedFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	f.want(f.prepare(), Packaged, false)
}

func TestInstallConfirmAndRollBack(t *testing.T) {
	f := newFixture(t)
	v2, id2 := fakeArtifact(t, "v2")
	f.ready(v2)
	res := f.prepare()
	f.want(res, id2, true)
	if _, err := os.Stat(filepath.Join(f.o.UpdateDir, ReadyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the ready update is still there after the install: %v", err)
	}
	got, err := os.ReadFile(res.Agent)
	if err != nil || !bytes.HasSuffix(got, []byte("v2")) {
		t.Fatalf("installed ecs-agent: %q, %v", got, err)
	}
	f.confirm(res)
	// Confirmed: it stays, with no trial.
	f.want(f.prepare(), id2, false)

	// v3 never comes up: three starts on trial, then v2 again.
	v3, id3 := fakeArtifact(t, "v3")
	f.ready(v3)
	for i := 0; i < MaxTrialStarts; i++ {
		f.want(f.prepare(), id3, true)
	}
	f.want(f.prepare(), id2, false)
	if v := f.versions(); len(v) != 1 || v[0] != id2 {
		t.Errorf("versions after the rollback: %v, want only %s", v, id2)
	}
	f.want(f.prepare(), id2, false)
}

func TestFirstUpdateRollsBackToThePackage(t *testing.T) {
	f := newFixture(t)
	v2, id2 := fakeArtifact(t, "v2")
	f.ready(v2)
	for i := 0; i < MaxTrialStarts; i++ {
		f.want(f.prepare(), id2, true)
	}
	f.want(f.prepare(), Packaged, false)
	if v := f.versions(); len(v) != 0 {
		t.Errorf("versions after the rollback: %v, want none", v)
	}
}

func TestKeepsTwoVersions(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for _, tag := range []string{"v2", "v3", "v4"} {
		data, id := fakeArtifact(t, tag)
		f.ready(data)
		res := f.prepare()
		f.want(res, id, true)
		f.confirm(res)
		ids = append(ids, id)
	}
	v := f.versions()
	if len(v) != 2 || !(v[0] == ids[1] || v[1] == ids[1]) || !(v[0] == ids[2] || v[1] == ids[2]) {
		t.Errorf("versions %v, want the last two of %v", v, ids)
	}
}

func TestBrokenUpdateKeepsTheCurrentVersion(t *testing.T) {
	f := newFixture(t)
	v2, id2 := fakeArtifact(t, "v2")
	f.ready(v2)
	f.confirm(f.prepare())
	for name, data := range map[string][]byte{
		"not an artifact": []byte("#!/bin/sh\n"),
		"truncated":       v2[:len(v2)/2],
	} {
		f.ready(data)
		f.want(f.prepare(), id2, false)
		if _, err := os.Stat(filepath.Join(f.o.UpdateDir, ReadyFile)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: a broken update is left to be tried again: %v", name, err)
		}
	}
	// The same update again changes nothing.
	f.ready(v2)
	f.want(f.prepare(), id2, false)
}

func TestPackageUpgradeWins(t *testing.T) {
	f := newFixture(t)
	v2, id2 := fakeArtifact(t, "v2")
	f.ready(v2)
	f.confirm(f.prepare())
	f.want(f.prepare(), id2, false)
	// The package manager installs a new ecs-agent: a new file renamed over the old one.
	tmp := f.packaged + ".dpkg-new"
	if err := os.WriteFile(tmp, []byte("packaged v9"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.packaged); err != nil {
		t.Fatal(err)
	}
	f.want(f.prepare(), Packaged, false)
	if v := f.versions(); len(v) != 0 {
		t.Errorf("versions after the package upgrade: %v, want none", v)
	}
}

func TestDamagedVersionRollsBack(t *testing.T) {
	f := newFixture(t)
	v2, id2 := fakeArtifact(t, "v2")
	f.ready(v2)
	f.confirm(f.prepare())
	if err := os.Remove(filepath.Join(f.o.Root, "versions", id2, "ecsd-logger")); err != nil {
		t.Fatal(err)
	}
	f.want(f.prepare(), Packaged, false)
}

func TestDamagedStateRunsThePackage(t *testing.T) {
	f := newFixture(t)
	v2, _ := fakeArtifact(t, "v2")
	f.ready(v2)
	f.confirm(f.prepare())
	if err := os.WriteFile(filepath.Join(f.o.Root, "state.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.want(f.prepare(), Packaged, false)
}
