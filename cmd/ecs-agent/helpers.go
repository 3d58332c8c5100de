package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-logr/logr"
	"github.com/moby/sys/mountinfo"

	"github.com/ecsd/ecsd/config"
)

// awslogsName is the shipping logger ecsd-logger execs, from its own directory.
const awslogsName = "ecsd-logger-awslogs"

// shipName is the shipping logger ecsd-logger execs for fluentd, syslog and gelf.
const shipName = "ecsd-logger-ship"

// helperNames are the binaries that run on the host on the agent's behalf: containerd's
// shims run ecsd-logger for every task container (which execs ecsd-logger-awslogs or
// ecsd-logger-ship next to itself), and runc bind-mounts ecsd-init into containers and the
// namespace holders.
var helperNames = []string{loggerName, awslogsName, shipName, initName}

// hostRootDir is the host's root file system as seen from the agent's container: PID 1's
// root, which is the host's when the agent shares the host's PID namespace, as the agent
// image's run line requires.
const hostRootDir = "/proc/1/root"

// useHelpersDir applies ECSD_HELPERS_DIR. An agent in a container (the agent image) cannot
// hand containerd paths inside its own root file system: the shim and runc run on the host
// and resolve them there. So it copies its helpers into a host directory mounted at the
// same path in the container, checks that the host sees the copies, and uses them for
// ECSD_LOGGER_PATH and ECSD_INIT_PATH unless those are set. Without ECSD_HELPERS_DIR the
// helpers are used where they are installed.
func useHelpersDir(cfg *config.Config, log logr.Logger) error {
	if cfg.HelpersDir == "" {
		return nil
	}
	setting := "ECSD_HELPERS_DIR=" + cfg.HelpersDir
	if !filepath.IsAbs(cfg.HelpersDir) {
		return fmt.Errorf("%w: %s: the path must be absolute", errTerminal, setting)
	}
	if os.Getpid() == 1 {
		// PID 1 of its own PID namespace: the task processes containerd reports (host PIDs)
		// would not be found under /proc.
		return fmt.Errorf("%w: %s: the agent is PID 1 of a PID namespace of its own; run its container in the host's PID namespace (ctr --with-ns pid:/proc/1/ns/pid, nerdctl/docker --pid=host)", errTerminal, setting)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("%w: %s: cannot find the agent's executable to find its helpers: %v", errTerminal, setting, err)
	}
	copied, err := installHelpers(filepath.Dir(exe), cfg.HelpersDir)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errTerminal, setting, err)
	}
	if err := checkHostSees(hostRootDir, cfg.HelpersDir, log); err != nil {
		return fmt.Errorf("%w: %s: %v", errTerminal, setting, err)
	}
	if err := checkSharedMounts("/proc/self/mountinfo", sharedDirs(cfg.DataDir)); err != nil {
		return fmt.Errorf("%w: %s (the agent runs in a container): %v", errTerminal, setting, err)
	}
	log.Info("helpers installed for containerd's shims", "dir", cfg.HelpersDir, "updated", copied)
	if cfg.LoggerPath == "" {
		cfg.LoggerPath = filepath.Join(cfg.HelpersDir, loggerName)
	}
	if p := filepath.Join(cfg.HelpersDir, initName); cfg.InitPath == "" && checkExecutable(p) == nil {
		cfg.InitPath = p
	}
	return nil
}

// installHelpers copies every helper found in src into dst (created 0755) and returns the
// names it had to write. A copy already identical is left alone; a different one is
// replaced by rename, so a shim running the old file keeps its inode and a new one never
// sees a half-written file. A helper missing from src is removed from dst, so an old copy
// is never used for a newer agent; the checks that follow (findLogger, findInit) report it.
func installHelpers(src, dst string) ([]string, error) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, err
	}
	var copied []string
	for _, name := range helperNames {
		from, to := filepath.Join(src, name), filepath.Join(dst, name)
		if filepath.Clean(from) == filepath.Clean(to) {
			continue
		}
		same, err := sameContent(from, to)
		if errors.Is(err, fs.ErrNotExist) && !exists(from) {
			if err := os.Remove(to); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return copied, err
			}
			continue
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return copied, err
		}
		if same {
			continue
		}
		if err := copyExecutable(from, to); err != nil {
			return copied, err
		}
		copied = append(copied, name)
	}
	return copied, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// sameContent reports whether two files hold the same bytes; a missing one is an error
// (fs.ErrNotExist).
func sameContent(a, b string) (bool, error) {
	ha, na, err := fileHash(a)
	if err != nil {
		return false, err
	}
	hb, nb, err := fileHash(b)
	if err != nil {
		return false, err
	}
	return na == nb && bytes.Equal(ha, hb), nil
}

func fileHash(path string) ([]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, 0, err
	}
	return h.Sum(nil), n, nil
}

// copyExecutable writes from's bytes to a temporary file beside to, mode 0755, synced,
// then renames it over to.
func copyExecutable(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(to), "."+filepath.Base(to)+".tmp-*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, in); err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), to); err != nil {
		return err
	}
	ok = true
	return nil
}

// checkHostSees checks that the host (hostRoot, PID 1's root) has the very files the agent
// wrote into dir: the same directory is mounted at the same path. If the host's root
// cannot be read at all, it says so and goes on: there is nothing to compare with.
func checkHostSees(hostRoot, dir string, log logr.Logger) error {
	if _, err := os.Stat(hostRoot + "/"); err != nil {
		log.Info("cannot read the host's root file system to check that containerd sees the helpers; assuming it does", "path", hostRoot, "error", err.Error())
		return nil
	}
	mine := filepath.Join(dir, loggerName)
	in, err := os.Stat(mine)
	if err != nil {
		return err
	}
	host, err := os.Stat(filepath.Join(hostRoot, mine))
	if err == nil && os.SameFile(in, host) {
		return nil
	}
	return fmt.Errorf("the host does not see %s: mount the host's directory at the same path in the agent's container (README: Agent image)", mine)
}

// sharedDirs are the directories under which the agent mounts what runc, on the host, must
// see: tmpfs mounts (a task's /dev/shm) under ECS_DATADIR, and the tasks' network
// namespaces under its cni/netns (runtime/cni's state directory).
func sharedDirs(dataDir string) []string {
	return []string{dataDir, filepath.Join(dataDir, "cni", "netns")}
}

// checkSharedMounts checks, in the agent's mountinfo, that each dir is a mount point of its
// own that is shared and not a slave: only then do the mounts the agent makes under it in
// its container reach the host. The host makes them (mount --bind, --make-private,
// --make-shared) and the container gets them with rshared propagation and
// --rootfs-propagation rshared (README "Agent image"); without that, a task's namespace
// would exist only inside the agent's container and runc could not join it.
func checkSharedMounts(mountinfoPath string, dirs []string) error {
	f, err := os.Open(mountinfoPath)
	if err != nil {
		return err
	}
	defer f.Close()
	mounts, err := mountinfo.GetMountsFromReader(f, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", mountinfoPath, err)
	}
	for _, dir := range dirs {
		var found *mountinfo.Info
		for _, m := range mounts {
			if m.Mountpoint == filepath.Clean(dir) {
				found = m // the last one is on top
			}
		}
		switch {
		case found == nil:
			return fmt.Errorf("%s is not a mount point: on the host, make it a shared mount of its own (mount --bind %s %s; mount --make-private %s; mount --make-shared %s) before the agent's container starts (README: Agent image)", dir, dir, dir, dir, dir)
		case !strings.Contains(found.Optional, "shared:"):
			return fmt.Errorf("%s is not a shared mount in the agent's container (%q): mount it with rshared propagation (README: Agent image)", dir, found.Optional)
		case strings.Contains(found.Optional, "master:"):
			return fmt.Errorf("%s is a slave of the host's mount in the agent's container (%q), so what the agent mounts there never reaches the host: run the container with --rootfs-propagation rshared (README: Agent image)", dir, found.Optional)
		}
	}
	return nil
}
