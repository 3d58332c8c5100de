package hostfs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ecsd/ecsd/runtime"
)

// TestSupports: a file system type is supported when the kernel lists it or has it as a
// module, mount.nfs is needed for NFS and stunnel for a TLS tunnel; the error says what is
// missing.
func TestSupports(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noNFS := write("nonfs", "nodev\ttmpfs\n\text4\n")
	withNFS := write("nfs", "nodev\ttmpfs\nnodev\tnfs\nnodev\tnfs4\n")
	mods := filepath.Join(dir, "modules")
	write("modules/kernel/fs/nfs/nfs.ko", "")
	mount := write("bin/mount", "#!/bin/sh\n")
	for _, tc := range []struct {
		name, fsType string
		tls          bool
		v            Volumes
		wantErr      bool
	}{
		{name: "bind always", fsType: "none", v: Volumes{ProcFilesystems: noNFS, ModulesDir: dir}},
		{name: "tmpfs listed", fsType: "tmpfs", v: Volumes{MountBin: mount, ProcFilesystems: noNFS, ModulesDir: dir}},
		{name: "nfs4 missing", fsType: "nfs4", v: Volumes{MountBin: mount, ProcFilesystems: noNFS, ModulesDir: dir}, wantErr: true},
		{name: "nfs4 as a module", fsType: "nfs4", v: Volumes{MountBin: mount, ProcFilesystems: noNFS, ModulesDir: mods}},
		{name: "nfs4 listed", fsType: "nfs4", v: Volumes{MountBin: mount, ProcFilesystems: withNFS, ModulesDir: dir}},
		{name: "tls without stunnel", fsType: "nfs4", tls: true, v: Volumes{MountBin: mount, StunnelBin: "", ProcFilesystems: withNFS, ModulesDir: dir}},
		{name: "unknown type", fsType: "cifs", v: Volumes{MountBin: mount, ProcFilesystems: withNFS, ModulesDir: dir}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.Supports(tc.fsType, tc.tls)
			if tc.name == "nfs4 as a module" || tc.name == "nfs4 listed" || tc.name == "tls without stunnel" {
				// mount.nfs and stunnel come from the machine: only their absence may fail.
				if _, lerr := lookPath("mount.nfs"); lerr != nil {
					tc.wantErr = true
				}
				if tc.tls {
					if _, serr := tc.v.stunnelBin(); serr != nil {
						tc.wantErr = true
					}
				}
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("Supports(%s, tls %v) = %v, want an error: %v", tc.fsType, tc.tls, err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, runtime.ErrMountUnsupported) {
				t.Fatalf("%v is not ErrMountUnsupported", err)
			}
		})
	}
}

func TestUnescapeMountPath(t *testing.T) {
	if got := unescapeMountPath(`/a\040b\134c`); got != `/a b\c` {
		t.Fatalf("got %q", got)
	}
}
