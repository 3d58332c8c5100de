//go:build integration

package containerd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
)

// TestContainerConfig checks from inside running containers that each ContainerConfig
// field took effect.
func TestContainerConfig(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	pullBusybox(t, r)

	// start runs cfg (sleeping unless a command is set) and removes it at the end.
	start := func(t *testing.T, cfg runtime.ContainerConfig) runtime.ContainerConfig {
		t.Helper()
		if cfg.Command == nil && cfg.Entrypoint == nil {
			cfg.Command = []string{"sleep", "1000"}
		}
		run(t, r, cfg)
		t.Cleanup(func() {
			if err := r.RemoveContainer(testCtx(t), cfg.ID); err != nil {
				t.Errorf("RemoveContainer: %v", err)
			}
		})
		return cfg
	}
	fails := func(t *testing.T, id string, cmd ...string) {
		t.Helper()
		if code, out, err := r.Exec(testCtx(t), id, cmd); err != nil || code == 0 {
			t.Errorf("exec %q should fail: code %d err %v out %q", cmd, code, err, out)
		}
	}

	t.Run("env user workdir hostname", func(t *testing.T) {
		t.Parallel()
		cfg := busybox(t)
		cfg.Env = []string{"FOO=bar", "PATH=/bin:/usr/bin"}
		cfg.User = "nobody"
		cfg.WorkingDir = "/tmp"
		cfg.Hostname = "myhost"
		cfg = start(t, cfg)
		for cmd, want := range map[string]string{
			"echo $FOO $PATH": "bar /bin:/usr/bin", "id -u; id -g": "65534\n65534", "pwd": "/tmp",
			"hostname; echo $HOSTNAME": "myhost\nmyhost",
		} {
			if got := execOK(t, r, cfg.ID, "sh", "-c", cmd); got != want {
				t.Errorf("%s = %q, want %q", cmd, got, want)
			}
		}
	})

	t.Run("user forms", func(t *testing.T) {
		t.Parallel()
		for user, want := range map[string]string{"65534": "65534 65534", "123:456": "123 456", "nobody:0": "65534 0", "0": "0 0"} {
			cfg := busybox(t)
			cfg.User = user
			cfg = start(t, cfg)
			if got := execOK(t, r, cfg.ID, "sh", "-c", "echo $(id -u) $(id -g)"); got != want {
				t.Errorf("user %q: uid gid = %q, want %q", user, got, want)
			}
		}
	})

	t.Run("missing workdir is created", func(t *testing.T) {
		t.Parallel()
		cfg := busybox(t)
		cfg.WorkingDir = "/does/not/exist"
		cfg = start(t, cfg)
		if got := execOK(t, r, cfg.ID, "pwd"); got != cfg.WorkingDir {
			t.Errorf("pwd = %q", got)
		}
	})

	t.Run("entrypoint and command", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			ep, cmd []string
			want    string
		}{
			{ep: []string{"echo"}, want: "\n"}, // the image's Cmd ["sh"] is dropped
			{ep: []string{"echo", "a"}, cmd: []string{"b"}, want: "a b\n"},
			{cmd: []string{"echo", "c"}, want: "c\n"},
		} {
			cfg := busybox(t)
			cfg.Entrypoint, cfg.Command = tc.ep, tc.cmd
			cfg = start(t, cfg)
			waitExit(t, r, cfg.ID, 10*time.Second)
			if got := finalLog(t, r, cfg); got != tc.want {
				t.Errorf("entrypoint %q command %q: output %q, want %q", tc.ep, tc.cmd, got, tc.want)
			}
		}
	})

	t.Run("filesystems", func(t *testing.T) {
		t.Parallel()
		rw, ro := t.TempDir(), t.TempDir()
		cfg := busybox(t)
		cfg.ReadonlyRootFS = true
		cfg.ShmSize = 32 << 20
		cfg.Mounts = []runtime.Mount{
			{Type: "tmpfs", Destination: "/scratch", Options: []string{"size=1m"}},
			{Type: "bind", Source: rw, Destination: "/data"},
			{Type: "bind", Source: ro, Destination: "/ro", Options: []string{"ro"}},
		}
		cfg = start(t, cfg)
		fails(t, cfg.ID, "touch", "/x")
		fails(t, cfg.ID, "touch", "/ro/x")
		execOK(t, r, cfg.ID, "touch", "/scratch/x")
		execOK(t, r, cfg.ID, "sh", "-c", "echo written > /data/f")
		if b, err := os.ReadFile(filepath.Join(rw, "f")); err != nil || string(b) != "written\n" {
			t.Errorf("bind mount: %q, %v", b, err)
		}
		mounts := execOK(t, r, cfg.ID, "cat", "/proc/mounts")
		for _, want := range []string{" /scratch tmpfs rw,nosuid,nodev,relatime,size=1024k", " /dev/shm tmpfs ", "size=32768k"} {
			if !strings.Contains(mounts, want) {
				t.Errorf("/proc/mounts lacks %q:\n%s", want, mounts)
			}
		}
	})

	t.Run("resources", func(t *testing.T) {
		t.Parallel()
		parent := "/" + testenv.UniqueName(t, "ecsdt-cg-")
		cfg := busybox(t)
		cfg.MemoryLimit = 64 << 20
		cfg.MemoryReservation = 32 << 20
		cfg.CPUShares = 512
		cfg.CgroupParent = parent
		cfg.Ulimits = []runtime.Ulimit{{Name: "nofile", Soft: 2048, Hard: 4096}, {Name: "nproc", Soft: 500, Hard: 500}}
		cfg.Sysctls = map[string]string{"kernel.shmmax": "12345"}
		t.Cleanup(func() { removeCgroup(t, parent) }) // runs after the container's removal
		cfg = start(t, cfg)
		for cmd, want := range map[string]string{
			"cat /sys/fs/cgroup/memory/memory.limit_in_bytes":      "67108864",
			"cat /sys/fs/cgroup/memory/memory.soft_limit_in_bytes": "33554432",
			"cat /sys/fs/cgroup/cpu/cpu.shares":                    "512",
			// pid 1, because Debian's runc 1.1.5 (Go 1.19) execs with soft = hard nofile
			"awk '/open files|processes/ {print $(NF-2), $(NF-1)}' /proc/1/limits": "500 500\n2048 4096",
			"cat /proc/sys/kernel/shmmax":                                          "12345",
		} {
			if got := execOK(t, r, cfg.ID, "sh", "-c", cmd); got != want {
				t.Errorf("%s = %q, want %q", cmd, got, want)
			}
		}
		fails(t, cfg.ID, "sh", "-c", "echo 1 > /sys/fs/cgroup/memory/memory.limit_in_bytes") // mounted ro
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory", parent, cfg.ID)); err != nil {
			t.Errorf("container cgroup not under the parent: %v", err)
		}
	})

	t.Run("capabilities and seccomp", func(t *testing.T) {
		t.Parallel()
		cfg := busybox(t)
		cfg.CapAdd = []string{"SYS_TIME"}
		cfg.CapDrop = []string{"NET_RAW", "CAP_CHOWN"}
		cfg = start(t, cfg)
		caps, seccomp := procStatus(t, r, cfg.ID)
		if caps&(1<<25) == 0 || caps&(1<<13) != 0 || caps&1 != 0 {
			t.Errorf("CapEff %#x: want SYS_TIME, no NET_RAW, no CHOWN", caps)
		}
		if seccomp != "2" {
			t.Errorf("seccomp mode %q, want 2 (filter)", seccomp)
		}

		priv := busybox(t)
		priv.Privileged = true
		priv.Devices = []runtime.Device{{HostPath: "/dev/null", ContainerPath: "/dev/mynull"}}
		priv = start(t, priv)
		caps, seccomp = procStatus(t, r, priv.ID)
		if caps&(1<<21) == 0 || seccomp != "0" { // CAP_SYS_ADMIN, no filter
			t.Errorf("privileged: CapEff %#x seccomp %q", caps, seccomp)
		}
		execOK(t, r, priv.ID, "test", "-c", "/dev/kmsg")
	})

	t.Run("devices", func(t *testing.T) {
		t.Parallel()
		cfg := busybox(t)
		cfg.Devices = []runtime.Device{{HostPath: "/dev/null", ContainerPath: "/dev/mynull", Permissions: "rwm"}}
		cfg = start(t, cfg)
		execOK(t, r, cfg.ID, "sh", "-c", "test -c /dev/mynull && echo x > /dev/mynull")
	})

	t.Run("host network", func(t *testing.T) {
		t.Parallel()
		cfg := start(t, busybox(t))
		if got, want := execOK(t, r, cfg.ID, "stat", "-L", "-c", "%i", "/proc/self/ns/net"), nsInode(t, "/proc/self/ns/net"); got != want {
			t.Errorf("netns inode %s, want the host's %s", got, want)
		}
		hostResolv, _ := os.ReadFile("/etc/resolv.conf")
		if got := execOK(t, r, cfg.ID, "cat", "/etc/resolv.conf"); got != strings.TrimSpace(string(hostResolv)) {
			t.Errorf("resolv.conf = %q, want the host's", got)
		}
	})

	t.Run("network namespace", func(t *testing.T) {
		t.Parallel()
		name := testenv.UniqueName(t, "ecsdt-")
		if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add: %v: %s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
		cfg := busybox(t)
		cfg.NetNSPath = "/run/netns/" + name
		cfg = start(t, cfg)
		if got, want := execOK(t, r, cfg.ID, "stat", "-L", "-c", "%i", "/proc/self/ns/net"), nsInode(t, cfg.NetNSPath); got != want {
			t.Errorf("netns inode %s, want %s", got, want)
		}
		if got, want := execOK(t, r, cfg.ID, "hostname"), cfg.ID[:min(12, len(cfg.ID))]; got != want {
			t.Errorf("hostname %q, want %q", got, want)
		}
	})

	t.Run("init", func(t *testing.T) {
		t.Parallel()
		cfg := busybox(t)
		cfg.Init = true
		cfg = start(t, cfg)
		cmdline := execOK(t, r, cfg.ID, "cat", "/proc/1/cmdline")
		if r.findInit() == "" {
			t.Logf("no static init on this host: container runs without one (pid 1 %q)", cmdline)
			if !strings.HasPrefix(cmdline, "sleep") {
				t.Errorf("pid 1 = %q, want sleep", cmdline)
			}
			return
		}
		if !strings.HasPrefix(cmdline, initMountPath) {
			t.Errorf("pid 1 = %q, want %s", cmdline, initMountPath)
		}
		// The init forwards TERM to sleep, which (unlike a bare PID 1) dies of it.
		if err := r.Signal(testCtx(t), cfg.ID, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if st := waitExit(t, r, cfg.ID, 10*time.Second); st.ExitCode != 128+int32(syscall.SIGTERM) {
			t.Errorf("exit after SIGTERM = %d, want 143", st.ExitCode)
		}
	})
}

// procStatus returns CapEff and the Seccomp mode of a process in the container.
func procStatus(t *testing.T, r *Runtime, id string) (uint64, string) {
	t.Helper()
	var caps uint64
	var seccomp string
	for _, line := range strings.Split(execOK(t, r, id, "cat", "/proc/self/status"), "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "CapEff":
			caps, _ = strconv.ParseUint(v, 16, 64)
		case "Seccomp":
			seccomp = v
		}
	}
	return caps, seccomp
}

func nsInode(t *testing.T, path string) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(st.Ino)
}

// removeCgroup removes a test cgroup parent from every hierarchy (runc removes only the
// container's own cgroup).
func removeCgroup(t *testing.T, parent string) {
	t.Helper()
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + parent)
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
			t.Errorf("remove cgroup %s: %v", d, err)
		}
	}
}
