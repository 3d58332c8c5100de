package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeELF is the start of an ELF file of the given class, type and machine followed by
// some bytes: all Check reads of a member.
func fakeELF(class elf.Class, typ elf.Type, m elf.Machine) []byte {
	b := make([]byte, 256)
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS] = byte(class)
	b[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	b[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	binary.LittleEndian.PutUint16(b[16:], uint16(typ))
	binary.LittleEndian.PutUint16(b[18:], uint16(m))
	return b
}

// exe is a valid member for amd64.
func exe() []byte { return fakeELF(elf.ELFCLASS64, elf.ET_EXEC, elf.EM_X86_64) }

type entry struct {
	name string
	typ  byte
	data []byte
}

func build(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o755, Size: int64(len(e.data))}
		if typ != tar.TypeReg {
			hdr.Size = 0
			hdr.Linkname = "ecs-agent"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func complete(prefix string) []entry {
	var out []entry
	for _, m := range Members() {
		out = append(out, entry{name: prefix + m, data: exe()})
	}
	return out
}

func TestCheck(t *testing.T) {
	without := func(name string) []entry {
		var out []entry
		for _, e := range complete("") {
			if e.name != name {
				out = append(out, e)
			}
		}
		return out
	}
	replace := func(name string, e entry) []entry {
		out := without(name)
		return append(out, e)
	}
	tests := []struct {
		name    string
		data    []byte
		arch    string
		wantErr string // "" for valid, "*" for any ErrInvalid
	}{
		{"valid", build(t, complete("")...), "amd64", ""},
		{"valid with ./ and a directory entry", build(t, append([]entry{{name: "./", typ: tar.TypeDir}}, complete("./")...)...), "amd64", ""},
		{"PIE executable", build(t, replace("ecs-agent", entry{name: "ecs-agent", data: fakeELF(elf.ELFCLASS64, elf.ET_DYN, elf.EM_X86_64)})...), "amd64", ""},
		{"not gzip", []byte("#!/bin/sh\necho hi\n"), "amd64", "not gzip-compressed"},
		{"gzip but not tar", gz(t, []byte(strings.Repeat("x", 1000))), "amd64", "reading the tar archive"},
		{"missing member", build(t, without("ecsd-logger")...), "amd64", "missing ecsd-logger"},
		{"unexpected member", build(t, append(complete(""), entry{name: "ecsctl", data: exe()})...), "amd64", `unexpected member "ecsctl"`},
		{"member in a subdirectory", build(t, replace("ecs-agent", entry{name: "bin/ecs-agent", data: exe()})...), "amd64", `unexpected member "bin/ecs-agent"`},
		{"duplicate", build(t, append(complete(""), entry{name: "ecs-agent", data: exe()})...), "amd64", "ecs-agent appears twice"},
		{"symlink", build(t, replace("ecsd-init", entry{name: "ecsd-init", typ: tar.TypeSymlink})...), "amd64", "ecsd-init is not a regular file"},
		{"script", build(t, replace("ecs-agent", entry{name: "ecs-agent", data: []byte("#!/bin/sh\nexit 0\n")})...), "amd64", "ecs-agent is not an ELF executable"},
		{"32-bit", build(t, replace("ecs-agent", entry{name: "ecs-agent", data: fakeELF(elf.ELFCLASS32, elf.ET_EXEC, elf.EM_386)})...), "amd64", "not a 64-bit executable"},
		{"object file", build(t, replace("ecs-agent", entry{name: "ecs-agent", data: fakeELF(elf.ELFCLASS64, elf.ET_REL, elf.EM_X86_64)})...), "amd64", "not an executable"},
		{"wrong architecture", build(t, complete("")...), "arm64", "built for EM_X86_64, this instance is arm64"},
		{"unsupported architecture", build(t, complete("")...), "mips", `architecture "mips" is not supported`},
		{"truncated", truncate(build(t, complete("")...)), "amd64", "*"},
		{"empty", nil, "amd64", "not gzip-compressed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(bytes.NewReader(tt.data), tt.arch)
			switch {
			case tt.wantErr == "*":
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Check = %v, want ErrInvalid", err)
				}
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Check = %v, want nil", err)
			case tt.wantErr != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Check = %v, want ErrInvalid containing %q", err, tt.wantErr)
			}
		})
	}
}

// truncate cuts the gzip trailer and some data off.
func truncate(b []byte) []byte { return b[:len(b)-20] }

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(data)
	_ = zw.Close()
	return buf.Bytes()
}

func TestMemberTooLarge(t *testing.T) {
	// A header claiming more than the limit is refused before any data is read.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	_ = tw.WriteHeader(&tar.Header{Name: "ecs-agent", Typeflag: tar.TypeReg, Mode: 0o755, Size: MaxMemberSize + 1})
	_ = tw.Flush()
	_ = zw.Close()
	err := Check(bytes.NewReader(buf.Bytes()), "amd64")
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "more than the limit") {
		t.Fatalf("Check = %v, want the size limit", err)
	}
}

func TestWriteExtractRoundTrip(t *testing.T) {
	src := t.TempDir()
	for i, m := range Members() {
		data := append(exe(), byte(i))
		if err := os.WriteFile(filepath.Join(src, m), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, src); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := Extract(bytes.NewReader(buf.Bytes()), dst, "amd64"); err != nil {
		t.Fatal(err)
	}
	for i, m := range Members() {
		got, err := os.ReadFile(filepath.Join(dst, m))
		if err != nil {
			t.Fatal(err)
		}
		if want := append(exe(), byte(i)); !bytes.Equal(got, want) {
			t.Errorf("%s differs after the round trip", m)
		}
		fi, _ := os.Stat(filepath.Join(dst, m))
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("%s mode %v, want 0755", m, fi.Mode().Perm())
		}
	}
	// Extract refuses to overwrite: the directory must be new.
	if err := Extract(bytes.NewReader(buf.Bytes()), dst, "amd64"); !errors.Is(err, os.ErrExist) {
		t.Errorf("second Extract into the same directory = %v, want ErrExist", err)
	}
}
