// Package hostfs is the real runtime.HostFS: tmpfs mounts for tasks' shared /dev/shm and
// the host's network interfaces, the few host operations the controllers need that take
// root or the host's network namespace.
package hostfs

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ecsd/ecsd/runtime"
)

// Host is the host the agent runs on.
type Host struct{}

var _ runtime.HostFS = Host{}

// MountTmpfs mounts a tmpfs of size bytes at path unless one is already mounted there.
func (Host) MountTmpfs(path string, size int64) error {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return fmt.Errorf("tmpfs at %s: %w", path, err)
	}
	if mounted, err := isMountPoint(path); err != nil || mounted {
		return err
	}
	opts := "mode=1777,size=" + strconv.FormatInt(size, 10)
	if err := unix.Mount("tmpfs", path, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		return fmt.Errorf("mount tmpfs at %s: %w", path, err)
	}
	return nil
}

// Unmount detaches what is mounted at path; absent or not mounted is success.
func (Host) Unmount(path string) error {
	mounted, err := isMountPoint(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil || !mounted {
		return err
	}
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	return nil
}

// InterfaceWithMAC reports whether the agent's network namespace has an interface with mac.
func (Host) InterfaceWithMAC(mac string) (bool, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return false, fmt.Errorf("list network interfaces: %w", err)
	}
	for _, i := range ifs {
		if strings.EqualFold(i.HardwareAddr.String(), mac) {
			return true, nil
		}
	}
	return false, nil
}

// isMountPoint reports whether path is on another device than its parent.
func isMountPoint(path string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return false, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if err := unix.Stat(filepath.Dir(path), &parent); err != nil {
		return false, &os.PathError{Op: "stat", Path: filepath.Dir(path), Err: err}
	}
	return st.Dev != parent.Dev, nil
}
