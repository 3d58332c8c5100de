// Command mkpkg builds ecsd's .deb and .rpm packages for linux/amd64 and linux/arm64 with
// nfpm used as a library: no Docker, no dpkg-buildpackage or rpmbuild, nothing from the
// network but the Go module proxy. It is a module of its own so that nfpm stays out of the
// agent's go.mod; `make packages` runs it.
//
// Steps, each reported on stdout with the time since the start: the version (from the
// agent's VERSION and git describe, see packageVersion); static binaries cross-compiled per
// architecture (CGO_ENABLED=0; a line every few seconds while a cold build runs); ecsctl's
// shell completions; the licence documents; then each package, written next to the others
// in -out (older packages of ecsd there are removed first).
//
// The packages' contents, dependencies and scripts are described in packageInfo and in the
// README's "Packages" section; the files they install come from packaging/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/rpm"
)

type options struct {
	repo       string
	out        string
	version    string
	ldflags    string
	goBin      string
	maintainer string
	homepage   string
	arches     []string
	formats    []string
	reuse      bool
}

func main() {
	var o options
	var arches, formats string
	flag.StringVar(&o.repo, "repo", ".", "the ecsd repository")
	flag.StringVar(&o.out, "out", "dist", "where the packages are written (binaries are staged in <out>/stage)")
	flag.StringVar(&o.version, "version", "", "the agent's version (the Makefile's VERSION, as in internal/version)")
	flag.StringVar(&o.ldflags, "ldflags", "-s -w", "go build -ldflags (the Makefile's LDFLAGS)")
	flag.StringVar(&o.goBin, "go", "go", "the go command")
	flag.StringVar(&o.maintainer, "maintainer", "ecsd maintainers <maintainers@ecsd.io>", "the packages' maintainer")
	flag.StringVar(&o.homepage, "homepage", "https://github.com/ecsd/ecsd", "the project's home page")
	flag.StringVar(&arches, "arch", "amd64,arm64", "GOARCH values to package, comma-separated")
	flag.StringVar(&formats, "format", "deb,rpm", "package formats, comma-separated")
	flag.BoolVar(&o.reuse, "reuse", false, "package the binaries a previous run left in <out>/stage instead of building them (for work on packaging/ only)")
	flag.Parse()
	o.arches = splitList(arches)
	o.formats = splitList(formats)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := &progress{start: time.Now(), w: os.Stdout}
	if err := run(ctx, p, o); err != nil {
		fmt.Fprintf(os.Stderr, "mkpkg: %v\n", err)
		os.Exit(1)
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// progress prints one line per step with the time since the start.
type progress struct {
	mu    sync.Mutex
	start time.Time
	w     io.Writer
}

func (p *progress) say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "[%5.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// packagers are the nfpm packagers by format.
var packagers = map[string]nfpm.Packager{"deb": deb.Default, "rpm": rpm.DefaultRPM}

// supportedArches are the architectures both formats and the agent support.
var supportedArches = []string{"amd64", "arm64"}

func run(ctx context.Context, p *progress, o options) error {
	if o.version == "" {
		return errors.New("-version is required (make packages passes the Makefile's VERSION)")
	}
	if len(o.arches) == 0 || len(o.formats) == 0 {
		return errors.New("-arch and -format need at least one value each")
	}
	for _, a := range o.arches {
		if !slices.Contains(supportedArches, a) {
			return fmt.Errorf("-arch %s: supported are %s", a, strings.Join(supportedArches, ", "))
		}
	}
	for _, f := range o.formats {
		if packagers[f] == nil {
			return fmt.Errorf("-format %s: supported are deb, rpm", f)
		}
	}
	repo, err := filepath.Abs(o.repo)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(repo, "packaging", "systemd", "ecs.service")); err != nil {
		return fmt.Errorf("-repo %s is not the ecsd repository: %w", o.repo, err)
	}
	out, err := filepath.Abs(o.out)
	if err != nil {
		return err
	}

	m, err := describe(ctx, repo, o)
	if err != nil {
		return err
	}
	p.say("%s %s: %s packages for %s into %s", m.Name, m.Version.Deb(), strings.Join(o.formats, " and "), strings.Join(o.arches, ", "), out)

	stageDir := filepath.Join(out, "stage")
	if !o.reuse {
		if err := os.RemoveAll(stageDir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(stageDir, 0o755); err != nil {
		return err
	}
	goroot, modcache, err := goEnv(ctx, o.goBin, repo)
	if err != nil {
		return err
	}

	// The host's ecsctl prints the completion scripts; build the host's architecture
	// too if it is not one of those packaged.
	buildArches := slices.Clone(o.arches)
	if !slices.Contains(buildArches, runtime.GOARCH) {
		buildArches = append(buildArches, runtime.GOARCH)
	}
	names := make([]string, len(binaries))
	for i, b := range binaries {
		names[i] = b.Name
	}
	stages := map[string]*stage{}
	for _, arch := range buildArches {
		t := time.Now()
		dir := filepath.Join(stageDir, "linux_"+arch)
		if o.reuse {
			if err := checkStatic(dir); err != nil {
				return fmt.Errorf("-reuse: %w", err)
			}
			p.say("reusing the linux/%s binaries in %s", arch, dir)
			stages[arch] = &stage{Arch: arch, BinDir: dir}
			continue
		}
		p.say("building linux/%s (CGO_ENABLED=0, static): %s", arch, strings.Join(names, " "))
		if err := buildArch(ctx, p, o.goBin, repo, o.ldflags, arch, dir); err != nil {
			return err
		}
		p.say("built linux/%s in %s", arch, time.Since(t).Round(100*time.Millisecond))
		stages[arch] = &stage{Arch: arch, BinDir: dir}
	}

	p.say("writing ecsctl's bash, zsh and fish completions, the manual pages, the copyright, changelog and third-party notices")
	hostBin := stages[runtime.GOARCH].BinDir
	comp, err := completions(ctx, filepath.Join(hostBin, "ecsctl"), stageDir)
	if err != nil {
		return err
	}
	man, err := manPages(ctx, m, hostBin, stageDir)
	if err != nil {
		return err
	}
	docs := map[string][]byte{"copyright": debianCopyright(m)}
	if docs["changelog.Debian.gz"], err = gzipBest(debianChangelog(m)); err != nil {
		return err
	}
	for name, data := range docs {
		if err := os.WriteFile(filepath.Join(stageDir, name), data, 0o644); err != nil {
			return err
		}
	}
	for _, arch := range o.arches {
		s := stages[arch]
		s.Completions = comp
		s.ManPages = man
		s.Copyright = filepath.Join(stageDir, "copyright")
		s.Changelog = filepath.Join(stageDir, "changelog.Debian.gz")
		var bins []string
		for _, b := range binaries {
			bins = append(bins, filepath.Join(s.BinDir, b.Name))
		}
		notices, err := thirdPartyNotices(m.Name, goroot, modcache, bins)
		if err != nil {
			return err
		}
		gz, err := gzipBest(notices)
		if err != nil {
			return err
		}
		s.Notices = filepath.Join(stageDir, "THIRD-PARTY-NOTICES."+arch)
		s.NoticesGz = s.Notices + ".gz"
		if err := os.WriteFile(s.Notices, notices, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(s.NoticesGz, gz, 0o644); err != nil {
			return err
		}
	}

	if err := removeOld(out, m.Name); err != nil {
		return err
	}
	var written []string
	for _, arch := range o.arches {
		for _, format := range o.formats {
			path, err := writePackage(p, format, m, *stages[arch], repo, out)
			if err != nil {
				return err
			}
			written = append(written, path)
		}
	}
	p.say("done: %d packages in %s", len(written), out)
	for _, w := range written {
		fmt.Fprintf(p.w, "  %s\n", w)
	}
	return nil
}

// writePackage writes one package through a temporary file, so an interrupted run leaves
// no truncated package behind.
func writePackage(p *progress, format string, m meta, s stage, repo, out string) (string, error) {
	info := nfpm.WithDefaults(packageInfo(format, m, s, repo))
	pkgr := packagers[format]
	path := filepath.Join(out, pkgr.ConventionalFileName(info))
	// ConventionalFileName adjusts the architecture's name for the format; start afresh.
	info = nfpm.WithDefaults(packageInfo(format, m, s, repo))
	t := time.Now()
	p.say("writing %s", filepath.Base(path))
	tmp, err := os.CreateTemp(out, ".mkpkg-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	info.Target = path
	if err := pkgr.Package(info, tmp); err != nil {
		_ = tmp.Close()
		return "", fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	p.say("wrote %s (%.1f MB) in %s", filepath.Base(path), float64(fi.Size())/1e6, time.Since(t).Round(100*time.Millisecond))
	return path, nil
}

// removeOld deletes earlier packages of name from out, so that out holds exactly one
// build's packages.
func removeOld(out, name string) error {
	for _, pattern := range []string{name + "_*.deb", name + "-*.rpm"} {
		old, err := filepath.Glob(filepath.Join(out, pattern))
		if err != nil {
			return err
		}
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// describe gathers the packages' metadata: the version from VERSION and git, the commit and
// its time (SOURCE_DATE_EPOCH overrides it, as in every reproducible build).
func describe(ctx context.Context, repo string, o options) (meta, error) {
	m := meta{Name: "ecsd", Agent: o.version, Maintainer: o.maintainer, Homepage: o.homepage}
	var g gitState
	if _, err := os.Stat(filepath.Join(repo, ".git")); err == nil {
		git := func(args ...string) (string, error) {
			cmd := exec.CommandContext(ctx, "git", append([]string{"-C", repo}, args...)...)
			out, err := cmd.Output()
			if err != nil {
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
				}
				return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
			}
			return strings.TrimSpace(string(out)), nil
		}
		var err error
		if g.Describe, err = git("describe", "--tags", "--long", "--dirty", "--always", "--match", "v[0-9]*"); err != nil {
			return m, err
		}
		count, err := git("rev-list", "--count", "HEAD")
		if err != nil {
			return m, err
		}
		if g.Commits, err = strconv.Atoi(count); err != nil {
			return m, fmt.Errorf("git rev-list --count HEAD: %q: %w", count, err)
		}
		if m.Commit, err = git("rev-parse", "--short=8", "HEAD"); err != nil {
			return m, err
		}
		ct, err := git("log", "-1", "--format=%ct", "HEAD")
		if err != nil {
			return m, err
		}
		sec, err := strconv.ParseInt(ct, 10, 64)
		if err != nil {
			return m, fmt.Errorf("git log --format=%%ct: %q: %w", ct, err)
		}
		m.Time = time.Unix(sec, 0).UTC()
	}
	if e := os.Getenv("SOURCE_DATE_EPOCH"); e != "" {
		sec, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			return m, fmt.Errorf("SOURCE_DATE_EPOCH=%q: not a number of seconds: %w", e, err)
		}
		m.Time = time.Unix(sec, 0).UTC()
	}
	if m.Time.IsZero() {
		m.Time = time.Now().UTC().Truncate(time.Second)
	}
	v, err := packageVersion(o.version, g)
	if err != nil {
		return m, err
	}
	m.Version = v
	return m, nil
}

// goEnv returns GOROOT (the standard library's licence) and GOMODCACHE (the modules'
// sources the build read) of the go command that builds the binaries.
func goEnv(ctx context.Context, goBin, repo string) (goroot, modcache string, err error) {
	cmd := exec.CommandContext(ctx, goBin, "env", "GOROOT", "GOMODCACHE")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("go env: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || lines[0] == "" || lines[1] == "" {
		return "", "", fmt.Errorf("go env GOROOT GOMODCACHE printed %q", out)
	}
	return lines[0], lines[1], nil
}
