//go:build linux

// Package netns creates, enters and deletes named Linux network namespaces.
//
// A named namespace is an nsfs file bind-mounted onto a regular file in a directory, as
// `ip netns add` does under /run/netns: the mount keeps the namespace alive without a process
// in it, and its path is what CNI plugins and runc are given. The directory is made a shared
// mount of its own peer group, so namespaces created after a container runtime or shim forked
// its mount namespace still propagate into it (and their unmounts too, which lets the kernel
// free the namespace).
//
// Entering a namespace (Do, and with it Listen, ListenPacket and Dial) and creating a fresh
// one are done by github.com/containernetworking/plugins/pkg/ns, the CNI plugins' own
// package: it runs the function on a fresh, locked goroutine and, if the thread cannot be
// put back in its namespace, leaves it locked so the Go runtime terminates it instead of
// handing a thread in the wrong namespace to other goroutines. What stays here is what that
// package (and vishvananda/netns, whose named namespaces live in the fixed /var/run/netns)
// does not offer: namespaces named in a directory of our choosing, made a shared mount of
// its own peer group, with Create and Delete serialised between processes by a lock file,
// and the socket helpers. Sockets keep the namespace they were created in, so a listener or
// connection returned by Listen or Dial can be used from any goroutine.
//
// The package has no mutable package-level state.
package netns

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/sys/unix"
)

// ErrNotNetNS is returned when a path exists but is not a network namespace (for example an
// empty file left behind by a reboot).
var ErrNotNetNS = errors.New("not a network namespace")

// Create makes the network namespace dir/name and returns its path. It is idempotent: if the
// path already holds a namespace mount, that namespace is reused unchanged. dir is created if
// needed and made a shared mount of itself (see the package comment). Create and Delete
// serialise on a lock file ".<base of dir>.lock" next to dir (not inside it, where the self
// bind mount would hide it from a second caller).
func Create(dir, name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return "", fmt.Errorf("netns: invalid name %q", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("netns: create dir: %w", err)
	}
	// Serialise Create and Delete in this directory between goroutines and processes: two
	// callers must neither stack two self bind mounts nor mount two namespaces on one file.
	unlock, err := lockDir(dir)
	if err != nil {
		return "", err
	}
	defer unlock()

	if err := makeSharedMount(dir); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if ok, err := IsNetNS(path); err == nil && ok {
		return path, nil
	}
	// A plain file at path (a failed earlier attempt, or a mount lost in a reboot) is reused
	// as the mount point.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o444)
	if err != nil {
		return "", fmt.Errorf("netns: create %s: %w", path, err)
	}
	f.Close()

	if err := mountNew(path); err != nil {
		os.Remove(path)
		return "", err
	}
	return path, nil
}

// mountNew creates a network namespace and bind mounts it onto the file at path. The
// namespace is created on a thread of its own by ns.TempNetNS; its descriptor, reached
// through /proc/self/fd, is what gets mounted, so the mount keeps the namespace alive once
// the descriptor is closed.
func mountNew(path string) error {
	n, err := ns.TempNetNS()
	if err != nil {
		return fmt.Errorf("netns: create: %w", err)
	}
	defer n.Close()
	src := fmt.Sprintf("/proc/self/fd/%d", n.Fd())
	if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("netns: bind mount %s: %w", path, err)
	}
	return nil
}

// Delete unmounts and removes the namespace file at path. A missing file or one that is not
// mounted is not an error, so Delete is idempotent and also cleans stale files after a reboot.
// The namespace itself is freed by the kernel once no process, socket or mount holds it.
func Delete(path string) error {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	return deleteLocked(path)
}

func deleteLocked(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil &&
		!errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("netns: unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("netns: remove %s: %w", path, err)
	}
	return nil
}

// DeleteDir deletes every namespace file in dir, undoes the self bind mount made by Create and
// removes dir. A missing dir is not an error. It is meant for uninstall and test clean-up.
func DeleteDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("netns: read dir: %w", err)
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, Delete(filepath.Join(dir, e.Name())))
	}
	// Unmount every self bind mount stacked on dir (normally one).
	for range 8 {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("netns: unmount %s: %w", dir, err))
			}
			break
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("netns: remove %s: %w", dir, err))
	}
	os.Remove(lockPath(dir))
	return errors.Join(errs...)
}

// IsNetNS reports whether path is a namespace file (a mounted nsfs file or a
// /proc/<pid>/ns/net link); an error means path cannot be examined (for example, it does
// not exist).
func IsNetNS(path string) (bool, error) {
	err := ns.IsNSorErr(path)
	var notNS ns.NSPathNotNSErr
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &notNS):
		return false, nil
	}
	return false, fmt.Errorf("netns: %w", err)
}

// ID returns the inode number identifying the namespace at path; two paths name the same
// namespace when their IDs are equal.
func ID(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("netns: stat %s: %w", path, err)
	}
	return st.Ino, nil
}

// Current returns the path of the calling thread's network namespace file
// (/proc/<pid>/task/<tid>/ns/net). It only names a stable namespace while the calling
// goroutine holds runtime.LockOSThread, e.g. inside Do.
func Current() string {
	return fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
}

// Do runs fn on a locked OS thread inside the namespace at path and returns its error. fn runs
// on a goroutine of its own; everything fn does on that thread (sockets, exec'd processes,
// /proc/sys/net reads) happens in the namespace, but goroutines fn starts do not. A path that
// exists but is no namespace fails with ErrNotNetNS.
func Do(path string, fn func() error) error {
	target, err := ns.GetNS(path)
	if err != nil {
		var notNS ns.NSPathNotNSErr
		if errors.As(err, &notNS) {
			return fmt.Errorf("netns: %s: %w", path, ErrNotNetNS)
		}
		return fmt.Errorf("netns: open %s: %w", path, err)
	}
	defer target.Close()
	return target.Do(func(ns.NetNS) error { return fn() })
}

// makeSharedMount makes dir a shared mount. If dir is not a mount point it is first bind
// mounted onto itself and made private, so the new mount starts a peer group of its own
// rather than joining the parent's (which would mirror every namespace mount underneath it).
func makeSharedMount(dir string) error {
	err := unix.Mount("", dir, "none", unix.MS_SHARED, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("netns: make %s shared: %w", dir, err)
	}
	if err := unix.Mount(dir, dir, "none", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("netns: bind mount %s onto itself: %w", dir, err)
	}
	if err := unix.Mount("", dir, "none", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("netns: make %s private: %w", dir, err)
	}
	if err := unix.Mount("", dir, "none", unix.MS_SHARED, ""); err != nil {
		return fmt.Errorf("netns: make %s shared: %w", dir, err)
	}
	return nil
}

// lockPath is next to dir, not inside it, so that it is the same file whether or not dir's
// self bind mount is in place.
func lockPath(dir string) string {
	return filepath.Join(filepath.Dir(filepath.Clean(dir)), lockFileName(dir))
}

func lockFileName(dir string) string { return "." + filepath.Base(filepath.Clean(dir)) + ".lock" }

func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(lockPath(dir), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("netns: open lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("netns: lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// Listen opens a listener inside the namespace at path. The socket stays in that namespace
// and can be used from any goroutine.
func Listen(path, network, addr string) (net.Listener, error) {
	var ln net.Listener
	err := Do(path, func() error {
		var err error
		ln, err = net.Listen(network, addr)
		return err
	})
	return ln, err
}

// ListenPacket opens a packet socket (e.g. UDP) inside the namespace at path.
func ListenPacket(path, network, addr string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := Do(path, func() error {
		var err error
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	return pc, err
}
