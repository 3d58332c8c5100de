package fake

import (
	"strings"
	"sync"

	"github.com/ecsd/ecsd/runtime"
)

// HostFS is an in-memory runtime.HostFS: mounts are remembered, not made, and the host's
// interfaces are the MACs added with AddInterface. MountErr fails every mount.
type HostFS struct {
	MountErr error

	mu     sync.Mutex
	mounts map[string]int64
	macs   map[string]bool
}

var _ runtime.HostFS = (*HostFS)(nil)

// MountTmpfs records a tmpfs of size bytes at path; an existing one is kept.
func (h *HostFS) MountTmpfs(path string, size int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.MountErr != nil {
		return h.MountErr
	}
	if h.mounts == nil {
		h.mounts = map[string]int64{}
	}
	if _, ok := h.mounts[path]; !ok {
		h.mounts[path] = size
	}
	return nil
}

// Unmount forgets the mount at path.
func (h *HostFS) Unmount(path string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.mounts, path)
	return nil
}

// Mounted returns the size of the tmpfs at path.
func (h *HostFS) Mounted(path string) (int64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	size, ok := h.mounts[path]
	return size, ok
}

// AddInterface attaches an interface with mac to the host, as EC2 attaching an ENI.
func (h *HostFS) AddInterface(mac string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.macs == nil {
		h.macs = map[string]bool{}
	}
	h.macs[strings.ToLower(mac)] = true
}

// InterfaceWithMAC reports whether AddInterface added mac.
func (h *HostFS) InterfaceWithMAC(mac string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.macs[strings.ToLower(mac)], nil
}
