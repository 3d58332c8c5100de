package runtime

// HostFS is what the controllers need of the host beyond the container runtime, the
// operations that need root or the host's network namespace; runtime/hostfs implements
// it, runtime/fake in memory. Keeping them behind an interface is what lets every
// reconciler run in a unit test as an ordinary user.
type HostFS interface {
	// MountTmpfs mounts a tmpfs of size bytes at path (creating the directory) unless one
	// is already mounted there: a task's shared /dev/shm.
	MountTmpfs(path string, size int64) error
	// Unmount unmounts what MountTmpfs mounted; an absent or unmounted path is success.
	Unmount(path string) error
	// InterfaceWithMAC reports whether the host has a network interface with mac (an
	// awsvpc task's ENI has been attached).
	InterfaceWithMAC(mac string) (bool, error)
}
