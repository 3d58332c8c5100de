package containerd

import (
	"debug/elf"
	"os"
)

// initCandidates are searched, in order, when WithInitPath is not given. Only statically
// linked binaries qualify: the binary is bind-mounted into arbitrary images, which may
// have no libc at all. Debian ships tini-static (package tini) and catatonit.
var initCandidates = []string{
	"/usr/bin/tini-static",
	"/usr/libexec/docker/docker-init",
	"/usr/bin/docker-init",
	"/usr/bin/catatonit",
	"/usr/libexec/catatonit/catatonit",
	"/usr/libexec/podman/catatonit",
}

// findInit returns the init binary for Init containers, or "" if there is none; the
// lookup happens once per Runtime.
func (r *Runtime) findInit() string {
	r.initOnce.Do(func() {
		if r.opts.initPath != "" {
			r.initBin = r.opts.initPath
			return
		}
		for _, p := range initCandidates {
			if isStaticExecutable(p) {
				r.initBin = p
				return
			}
		}
	})
	return r.initBin
}

// isStaticExecutable reports whether p is an ELF executable without a program
// interpreter (i.e. statically linked).
func isStaticExecutable(p string) bool {
	st, err := os.Stat(p)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return false
	}
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}
