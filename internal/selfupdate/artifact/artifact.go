// Package artifact is the format of ecsd's self-update artifact: a gzip-compressed tar
// archive holding exactly the binaries that run together as one agent version,
//
//	ecs-agent  ecsd-init  ecsd-logger  ecsd-logger-awslogs  ecsd-logger-ship
//
// at the top level (a leading "./" is accepted), each a regular file that is a 64-bit ELF
// executable for the instance's architecture. ecs-init stays out: it is what installs an
// update, so it is upgraded by the package, not by the agent. The helpers travel with the
// agent because it finds them next to its own executable and hands their paths to
// containerd (the logger a shim runs, the init bind-mounted into containers), so one
// directory must always hold binaries of one build.
//
// The agent checks an artifact (Check) after its SHA-256 matched and before staging it;
// ecs-init checks it again while unpacking it (Extract) into a version directory; ecsctl
// checks it before offering it, so a wrong file is refused where it is named. Build one with
//
//	tar -C bin -czf ecsd-update.tar.gz ecs-agent ecsd-init ecsd-logger ecsd-logger-awslogs ecsd-logger-ship
//
// or Write.
package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Limits. A stripped ecs-agent is about 60 MiB; compressed, the five binaries are well
// under 64 MiB. The bounds leave room to grow while keeping a hostile or broken server
// from filling the disk.
const (
	// MaxSize bounds the compressed artifact (the download).
	MaxSize int64 = 256 << 20
	// MaxMemberSize bounds one unpacked binary.
	MaxMemberSize int64 = 256 << 20
	// MaxUnpackedSize bounds the five binaries together.
	MaxUnpackedSize int64 = 512 << 20
)

// ErrInvalid is wrapped by every error about an artifact's content: not gzip, not tar,
// a missing, unexpected or duplicate member, a member that is not an executable of the
// expected architecture, or one too large.
var ErrInvalid = errors.New("not a valid ecsd update artifact")

// Members are the file names an artifact holds, all of them required.
func Members() []string {
	return []string{"ecs-agent", "ecsd-init", "ecsd-logger", "ecsd-logger-awslogs", "ecsd-logger-ship"}
}

// elfMachine maps GOARCH to the ELF machine its executables carry.
func elfMachine(arch string) (elf.Machine, bool) {
	switch arch {
	case "amd64":
		return elf.EM_X86_64, true
	case "arm64":
		return elf.EM_AARCH64, true
	case "riscv64":
		return elf.EM_RISCV, true
	case "ppc64le":
		return elf.EM_PPC64, true
	case "s390x":
		return elf.EM_S390, true
	}
	return 0, false
}

// Check reads a whole artifact from r and reports whether it is valid for arch (a GOARCH
// value). It writes nothing.
func Check(r io.Reader, arch string) error {
	return walk(r, arch, func(string, io.Reader) error { return nil })
}

// CheckFile is Check on a file.
func CheckFile(name, arch string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return Check(f, arch)
}

// Extract unpacks the artifact read from r into dir, which must exist and should be empty:
// each member mode 0755, its data synced to disk, then dir itself synced. On an error some
// members may have been written; the caller removes dir.
func Extract(r io.Reader, dir, arch string) error {
	err := walk(r, arch, func(name string, data io.Reader) error {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, data); err != nil {
			_ = f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// walk reads the archive, checks every member and hands each member's data to fn, then
// checks that none is missing. fn must read data to its end or return an error.
func walk(r io.Reader, arch string, fn func(name string, data io.Reader) error) error {
	machine, ok := elfMachine(arch)
	if !ok {
		return fmt.Errorf("%w: architecture %q is not supported", ErrInvalid, arch)
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("%w: not gzip-compressed: %v", ErrInvalid, err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	seen := map[string]bool{}
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: reading the tar archive: %v", ErrInvalid, err)
		}
		name, skip, err := memberName(hdr)
		if err != nil {
			return err
		}
		if skip {
			continue
		}
		if seen[name] {
			return fmt.Errorf("%w: %s appears twice", ErrInvalid, name)
		}
		seen[name] = true
		if hdr.Size > MaxMemberSize {
			return fmt.Errorf("%w: %s is %d bytes, more than the limit of %d", ErrInvalid, name, hdr.Size, MaxMemberSize)
		}
		if total += hdr.Size; total > MaxUnpackedSize {
			return fmt.Errorf("%w: the binaries add up to more than %d bytes", ErrInvalid, MaxUnpackedSize)
		}
		head := make([]byte, 64)
		n, err := io.ReadFull(tr, head)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: reading %s: %v", ErrInvalid, name, err)
		}
		if err := checkELF(name, head[:n], machine, arch); err != nil {
			return err
		}
		if err := fn(name, io.MultiReader(bytes.NewReader(head[:n]), tr)); err != nil {
			if errors.Is(err, tar.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) {
				return fmt.Errorf("%w: reading %s: %v", ErrInvalid, name, err)
			}
			return err
		}
	}
	var missing []string
	for _, m := range Members() {
		if !seen[m] {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %s (an update carries %s)", ErrInvalid, strings.Join(missing, ", "), strings.Join(Members(), ", "))
	}
	return nil
}

// memberName checks a tar header and returns the member's name, or skip for the entries
// a plain `tar -C dir -czf … .` or a pax-writing tar adds around the files (the "./"
// directory, global headers).
func memberName(hdr *tar.Header) (name string, skip bool, err error) {
	clean := strings.TrimPrefix(hdr.Name, "./")
	switch {
	case hdr.Typeflag == tar.TypeXGlobalHeader:
		return "", true, nil
	case hdr.Typeflag == tar.TypeDir && (clean == "" || clean == "."):
		return "", true, nil
	case !slices.Contains(Members(), clean):
		return "", false, fmt.Errorf("%w: unexpected member %q (an update carries exactly %s, at the top level)",
			ErrInvalid, hdr.Name, strings.Join(Members(), ", "))
	case hdr.Typeflag != tar.TypeReg:
		return "", false, fmt.Errorf("%w: %s is not a regular file (tar type %q)", ErrInvalid, clean, string(hdr.Typeflag))
	}
	return path.Base(clean), false, nil
}

// checkELF checks the start of a member: a 64-bit ELF executable (static or PIE) for
// machine. Cheap, and it catches the usual mistakes: a script, an arm64 build for an
// amd64 host, an object file.
func checkELF(name string, head []byte, machine elf.Machine, arch string) error {
	if len(head) < 20 || !bytes.Equal(head[:4], []byte(elf.ELFMAG)) {
		return fmt.Errorf("%w: %s is not an ELF executable", ErrInvalid, name)
	}
	if elf.Class(head[elf.EI_CLASS]) != elf.ELFCLASS64 {
		return fmt.Errorf("%w: %s is not a 64-bit executable", ErrInvalid, name)
	}
	var order binary.ByteOrder
	switch elf.Data(head[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		order = binary.LittleEndian
	case elf.ELFDATA2MSB:
		order = binary.BigEndian
	default:
		return fmt.Errorf("%w: %s has an unknown ELF byte order", ErrInvalid, name)
	}
	typ := elf.Type(order.Uint16(head[16:18]))
	if typ != elf.ET_EXEC && typ != elf.ET_DYN {
		return fmt.Errorf("%w: %s is an ELF %s, not an executable", ErrInvalid, name, typ)
	}
	if m := elf.Machine(order.Uint16(head[18:20])); m != machine {
		return fmt.Errorf("%w: %s is built for %s, this instance is %s (%s)", ErrInvalid, name, m, arch, machine)
	}
	return nil
}

// Write builds an artifact from the members found in dir (as `make build` leaves them in
// bin/), for tests and tools. It does not check them.
func Write(w io.Writer, dir string) error {
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	for _, name := range Members() {
		if err := addFile(tw, filepath.Join(dir, name), name); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

func addFile(tw *tar.Writer, src, name string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: fi.Size(), ModTime: fi.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
