package runtime

import (
	"context"
	"errors"
)

// ErrMountUnsupported means the host cannot make a mount of this kind at all (no NFS
// client in the kernel, no mount.nfs, no stunnel): retrying cannot help.
var ErrMountUnsupported = errors.New("mount not supported on this host")

// VolumeMount is one file system mounted on the host for a task volume: an EFS file system
// over NFSv4.1, or a Docker local-driver volume (type/o/device, as `mount -t TYPE -o O
// DEVICE TARGET` would make it).
type VolumeMount struct {
	// Type is the file system type given to mount(8): nfs4, nfs, tmpfs, ext4, none (with
	// "bind" in Options), ...
	Type string `json:"type"`
	// Device is the mount source: "host:/path" for NFS, a device or directory otherwise.
	Device string `json:"device"`
	// Options are mount(8) options, in order.
	Options []string `json:"options,omitempty"`
	// TLS, when set, carries the NFS traffic through a stunnel client on loopback (EFS
	// transit encryption); Device then names 127.0.0.1 and Options the tunnel's port.
	TLS *TLSTunnel `json:"tls,omitempty"`
}

// TLSTunnel is a TLS client tunnel from 127.0.0.1:LocalPort to Connect, as the EFS mount
// helper runs stunnel for transit encryption.
type TLSTunnel struct {
	// LocalPort is the loopback port the NFS client connects to.
	LocalPort int `json:"localPort"`
	// Connect is host:port of the NFS server's TLS endpoint (port 2049 on EFS).
	Connect string `json:"connect"`
	// VerifyName is the name the server's certificate must carry (the file system's DNS
	// name); CAFile holds the certificates it must chain to.
	VerifyName string `json:"verifyName"`
	CAFile     string `json:"caFile,omitempty"`
}

// VolumeMounter mounts and unmounts task volumes on the host; runtime/hostfs implements it
// with mount(8), mount.nfs and stunnel, runtime/fake in memory. Both calls are idempotent
// and crash-safe: what is mounted is recorded beside the mount point, so an agent that
// restarts adopts a mount it made before and still removes it (and its tunnel) later.
type VolumeMounter interface {
	// Mount mounts m at target (creating the directory) unless target already holds a
	// mount made for the same m, which is success. A mount that fails leaves nothing
	// behind (no tunnel, no record).
	Mount(ctx context.Context, target string, m VolumeMount) error
	// Unmount removes the mount at target and its tunnel; nothing mounted is success.
	Unmount(ctx context.Context, target string) error
	// Supports reports whether the host can make mounts of fsType ("nfs4", "tmpfs", ...),
	// with a TLS tunnel when tls is set; the error says what is missing.
	Supports(fsType string, tls bool) error
}
