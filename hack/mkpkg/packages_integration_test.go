//go:build integration

package main

import (
	"bytes"
	"context"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPackages builds the packages as `make packages` does and checks them with the
// distributions' own tools: dpkg-deb (contents, control fields, conffiles), lintian (no
// errors), rpm (file list, dependencies, scripts, rpm -i --test), and real installs with
// dpkg and rpm into scratch roots (never this machine's own root) whose systemctl is a fake
// that records what the maintainer scripts ask of systemd: install, upgrade (stop, then
// start again), remove (the data directory stays) and purge.
//
// It needs root (chroot), dpkg, lintian, rpm and busybox-static (hack/install-deps.sh).
func TestPackages(t *testing.T) {
	for _, tool := range []string{"dpkg", "dpkg-deb", "lintian", "rpm", "busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (hack/install-deps.sh installs it): %v", tool, err)
		}
	}
	if os.Geteuid() != 0 {
		t.Fatal("TestPackages installs into chroots: run it as root")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	// The packager's timed lines go to the test's output as they come (a cold build of
	// both architectures takes minutes) and are kept for the checks below.
	var log bytes.Buffer
	p := &progress{start: time.Now(), w: io.MultiWriter(&log, os.Stdout)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	err = run(ctx, p, options{
		repo: repo, out: out, version: "0.1.0", goBin: "go",
		ldflags:    "-s -w -X github.com/ecsd/ecsd/internal/version.Version=0.1.0",
		maintainer: "ecsd maintainers <maintainers@ecsd.io>", homepage: "https://github.com/ecsd/ecsd",
		arches: []string{"amd64", "arm64"}, formats: []string{"deb", "rpm"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Progress: a line per step, each with the elapsed time.
	for _, want := range []string{"building linux/amd64", "built linux/arm64", "writing ecsd_", "wrote ecsd-", "done: 4 packages"} {
		if !regexp.MustCompile(`(?m)^\[ *\d+\.\ds\] .*` + regexp.QuoteMeta(want)).MatchString(log.String()) {
			t.Errorf("the packager's output has no timed line with %q", want)
		}
	}
	debs, _ := filepath.Glob(filepath.Join(out, "ecsd_*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(out, "ecsd-*.rpm"))
	if len(debs) != 2 || len(rpms) != 2 {
		t.Fatalf("packages in %s: %q and %q, want two of each", out, debs, rpms)
	}
	for _, arch := range []struct{ deb, rpm string }{{"amd64", "x86_64"}, {"arm64", "aarch64"}} {
		deb := findOne(t, debs, "_"+arch.deb+".deb")
		rpm := findOne(t, rpms, "."+arch.rpm+".rpm")
		t.Run("deb-"+arch.deb, func(t *testing.T) { checkDeb(t, deb, arch.deb) })
		t.Run("rpm-"+arch.rpm, func(t *testing.T) { checkRPM(t, rpm, arch.rpm) })
	}
	t.Run("lintian", func(t *testing.T) { checkLintian(t, debs) })
	t.Run("dpkg-install", func(t *testing.T) { checkDpkgInstall(t, findOne(t, debs, "_amd64.deb")) })
	t.Run("rpm-install", func(t *testing.T) { checkRPMInstall(t, findOne(t, rpms, ".x86_64.rpm")) })
}

func findOne(t *testing.T, paths []string, suffix string) string {
	t.Helper()
	for _, p := range paths {
		if strings.HasSuffix(p, suffix) {
			return p
		}
	}
	t.Fatalf("no package ending in %s among %q", suffix, paths)
	return ""
}

func cmdOut(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// wantFiles are the package's files (as dpkg-deb -c prints them, without the leading
// "."), their permissions, common to both formats but the unit's directory.
var wantFiles = map[string]string{
	"/usr/bin/ecs-agent":                                     "-rwxr-xr-x",
	"/usr/bin/ecsctl":                                        "-rwxr-xr-x",
	"/usr/libexec/ecsd/ecs-init":                             "-rwxr-xr-x",
	"/usr/libexec/ecsd/ecsd-logger":                          "-rwxr-xr-x",
	"/usr/libexec/ecsd/ecsd-logger-awslogs":                  "-rwxr-xr-x",
	"/usr/libexec/ecsd/ecsd-logger-ship":                     "-rwxr-xr-x",
	"/usr/libexec/ecsd/ecsd-init":                            "-rwxr-xr-x",
	"/etc/ecs/ecs.config":                                    "-rw-r--r--",
	"/etc/ecs/":                                              "drwxr-xr-x",
	"/var/lib/ecs/":                                          "drwxr-xr-x",
	"/var/lib/ecs/data/":                                     "drwx------",
	"/var/log/ecs/":                                          "drwxr-xr-x",
	"/usr/share/bash-completion/completions/ecsctl":          "-rw-r--r--",
	"/usr/share/fish/vendor_completions.d/ecsctl.fish":       "-rw-r--r--",
	"/usr/share/zsh/vendor-completions/_ecsctl":              "-rw-r--r--",
	"/lib/systemd/system/ecs.service":                        "-rw-r--r--",
	"/usr/share/doc/ecsd/copyright":                          "-rw-r--r--",
	"/usr/share/doc/ecsd/changelog.Debian.gz":                "-rw-r--r--",
	"/usr/share/doc/ecsd/THIRD-PARTY-NOTICES.gz":             "-rw-r--r--",
	"/usr/share/lintian/overrides/ecsd":                      "-rw-r--r--",
	"/usr/lib/systemd/system/ecs.service":                    "", // rpm only
	"/usr/lib/systemd/system/ecs.service.d/50-ecsd-rpm.conf": "",
	"/usr/share/zsh/site-functions/_ecsctl":                  "",
	"/usr/share/licenses/ecsd/LICENSE":                       "",
	"/usr/share/licenses/ecsd/THIRD-PARTY-NOTICES":           "",
}

var (
	debOnly = []string{"/lib/systemd/system/ecs.service", "/usr/share/zsh/vendor-completions/_ecsctl", "/usr/share/doc/ecsd/copyright", "/usr/share/doc/ecsd/changelog.Debian.gz", "/usr/share/doc/ecsd/THIRD-PARTY-NOTICES.gz", "/usr/share/lintian/overrides/ecsd"}
	rpmOnly = []string{"/usr/lib/systemd/system/ecs.service", "/usr/lib/systemd/system/ecs.service.d/50-ecsd-rpm.conf", "/usr/share/zsh/site-functions/_ecsctl", "/usr/share/licenses/ecsd/LICENSE", "/usr/share/licenses/ecsd/THIRD-PARTY-NOTICES"}
)

func checkDeb(t *testing.T, deb, arch string) {
	// Control fields.
	info := cmdOut(t, "dpkg-deb", "-I", deb)
	for _, re := range []string{
		`(?m)^ Package: ecsd$`,
		`(?m)^ Version: 0\.1\.0(\+git\d+\.g[0-9a-f]+(\.dirty)?)?-1$`,
		`(?m)^ Architecture: ` + arch + `$`,
		`(?m)^ Depends: containerd, runc, iptables, containernetworking-plugins, iproute2, ca-certificates$`,
		`(?m)^ Conflicts: amazon-ecs-init$`,
		`(?m)^ Maintainer: ecsd maintainers <maintainers@ecsd.io>$`,
		`(?m)^ Section: admin$`,
		`(?m)^ Description: Amazon ECS container agent for containerd \(ecsd\)$`,
		`(?m)^ +\d+ bytes, +\d+ lines +\* +postinst +#!/bin/sh$`,
		`(?m)^ +\d+ bytes, +\d+ lines +\* +prerm +#!/bin/sh$`,
		`(?m)^ +\d+ bytes, +\d+ lines +\* +postrm +#!/bin/sh$`,
		`(?m)^ +\d+ bytes, +\d+ lines +conffiles\b`,
		`(?m)^ +\d+ bytes, +\d+ lines +md5sums\b`,
	} {
		if !regexp.MustCompile(re).MatchString(info) {
			t.Errorf("dpkg-deb -I %s does not match %s:\n%s", filepath.Base(deb), re, info)
		}
	}
	ctrl := t.TempDir()
	cmdOut(t, "dpkg-deb", "-e", deb, ctrl)
	if c, err := os.ReadFile(filepath.Join(ctrl, "conffiles")); err != nil || strings.TrimSpace(string(c)) != "/etc/ecs/ecs.config" {
		t.Errorf("conffiles = %q, %v; want /etc/ecs/ecs.config", c, err)
	}

	// Contents, with owners and modes.
	listing := cmdOut(t, "dpkg-deb", "-c", deb)
	files := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(listing), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || f[1] != "root/root" {
			t.Errorf("dpkg-deb -c line %q: want root/root", l)
			continue
		}
		files[strings.TrimPrefix(f[5], ".")] = f[0]
	}
	for path, mode := range wantFiles {
		if slices.Contains(rpmOnly, path) {
			if _, ok := files[path]; ok {
				t.Errorf("the .deb has the rpm's %s", path)
			}
			continue
		}
		if got, ok := files[path]; !ok || got != mode {
			t.Errorf("the .deb's %s: mode %q (present %v), want %s", path, got, ok, mode)
		}
	}

	// The binaries are static executables of the package's architecture.
	x := t.TempDir()
	cmdOut(t, "dpkg-deb", "-x", deb, x)
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	for _, b := range binaries {
		checkELF(t, filepath.Join(x, b.Dir, b.Name), machine)
	}
	// Shell completions are the real scripts, copyright names the licence.
	for path, want := range map[string]string{
		"usr/share/bash-completion/completions/ecsctl":    "__start_ecsctl",
		"usr/share/zsh/vendor-completions/_ecsctl":        "#compdef ecsctl",
		"usr/share/fish/vendor_completions.d/ecsctl.fish": "complete -c ecsctl",
		"usr/share/doc/ecsd/copyright":                    "/usr/share/common-licenses/Apache-2.0",
		"lib/systemd/system/ecs.service":                  "ExecStart=/usr/libexec/ecsd/ecs-init start --agent /usr/bin/ecs-agent",
	} {
		if b, err := os.ReadFile(filepath.Join(x, path)); err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q (%v)", path, want, err)
		}
	}
	notices := cmdOut(t, "zcat", filepath.Join(x, "usr/share/doc/ecsd/THIRD-PARTY-NOTICES.gz"))
	for _, want := range []string{"Go standard library", "github.com/containerd/containerd/v2", "github.com/aws/aws-sdk-go-v2", "--- LICENSE"} {
		if !strings.Contains(notices, want) {
			t.Errorf("THIRD-PARTY-NOTICES lacks %q", want)
		}
	}
}

func checkELF(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s is for %v, want %v", path, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked", path)
		}
	}
}

func checkRPM(t *testing.T, rpm, arch string) {
	q := func(args ...string) string { return cmdOut(t, "rpm", append([]string{"-qp"}, append(args, rpm)...)...) }
	if got := strings.TrimSpace(q("--qf", "%{NAME} %{ARCH} %{LICENSE}")); got != "ecsd "+arch+" Apache-2.0" {
		t.Errorf("rpm name, arch, licence = %q", got)
	}
	if v := strings.TrimSpace(q("--qf", "%{VERSION}-%{RELEASE}")); !regexp.MustCompile(`^0\.1\.0(\+git\d+\.g[0-9a-f]+(\.dirty)?)?-1$`).MatchString(v) {
		t.Errorf("rpm version %q", v)
	}
	requires := strings.Fields(q("--requires"))
	for _, dep := range rpmDepends {
		if !slices.Contains(requires, dep) {
			t.Errorf("rpm --requires %q lacks %s", requires, dep)
		}
	}
	// rpm -qlp, with the types: %config(noreplace), %license, %dir.
	list := q("--qf", `[%{FILEMODES:perms} %{FILEFLAGS:fflags} %{FILENAMES}\n]`)
	got := map[string][2]string{}
	for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 { // no flags
			f = []string{f[0], "", f[1]}
		}
		got[f[2]] = [2]string{f[0], f[1]}
	}
	for path, mode := range wantFiles {
		path = strings.TrimSuffix(path, "/")
		if slices.Contains(debOnly, path) {
			if _, ok := got[path]; ok {
				t.Errorf("the .rpm has the deb's %s", path)
			}
			continue
		}
		g, ok := got[path]
		if !ok {
			t.Errorf("the .rpm lacks %s", path)
			continue
		}
		if mode != "" && g[0] != mode {
			t.Errorf("the .rpm's %s has mode %s, want %s", path, g[0], mode)
		}
	}
	if f := got["/etc/ecs/ecs.config"][1]; f != "cn" {
		t.Errorf("ecs.config flags %q, want cn (%%config(noreplace))", f)
	}
	if f := got["/usr/share/licenses/ecsd/LICENSE"][1]; f != "l" {
		t.Errorf("LICENSE flags %q, want l (%%license)", f)
	}
	scripts := q("--scripts")
	for _, want := range []string{"preinstall scriptlet", "postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet", "posttrans scriptlet", "systemctl stop ecs.service", "systemctl start ecs.service"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("rpm --scripts lacks %q", want)
		}
	}
	// rpm -i --test into an empty root: the package is installable (dependencies aside,
	// which this Debian machine's rpm database cannot know).
	root := t.TempDir()
	cmdOut(t, "rpm", "--root", root, "--initdb")
	cmdOut(t, "rpm", "-i", "--test", "--nodeps", "--ignorearch", "--root", root, rpm)
}

func checkLintian(t *testing.T, debs []string) {
	// One lintian per package, side by side: each takes tens of seconds.
	outs := make([][]byte, len(debs))
	errs := make([]error, len(debs))
	var wg sync.WaitGroup
	for i, deb := range debs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = exec.Command("lintian", "--fail-on", "none", "--display-info", "--tag-display-limit", "0", deb).CombinedOutput()
		}()
	}
	wg.Wait()
	for i, deb := range debs {
		if errs[i] != nil {
			t.Fatalf("lintian %s: %v\n%s", deb, errs[i], outs[i])
		}
		var shown []string
		for _, l := range strings.Split(strings.TrimSpace(string(outs[i])), "\n") {
			if strings.HasPrefix(l, "E: ") {
				t.Errorf("lintian error: %s", l)
			}
			// Typos lintian finds in the strings of linked Go modules are theirs.
			if !strings.Contains(l, "spelling-error-in-binary") {
				shown = append(shown, l)
			}
		}
		t.Logf("lintian %s:\n%s", filepath.Base(deb), strings.Join(shown, "\n"))
	}
}

// scratchRoot is a directory to install into with dpkg --root or rpm --root: busybox as
// /bin/sh and the commands the maintainer scripts run, and fake systemctl,
// deb-systemd-invoke and deb-systemd-helper that append their arguments to /calls. The unit
// counts as active while /active exists; /run/systemd/system makes the scripts believe
// systemd runs.
func scratchRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"bin", "usr/bin", "usr/sbin", "sbin", "tmp", "run/systemd/system", "var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc", "dev"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "rm", "touch", "mkdir", "cat", "rmdir", "ls", "sed", "grep", "mv", "cp", "ln", "chmod", "test", "[", "basename"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	fake := "#!/bin/sh\necho \"$(basename \"$0\") $*\" >>/calls\n" +
		"case \"$*\" in *is-active*) [ -e /active ] ;; *) exit 0 ;; esac\n"
	for _, tool := range []string{"systemctl", "deb-systemd-invoke", "deb-systemd-helper"} {
		if err := os.WriteFile(filepath.Join(root, "usr/bin", tool), []byte(fake), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The scripts write to /dev/null: a device node (t.TempDir must not be on a nodev mount).
	if out, err := exec.Command("mknod", "-m", "666", filepath.Join(root, "dev/null"), "c", "1", "3").CombinedOutput(); err != nil {
		t.Fatalf("mknod dev/null in the scratch root: %v %s", err, out)
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available", "calls"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// calls returns (and forgets) what the maintainer scripts asked of the fake tools.
func calls(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "calls"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "calls"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantCalls(t *testing.T, step, got string, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if got == "" {
		lines = nil
	}
	if !slices.Equal(lines, want) {
		t.Errorf("%s: the scripts called\n  %s\nwant\n  %s", step, strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
	}
}

func exists(root, path string) bool {
	_, err := os.Lstat(filepath.Join(root, path))
	return err == nil
}

func checkDpkgInstall(t *testing.T, deb string) {
	root := scratchRoot(t)
	dpkg := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("dpkg", append([]string{"--root", root, "--force-depends", "--force-confold"}, args...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	// A first install: files in place, the unit neither enabled nor started.
	dpkg("-i", deb)
	wantCalls(t, "install", calls(t, root),
		"deb-systemd-helper unmask ecs.service",
		"deb-systemd-helper update-state ecs.service",
		"systemctl --system daemon-reload")
	for path := range wantFiles {
		if !slices.Contains(rpmOnly, path) && !exists(root, path) {
			t.Errorf("after dpkg -i, %s is missing", path)
		}
	}
	fi, err := os.Stat(filepath.Join(root, "var/lib/ecs/data"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("/var/lib/ecs/data: %v, %v; want mode 0700", fi, err)
	}
	if !strings.Contains(dpkg("-s", "ecsd"), "Status: install ok installed") {
		t.Error("dpkg -s ecsd: not installed")
	}

	// An upgrade while the agent runs: prerm stops it, postinst starts it again; the
	// administrator's ecs.config stays.
	conf := filepath.Join(root, "etc/ecs/ecs.config")
	if err := os.WriteFile(conf, []byte("ECS_CLUSTER=packaged\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "active"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dpkg("-i", deb)
	wantCalls(t, "upgrade", calls(t, root),
		"systemctl --quiet is-active ecs.service",
		"deb-systemd-invoke stop ecs.service",
		"deb-systemd-helper unmask ecs.service",
		"deb-systemd-helper update-state ecs.service",
		"systemctl --system daemon-reload",
		"deb-systemd-invoke start ecs.service")
	if b, _ := os.ReadFile(conf); string(b) != "ECS_CLUSTER=packaged\n" {
		t.Errorf("the upgrade replaced the edited ecs.config: %q", b)
	}
	if exists(root, "run/ecsd-upgrade.was-active") {
		t.Error("the upgrade left its marker behind")
	}

	// An upgrade while the agent is stopped leaves it stopped.
	if err := os.Remove(filepath.Join(root, "active")); err != nil {
		t.Fatal(err)
	}
	dpkg("-i", deb)
	wantCalls(t, "upgrade while stopped", calls(t, root),
		"systemctl --quiet is-active ecs.service",
		"deb-systemd-invoke stop ecs.service",
		"deb-systemd-helper unmask ecs.service",
		"deb-systemd-helper update-state ecs.service",
		"systemctl --system daemon-reload")

	// remove: stopped, the programs gone, configuration, state and logs kept.
	for _, f := range []string{"var/lib/ecs/data/checkpoint", "var/log/ecs/ecs-agent.log"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dpkg("-r", "ecsd")
	wantCalls(t, "remove", calls(t, root),
		"deb-systemd-invoke stop ecs.service",
		"systemctl --system daemon-reload")
	for _, gone := range []string{"usr/bin/ecs-agent", "usr/libexec/ecsd/ecs-init", "lib/systemd/system/ecs.service"} {
		if exists(root, gone) {
			t.Errorf("after dpkg -r, %s is still there", gone)
		}
	}
	for _, kept := range []string{"etc/ecs/ecs.config", "var/lib/ecs/data/checkpoint", "var/log/ecs/ecs-agent.log"} {
		if !exists(root, kept) {
			t.Errorf("dpkg -r removed %s", kept)
		}
	}

	// purge: the configuration file, the unit's enablement and the logs go; the agent's
	// state and data directory stay.
	dpkg("--purge", "ecsd")
	wantCalls(t, "purge", calls(t, root),
		"systemctl --system daemon-reload",
		"deb-systemd-helper purge ecs.service",
		"deb-systemd-helper unmask ecs.service")
	for _, gone := range []string{"etc/ecs/ecs.config", "var/log/ecs"} {
		if exists(root, gone) {
			t.Errorf("after dpkg --purge, %s is still there", gone)
		}
	}
	if !exists(root, "var/lib/ecs/data/checkpoint") {
		t.Error("dpkg --purge removed the data directory")
	}
}

func checkRPMInstall(t *testing.T, pkg string) {
	root := scratchRoot(t)
	rpm := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("rpm", append([]string{"--root", root, "--nodeps"}, args...)...)
		cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("rpm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	cmdOut(t, "rpm", "--root", root, "--initdb")

	rpm("-i", pkg)
	wantCalls(t, "install", calls(t, root),
		"systemctl --no-reload preset ecs.service",
		"systemctl daemon-reload")
	for path := range wantFiles {
		if !slices.Contains(debOnly, path) && !exists(root, path) {
			t.Errorf("after rpm -i, %s is missing", path)
		}
	}

	// An upgrade (the same package again) while the agent runs: %pre stops it,
	// %posttrans starts it; the edited ecs.config stays.
	conf := filepath.Join(root, "etc/ecs/ecs.config")
	if err := os.WriteFile(conf, []byte("ECS_CLUSTER=packaged\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "active"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rpm("-U", "--replacepkgs", pkg)
	wantCalls(t, "upgrade", calls(t, root),
		"systemctl --quiet is-active ecs.service",
		"systemctl stop ecs.service",
		"systemctl daemon-reload",
		"systemctl daemon-reload",
		"systemctl start ecs.service")
	if b, _ := os.ReadFile(conf); string(b) != "ECS_CLUSTER=packaged\n" {
		t.Errorf("the upgrade replaced the edited ecs.config: %q", b)
	}

	// Erase: disabled and stopped; state and logs kept, the edited configuration saved.
	for _, f := range []string{"var/lib/ecs/data/checkpoint", "var/log/ecs/ecs-agent.log"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rpm("-e", "ecsd")
	wantCalls(t, "erase", calls(t, root),
		"systemctl --no-reload disable --now ecs.service",
		"systemctl daemon-reload")
	for _, gone := range []string{"usr/bin/ecs-agent", "usr/lib/systemd/system/ecs.service"} {
		if exists(root, gone) {
			t.Errorf("after rpm -e, %s is still there", gone)
		}
	}
	for _, kept := range []string{"etc/ecs/ecs.config.rpmsave", "var/lib/ecs/data/checkpoint", "var/log/ecs/ecs-agent.log"} {
		if !exists(root, kept) {
			t.Errorf("after rpm -e, %s is missing", kept)
		}
	}
	if t.Failed() {
		out, _ := exec.Command("find", root, "-path", root+"/bin", "-prune", "-o", "-print").CombinedOutput()
		t.Logf("the scratch root holds:\n%s", out)
	}
}
