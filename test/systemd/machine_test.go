//go:build systemd

package systemd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecsd/ecsd/internal/netns"
	"github.com/ecsd/ecsd/internal/testenv"
)

// runDir holds each machine's overlay (upper, work, merged), its containerd directory and
// its console log while it runs.
const runDir = "/var/tmp/ecsd-systemd-test"

// machine is one boot of the cached Debian root under systemd-nspawn: PID 1 is Debian's
// systemd, with its own PID, mount, IPC, UTS, cgroup and network namespaces. Nothing it
// does reaches the host's network: it has only its own loopback, into which the test
// forwards the host's loopback services it may use (the registry, the control plane).
type machine struct {
	t      *testing.T
	p      *progress
	name   string
	dir    string
	merged string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
	// leader is the machine's PID 1 (systemd) as the host sees it.
	leader int
	ctx    context.Context
	cancel context.CancelFunc
}

// bootMachine boots root (read-only: the machine writes to an overlay of its own) and
// waits until systemd reports the system running. Everything it creates is removed when
// the test ends, whether it passed or not.
func bootMachine(t *testing.T, p *progress, root string) *machine {
	t.Helper()
	m := &machine{t: t, p: p, name: testenv.UniqueName(t, "ecsd-boot-"), exited: make(chan struct{})}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	t.Cleanup(m.cancel)
	m.dir = filepath.Join(runDir, m.name)
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Only after the overlay is unmounted (cleanups run last registered first); never
		// through a mount that stayed.
		if err := removeUnmounted(m.dir); err != nil {
			t.Errorf("remove %s: %v", m.dir, err)
		}
	})

	// The overlay: the cached root stays untouched, every run starts from it.
	upper, work := filepath.Join(m.dir, "upper"), filepath.Join(m.dir, "work")
	m.merged = filepath.Join(m.dir, "root")
	for _, d := range []string{upper, work, m.merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", root, upper, work)
	if err := unix.Mount("overlay", m.merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mount the machine's overlay: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(m.merged, 0); err != nil {
			t.Errorf("unmount %s: %v", m.merged, err)
			_ = unix.Unmount(m.merged, unix.MNT_DETACH)
		}
	})
	// containerd's overlayfs snapshotter cannot stack its overlays on the machine's
	// overlay root: /var/lib/containerd is a plain directory of the host's file system.
	containerdDir := filepath.Join(m.dir, "containerd")
	if err := os.Mkdir(containerdDir, 0o711); err != nil {
		t.Fatal(err)
	}

	// Removed (by machineCgroups' cleanup) once the machine is off.
	_, procs := machineCgroups(t, m.name)

	console, err := os.Create(filepath.Join(m.dir, "console.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { console.Close() })
	args := []string{
		"systemd-nspawn", "--boot", "--directory=" + m.merged, "--machine=" + m.name,
		// No systemd on this host to register with or to ask for a scope: the machine runs
		// in the cgroups this test made (machineCgroups) and nspawn splits them itself.
		"--register=no", "--keep-unit",
		// Its own network namespace, with loopback only. nspawn also makes /proc/sys/net
		// writable then (ecs-init sets route_localnet there).
		"--private-network",
		// A container host: containerd, runc and the agent need every capability, and runc
		// the keyring calls nspawn filters by default.
		"--capability=all", "--system-call-filter=add_key keyctl bpf",
		"--console=pipe", "--link-journal=no", "--resolv-conf=off", "--timezone=off",
		"--bind=" + containerdDir + ":/var/lib/containerd",
	}
	m.cmd = exec.Command(os.Args[0], args...)
	m.cmd.Env = append(os.Environ(), envExecInCgroups+"="+strings.Join(procs, "\n"))
	m.cmd.Stdout, m.cmd.Stderr = console, console
	p.step("booting %s: systemd-nspawn --boot of an overlay of the cached root", m.name)
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start systemd-nspawn: %v", err)
	}
	go func() {
		m.err = m.cmd.Wait()
		close(m.exited)
	}()
	t.Cleanup(m.poweroff)

	m.leader = m.findLeader()
	t.Cleanup(func() {
		if t.Failed() {
			m.diagnose()
		}
	})
	m.waitRunning()
	m.writableCgroups()
	return m
}

// findLeader waits for nspawn's child to become systemd and returns its PID.
func (m *machine) findLeader() int {
	m.t.Helper()
	deadline := time.Now().Add(time.Minute)
	pid := m.cmd.Process.Pid
	for time.Now().Before(deadline) {
		select {
		case <-m.exited:
			m.t.Fatalf("systemd-nspawn exited before booting (%v):\n%s", m.err, m.console())
		default:
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		for _, f := range strings.Fields(string(b)) {
			comm, _ := os.ReadFile("/proc/" + f + "/comm")
			if strings.TrimSpace(string(comm)) == "systemd" {
				n, err := strconv.Atoi(f)
				if err == nil {
					return n
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.t.Fatalf("systemd never started in the machine:\n%s", m.console())
	return 0
}

// waitRunning waits for `systemctl is-system-running --wait` to say running (or degraded:
// the failed units are then logged, and the test goes on if containerd is up).
func (m *machine) waitRunning() {
	m.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(m.ctx, time.Minute)
		out, _ := m.exec(ctx, "systemctl", "is-system-running", "--wait")
		cancel()
		state := strings.TrimSpace(out)
		switch state {
		case "running":
			m.p.step("the machine is up: systemd says %q", state)
			return
		case "degraded":
			failed, _ := m.exec(m.ctx, "systemctl", "--failed", "--no-legend")
			m.p.step("the machine is up but degraded; failed units:\n%s", failed)
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("the machine never finished booting (is-system-running: %q):\n%s", state, m.console())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// writableCgroups remounts the machine's cgroup v1 controller hierarchies read-write. On a
// cgroup v1 (or hybrid) host nspawn gives a container its controllers read-only, which
// suits a container that runs services but not one that runs containerd: runc writes the
// limits of every task container there. The machine runs in cgroups of its own
// (machineCgroups), so what runc creates stays beneath them and goes with them.
func (m *machine) writableCgroups() {
	m.t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/mountinfo", m.leader))
	if err != nil {
		m.t.Fatal(err)
	}
	defer f.Close()
	var remounted []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		mi, ok := parseMountinfo(s.Text())
		if !ok || mi.fstype != "cgroup" || strings.Contains(mi.superOpts, "name=") || !hasOpt(mi.mountOpts, "ro") {
			continue
		}
		if out, err := m.exec(m.ctx, "mount", "-o", "remount,bind,rw", mi.mountpoint); err != nil {
			m.t.Fatalf("remount %s read-write in the machine: %v\n%s", mi.mountpoint, err, out)
		}
		remounted = append(remounted, filepath.Base(mi.mountpoint))
	}
	if len(remounted) > 0 {
		m.p.step("cgroup v1 controllers made writable for containerd in the machine: %s", strings.Join(remounted, " "))
	}
}

// exec runs a command in the machine (all its namespaces, its root) and returns its
// combined output.
func (m *machine) exec(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--target", strconv.Itoa(m.leader), "--all", "--"}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "HOME=/root", "TERM=dumb", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// must runs a command in the machine and fails the test if it fails.
func (m *machine) must(args ...string) string {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(m.ctx, 3*time.Minute)
	defer cancel()
	out, err := m.exec(ctx, args...)
	if err != nil {
		m.t.Fatalf("in the machine: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// netnsPath is the machine's network namespace.
func (m *machine) netnsPath() string { return fmt.Sprintf("/proc/%d/ns/net", m.leader) }

// forward makes the host's loopback address addr reachable at the same address in the
// machine, until the test ends.
func (m *machine) forward(addr string) {
	m.t.Helper()
	f, err := netns.Forward(m.ctx, m.netnsPath(), addr, addr)
	if err != nil {
		m.t.Fatalf("forward %s into the machine: %v", addr, err)
	}
	m.t.Cleanup(func() { _ = f.Close() })
}

// httpClient connects from inside the machine's network namespace.
func (m *machine) httpClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return netns.Dial(ctx, m.netnsPath(), network, addr)
		},
	}}
}

// writeFile writes a file into the machine's root (its overlay) from the host.
func (m *machine) writeFile(path string, data []byte, mode os.FileMode) {
	m.t.Helper()
	full := filepath.Join(m.merged, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(full, data, mode); err != nil {
		m.t.Fatal(err)
	}
}

// poweroff shuts the machine down as an administrator would (systemctl poweroff) and
// waits for nspawn to exit; after 90 s it kills nspawn and the machine's PID 1, which
// ends the machine's PID namespace and with it every process in it.
func (m *machine) poweroff() {
	select {
	case <-m.exited:
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, _ = m.exec(ctx, "systemctl", "poweroff", "--no-block")
		cancel()
		select {
		case <-m.exited:
		case <-time.After(90 * time.Second):
			m.t.Errorf("the machine did not power off within 90s; killing systemd-nspawn")
			_ = m.cmd.Process.Kill()
			if m.leader > 0 {
				_ = syscall.Kill(m.leader, syscall.SIGKILL)
			}
			<-m.exited
		}
		m.p.step("the machine is powered off")
	}
	// nspawn leaves its (empty) mount propagation directory behind when /run is not a tmpfs.
	prop := filepath.Join("/run/systemd/nspawn/propagate", m.name)
	if err := os.Remove(prop); err != nil && !errors.Is(err, os.ErrNotExist) {
		m.t.Errorf("remove %s: %v", prop, err)
	}
}

func (m *machine) console() string {
	b, _ := os.ReadFile(filepath.Join(m.dir, "console.log"))
	return tail(string(b), 8000)
}

// diagnose logs what explains a failure: failed units, the journal of ecs and containerd.
func (m *machine) diagnose() {
	select {
	case <-m.exited:
		m.t.Logf("console:\n%s", m.console())
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, args := range [][]string{
		{"systemctl", "--failed", "--no-legend"},
		{"systemctl", "status", "ecs", "containerd", "--no-pager"},
		{"journalctl", "-u", "ecs", "-u", "containerd", "--no-pager", "-n", "300"},
	} {
		out, err := m.exec(ctx, args...)
		m.t.Logf("machine: %s (%v):\n%s", strings.Join(args, " "), err, tail(out, 30000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// mountinfoEntry is what the test reads of a /proc/PID/mountinfo line.
type mountinfoEntry struct {
	root, mountpoint, mountOpts, fstype, superOpts string
}

func parseMountinfo(line string) (mountinfoEntry, bool) {
	pre, post, ok := strings.Cut(line, " - ")
	if !ok {
		return mountinfoEntry{}, false
	}
	a, b := strings.Fields(pre), strings.Fields(post)
	if len(a) < 6 || len(b) < 3 {
		return mountinfoEntry{}, false
	}
	return mountinfoEntry{root: a[3], mountpoint: unescapeMountinfo(a[4]), mountOpts: a[5], fstype: b[0], superOpts: b[2]}, true
}

func unescapeMountinfo(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

func hasOpt(opts, opt string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// machineCgroups creates a cgroup called name beneath the test process's own cgroup in
// every hierarchy the host has mounted (the v1 controllers, name=systemd, the unified
// one) and returns the directories and their cgroup.procs files. systemd-nspawn starts in
// them (envExecInCgroups), so the machine's cgroup namespace is rooted there: its systemd,
// containerd and runc create their cgroups beneath these, never elsewhere on the host, and
// removing them removes everything the machine made.
func machineCgroups(t *testing.T, name string) (dirs, procs []string) {
	t.Helper()
	mounts := map[string]string{} // controller (or "name=x", or "" for v2) → mount point
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mi), "\n") {
		e, ok := parseMountinfo(line)
		if !ok || e.root != "/" {
			continue
		}
		switch e.fstype {
		case "cgroup2":
			if _, dup := mounts[""]; !dup {
				mounts[""] = e.mountpoint
			}
		case "cgroup":
			for _, o := range strings.Split(e.superOpts, ",") {
				if _, dup := mounts[o]; !dup && o != "rw" && o != "ro" {
					mounts[o] = e.mountpoint
				}
			}
		}
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			if err := removeCgroupTree(d); err != nil {
				t.Errorf("remove the machine's cgroup %s: %v", d, err)
			}
		}
	})
	for _, line := range strings.Split(strings.TrimSpace(string(own)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		key := strings.Split(parts[1], ",")[0]
		mp, ok := mounts[key]
		if !ok {
			continue // a hierarchy this mount namespace does not show
		}
		parent := filepath.Join(mp, parts[2])
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatalf("create the machine's cgroup: %v", err)
		}
		dirs = append(dirs, dir)
		// A v1 cpuset cgroup starts with no CPUs and no memory nodes: give it its parent's.
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(parent, f)); err == nil {
				if err := os.WriteFile(filepath.Join(dir, f), v, 0); err != nil {
					t.Fatalf("cgroup %s: %s: %v", dir, f, err)
				}
			}
		}
		procs = append(procs, filepath.Join(dir, "cgroup.procs"))
	}
	if len(procs) == 0 {
		t.Fatal("no cgroup hierarchy found in /proc/self/cgroup")
	}
	return dirs, procs
}

// removeCgroupTree removes dir and the cgroups beneath it, deepest first. A cgroup whose
// last process just died can be busy for a moment; that is retried for ten seconds.
func removeCgroupTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroupTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("rmdir %s: %w", dir, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
