//go:build systemd

package systemd

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The Debian root the machine boots: bookworm (Debian 12) from Debian's archive, the
// minimal base plus systemd and what ecsd's package depends on (read from the package),
// in Debian's own versions (containerd 1.6, runc 1.1, iptables 1.8 with the nft backend,
// CNI plugins 1.1). The package under test is installed on every run, not cached.
const (
	suite   = "bookworm"
	variant = "minbase"
	// recipe names the steps of buildRoot after debootstrap; change it when they change, so
	// cached roots built the old way are rebuilt.
	recipe = "2"
)

// basePackages are added to debootstrap's minimal base, with the package's dependencies.
var basePackages = []string{"systemd", "systemd-sysv", "dbus", "iproute2"}

// rootPackages is basePackages and the names the .deb's Depends and Pre-Depends fields
// give (the first of alternatives, without versions), sorted: the machine has everything
// dpkg -i needs, and nothing needs the network once the root is built.
func rootPackages(t *testing.T, deb string) []string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", "--field", deb, "Depends", "Pre-Depends").Output()
	if err != nil {
		t.Fatalf("dpkg-deb --field %s: %v", deb, err)
	}
	set := map[string]bool{}
	for _, p := range basePackages {
		set[p] = true
	}
	for _, line := range strings.Split(string(out), "\n") {
		value := line // a folded continuation line
		if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
			var ok bool
			if _, value, ok = strings.Cut(line, ":"); !ok {
				continue
			}
		}
		for _, dep := range strings.Split(value, ",") {
			first, _, _ := strings.Cut(dep, "|")
			name := strings.Fields(first)
			if len(name) > 0 {
				set[strings.Split(name[0], ":")[0]] = true
			}
		}
	}
	var pkgs []string
	for p := range set {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	return pkgs
}

// maskedUnits would only slow the boot or wait for a terminal: the console is a pipe.
var maskedUnits = []string{
	"console-getty.service", "getty@.service", "systemd-timesyncd.service",
	"apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer",
	"e2scrub_all.timer", "e2scrub_reap.service", "fstrim.timer",
}

// Cache locations; ECSD_SYSTEMD_TEST_CACHE and ECSD_SYSTEMD_TEST_MIRROR override them.
const (
	defaultCacheDir = "/var/cache/ecsd/systemd-test"
	defaultMirror   = "http://deb.debian.org/debian"
)

func cacheDir() string {
	if d := os.Getenv("ECSD_SYSTEMD_TEST_CACHE"); d != "" {
		return d
	}
	return defaultCacheDir
}

func mirror() string {
	if m := os.Getenv("ECSD_SYSTEMD_TEST_MIRROR"); m != "" {
		return m
	}
	return defaultMirror
}

// rootKey names a root by everything it is built from, so a changed package list, mirror
// or recipe builds a new one instead of reusing a stale root.
func rootKey(packages []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "suite=%s\nvariant=%s\nmirror=%s\nrecipe=%s\n", suite, variant, mirror(), recipe)
	for _, p := range packages {
		fmt.Fprintf(h, "package=%s\n", p)
	}
	for _, u := range maskedUnits {
		fmt.Fprintf(h, "mask=%s\n", u)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// completeMarker is written last into a finished root; a directory without it is not used.
const completeMarker = ".ecsd-root-complete"

// cachedRoot returns the directory of the Debian root with packages, building it with
// debootstrap first when the cache has none for their rootKey. The root is only ever read afterwards (machines
// boot an overlay of it). A lock file keeps two test runs from building it at once; the
// downloaded .debs are kept in the cache's debs/ so a rebuild downloads only what changed.
func cachedRoot(t *testing.T, p *progress, packages []string) string {
	t.Helper()
	dir := cacheDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close() // and with it the lock
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", lock.Name(), err)
	}

	root := filepath.Join(dir, suite+"-"+rootKey(packages))
	if _, err := os.Stat(filepath.Join(root, completeMarker)); err == nil {
		p.step("Debian %s root cached at %s", suite, root)
		return root
	}
	p.step("building the Debian %s root with debootstrap from %s into %s (once; a few minutes): %s",
		suite, mirror(), root, strings.Join(packages, " "))
	building := root + ".building"
	if err := removeUnmounted(building); err != nil {
		t.Fatal(err)
	}
	if err := buildRoot(t, p, building, packages); err != nil {
		// debootstrap mounts /proc and /sys (and may bind /dev) in the target while it
		// installs; a failed run can leave them.
		if uerr := unmountBeneath(building); uerr != nil {
			t.Errorf("unmount what debootstrap left in %s: %v", building, uerr)
		}
		t.Fatalf("build the Debian root: %v", err)
	}
	if err := removeUnmounted(root); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(building, root); err != nil {
		t.Fatal(err)
	}
	// Roots of other keys are stale (another package list or recipe): drop them.
	old, _ := filepath.Glob(filepath.Join(dir, suite+"-*"))
	for _, o := range old {
		if o != root {
			p.step("removing the stale root %s", o)
			if err := removeUnmounted(o); err != nil {
				t.Errorf("remove the stale root: %v", err)
			}
		}
	}
	p.step("Debian %s root ready", suite)
	return root
}

// buildRoot runs debootstrap into dir and prepares the result for booting.
func buildRoot(t *testing.T, p *progress, dir string, packages []string) error {
	t.Helper()
	debs := filepath.Join(cacheDir(), "debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(cacheDir(), "debootstrap.log")
	cmd := exec.Command("debootstrap", "--variant="+variant, "--include="+strings.Join(packages, ","),
		"--cache-dir="+debs, suite, dir, mirror())
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	if err := runWithProgress(p, "debootstrap", cmd, logPath); err != nil {
		return fmt.Errorf("debootstrap (log %s): %w", logPath, err)
	}
	for _, u := range maskedUnits {
		link := filepath.Join(dir, "etc/systemd/system", u)
		_ = os.Remove(link)
		if err := os.Symlink("/dev/null", link); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/hostname"), []byte("ecsd-boot\n"), 0o644); err != nil {
		return err
	}
	// An empty machine-id: systemd makes a fresh one at every boot, as on a first boot.
	if err := os.WriteFile(filepath.Join(dir, "etc/machine-id"), nil, 0o444); err != nil {
		return err
	}
	for _, f := range []string{"containerd", "ctr", "runc", "iptables-save", "ip6tables-save", "systemctl", "journalctl", "mount"} {
		if out, err := exec.Command("chroot", dir, "sh", "-c", "command -v "+f).CombinedOutput(); err != nil {
			return fmt.Errorf("the root has no %s: %v %s", f, err, out)
		}
	}
	return os.WriteFile(filepath.Join(dir, completeMarker), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
}

// runWithProgress runs cmd with its output in logPath and prints a progress line every
// ten seconds with the command's latest line, so a cold build is never minutes of silence.
func runWithProgress(p *progress, name string, cmd *exec.Cmd, logPath string) error {
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var mu sync.Mutex
	last := ""
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		s := bufio.NewScanner(pr)
		for s.Scan() {
			fmt.Fprintln(logFile, s.Text())
			mu.Lock()
			last = s.Text()
			mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	if err := cmd.Start(); err != nil {
		pw.Close()
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	start := time.Now()
	for {
		select {
		case err := <-done:
			pw.Close()
			<-scanned
			if err != nil {
				mu.Lock()
				defer mu.Unlock()
				return fmt.Errorf("%s: %w (last line: %s)", name, err, last)
			}
			return nil
		case <-tick.C:
			mu.Lock()
			p.step("%s running for %s: %s", name, time.Since(start).Round(time.Second), last)
			mu.Unlock()
		}
	}
}

// progress prints a line per step with the time since the test started.
type progress struct {
	t     *testing.T
	start time.Time
}

func newProgress(t *testing.T) *progress {
	t.Helper()
	return &progress{t: t, start: time.Now()}
}

func (p *progress) step(format string, args ...any) {
	p.t.Helper()
	p.t.Logf("[%6.1fs] %s", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// requireTools fails (never skips: a skipped boot test must not pass as green) when the
// host lacks what the test runs; hack/install-deps.sh installs them.
func requireTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"debootstrap", "systemd-nspawn", "nsenter", "chroot"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed; run hack/install-deps.sh (installs debootstrap and systemd-container)", tool)
		}
	}
}

// mountsBeneath lists the mount points at or beneath dir in this mount namespace, deepest
// first.
func mountsBeneath(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if e, ok := parseMountinfo(line); ok && (e.mountpoint == dir || strings.HasPrefix(e.mountpoint, dir+"/")) {
			out = append(out, e.mountpoint)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

// unmountBeneath unmounts everything mounted at or beneath dir, deepest first.
func unmountBeneath(dir string) error {
	mounts, err := mountsBeneath(dir)
	if err != nil {
		return err
	}
	for _, mp := range mounts {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("unmount %s: %w", mp, err)
		}
	}
	return nil
}

// removeUnmounted removes dir after unmounting what is mounted beneath it, and refuses to
// if something stays mounted: os.RemoveAll would go on into the mounted file system (a
// /dev bound by debootstrap, say) and delete the host's files.
func removeUnmounted(dir string) error {
	if err := unmountBeneath(dir); err != nil {
		return err
	}
	if mounts, err := mountsBeneath(dir); err != nil || len(mounts) > 0 {
		return fmt.Errorf("not removing %s: still mounted beneath it: %v %v", dir, mounts, err)
	}
	return os.RemoveAll(dir)
}
