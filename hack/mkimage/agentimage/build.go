package main

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// binaries are the commands that go into the image, under /ecsd: the agent, the helpers it
// hands to containerd's shims (ecsd-logger, which execs ecsd-logger-awslogs for the awslogs
// driver and ecsd-logger-ship for fluentd, syslog and gelf, and ecsd-init, the init and namespace
// holder), and ecs-init. All static.
var binaries = []string{"ecs-agent", "ecsd-logger", "ecsd-logger-awslogs", "ecsd-logger-ship", "ecsd-init", "ecs-init"}

// supported are the platforms the image is built for; ecsd's packages target the same two.
var supported = map[string]v1.Platform{
	"linux/amd64": {OS: "linux", Architecture: "amd64"},
	"linux/arm64": {OS: "linux", Architecture: "arm64", Variant: "v8"},
}

// machines is the ELF machine each architecture's binaries must have.
var machines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

type buildOptions struct {
	src       string
	out       string
	version   string
	revision  string
	ldflags   string
	name      string
	caCerts   string
	license   string
	created   time.Time
	platforms []v1.Platform
	// prebuilt skips `go build` and takes the binaries from out/bin/<os>_<arch> (tests).
	prebuilt bool
}

func parseBuildFlags(args []string) (buildOptions, error) {
	o := buildOptions{}
	fs := newFlagSet("build")
	var platforms, created string
	fs.StringVar(&o.src, "src", ".", "the ecsd source tree (the Go module holding cmd/)")
	fs.StringVar(&o.out, "out", "out/image", "output directory")
	fs.StringVar(&o.version, "version", "", "image version: the OCI layout's tag and the version label")
	fs.StringVar(&o.revision, "revision", "", "source revision for the org.opencontainers.image.revision label")
	fs.StringVar(&o.ldflags, "ldflags", "-s -w", "go build -ldflags (the Makefile's, with the version stamped in)")
	fs.StringVar(&o.name, "name", "ecsd/ecs-agent", "image name of the docker-archives and the OCI layout's containerd name")
	fs.StringVar(&o.caCerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle copied to /etc/ssl/certs/ca-certificates.crt (Debian's ca-certificates)")
	fs.StringVar(&o.license, "license", "", "licence file copied to /LICENSE (default: LICENSE in -src, if any)")
	fs.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "platforms to build, comma separated")
	fs.StringVar(&created, "created", "1970-01-01T00:00:00Z", "creation time (RFC 3339) of the configs and of every file, so builds are reproducible")
	fs.BoolVar(&o.prebuilt, "prebuilt", false, "use the binaries already in -out/bin/<os>_<arch> instead of running go build")
	if err := fs.Parse(args); err != nil {
		return o, usageError{err}
	}
	if fs.NArg() > 0 {
		return o, usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if o.version == "" {
		return o, usageError{errors.New("-version is required")}
	}
	var err error
	if o.created, err = time.Parse(time.RFC3339, created); err != nil {
		return o, usageError{fmt.Errorf("-created: %w", err)}
	}
	seen := map[string]bool{}
	for _, p := range splitList(platforms) {
		plat, ok := supported[p]
		if !ok {
			return o, usageError{fmt.Errorf("-platforms: %q is not supported (linux/amd64, linux/arm64)", p)}
		}
		if !seen[p] {
			seen[p] = true
			o.platforms = append(o.platforms, plat)
		}
	}
	if len(o.platforms) == 0 {
		return o, usageError{errors.New("-platforms: none given")}
	}
	if o.license == "" {
		if _, err := os.Stat(filepath.Join(o.src, "LICENSE")); err == nil {
			o.license = filepath.Join(o.src, "LICENSE")
		}
	}
	return o, nil
}

func platformString(p v1.Platform) string { return p.OS + "/" + p.Architecture }

// binDir is where one platform's binaries are built.
func binDir(out string, p v1.Platform) string {
	return filepath.Join(out, "bin", p.OS+"_"+p.Architecture)
}

// goBuild compiles every binary for one platform into dir with one `go build`, so the
// packages they share are compiled once.
func goBuild(o buildOptions, p v1.Platform, dir string, prog *progress) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	args := []string{"build", "-trimpath", "-ldflags", o.ldflags, "-o", dir + string(filepath.Separator)}
	for _, b := range binaries {
		args = append(args, "./cmd/"+b)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = o.src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	what := platformString(p) + ": go build " + strings.Join(binaries, " ")
	prog.printf("%s", what)
	if err := prog.during(what, cmd.Run); err != nil {
		return fmt.Errorf("%s: %w\n%s", what, err, stderr.String())
	}
	return nil
}

// readBinaries reads one platform's binaries and checks that each is a static executable
// for that platform: the image has no libc and no loader.
func readBinaries(dir string, p v1.Platform) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, b := range binaries {
		path := filepath.Join(dir, b)
		if err := checkStatic(path, machines[p.Architecture]); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		out[b] = data
	}
	return out, nil
}

func checkStatic(path string, want elf.Machine) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	if f.Machine != want {
		return fmt.Errorf("%s is built for %s, want %s", path, f.Machine, want)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (build it with CGO_ENABLED=0)", path)
		}
	}
	return nil
}
