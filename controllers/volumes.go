package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// VolumeOptions tune how task volumes are mounted.
type VolumeOptions struct {
	// Region names EFS file systems: <fs-id>.efs.<region>.amazonaws.com.
	Region string
	// EFSAddresses maps a file system ID to its NFS server's address, used instead of its
	// DNS name (ECSD_EFS_ADDRESSES).
	EFSAddresses map[string]string
	// EFSCAFile verifies an EFS server's TLS certificate (ECSD_EFS_CA_FILE); "" is the
	// system's bundle.
	EFSCAFile string
	// MountTimeout bounds one mount (ECS_CONTAINER_CREATE_TIMEOUT: the mount is part of
	// creating the container); mount.nfs on its own retries an unanswered server for minutes.
	// Zero: no bound beyond the caller's.
	MountTimeout time.Duration
	// SharedMatchFullConfig makes a shared Docker volume reused only when its driver options
	// and labels match too, not just its name and driver (ECS_SHARED_VOLUME_MATCH_FULL_CONFIG).
	SharedMatchFullConfig bool
}

// efsMountOptions are the EFS mount helper's NFS options: NFSv4.1 with 1 MiB transfers,
// hard mounts with a 60 s timeout and 2 retransmissions, and a new source port on every
// reconnect (noresvport) so a connection survives a mount target's failover.
var efsMountOptions = []string{"nfsvers=4.1", "rsize=1048576", "wsize=1048576", "hard", "timeo=600", "retrans=2", "noresvport"}

// efsPort is the port EFS serves NFS (and NFS over TLS) on.
const efsPort = 2049

// errVolumeUnavailable marks a volume that could not be made ready (a mount failed, a shared
// volume does not exist): the container cannot be created; the task stops with the reason.
var errVolumeUnavailable = errors.New("volume unavailable")

// volumeError is a volume that could not be made ready; it reads "volume NAME: why" (the
// reason ECS is told) and is errVolumeUnavailable.
type volumeError struct {
	name string
	err  error
}

func unavailable(name, format string, args ...any) error {
	return &volumeError{name: name, err: fmt.Errorf(format, args...)}
}

func (e *volumeError) Error() string { return "volume " + e.name + ": " + e.err.Error() }

func (e *volumeError) Unwrap() error { return e.err }

// Is makes errors.Is(err, errVolumeUnavailable) hold.
func (e *volumeError) Is(target error) bool { return target == errVolumeUnavailable }

// TaskVolumes turns task volumes into host directories for bind mounts: task directories,
// EFS file systems and Docker local-driver volumes mounted through runtime.VolumeMounter,
// and shared Docker volumes kept under <data dir>/volumes/<name> beyond their tasks. It
// serializes the work per mount point, since a task's containers are created in parallel.
type TaskVolumes struct {
	mounter runtime.VolumeMounter
	dataDir string
	opts    VolumeOptions
	log     logr.Logger

	// locks are striped by mount point: a fixed set, however many volumes come and go.
	locks [64]sync.Mutex
}

// NewTaskVolumes returns the volume manager; a nil mounter refuses every volume that needs
// a mount.
func NewTaskVolumes(m runtime.VolumeMounter, dataDir string, o VolumeOptions, log logr.Logger) *TaskVolumes {
	return &TaskVolumes{mounter: m, dataDir: dataDir, opts: o, log: log}
}

// lock serializes work on one mount point.
func (v *TaskVolumes) lock(path string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(path))
	l := &v.locks[h.Sum32()%uint32(len(v.locks))]
	l.Lock()
	return l.Unlock
}

// Source makes vol ready for t and returns the host directory containers bind-mount.
func (v *TaskVolumes) Source(ctx context.Context, t *api.Task, vol *api.Volume) (string, error) {
	switch {
	case vol.HostSourcePath != "":
		return vol.HostSourcePath, nil
	case vol.Type == "efs":
		m, err := v.efsMount(vol)
		if err != nil {
			return "", err
		}
		return v.mount(ctx, api.TaskVolumePath(v.dataDir, t.Name, vol.Name), vol.Name, m)
	case vol.Type == "docker" && vol.Scope == "shared":
		return v.shared(ctx, vol)
	case vol.Type == "", vol.Type == "host", vol.Type == "docker":
		dir := api.TaskVolumePath(v.dataDir, t.Name, vol.Name)
		if vol.Type == "docker" && len(vol.DriverOpts) > 0 {
			m, err := localMount(vol)
			if err != nil {
				return "", err
			}
			return v.mount(ctx, dir, vol.Name, m)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("volume %s: %w", vol.Name, err)
		}
		return dir, nil
	}
	return "", fmt.Errorf("%w: volume %s: type %q is not supported", errInvalidDefinition, vol.Name, vol.Type)
}

// Release unmounts t's task-scoped mounts (EFS, local-driver volumes); shared volumes stay.
// Idempotent: cleanup calls it before it removes the task directory, and again after a crash.
func (v *TaskVolumes) Release(ctx context.Context, t *api.Task) error {
	if v == nil || v.mounter == nil {
		return nil
	}
	var errs []error
	for i := range t.Spec.Volumes {
		vol := &t.Spec.Volumes[i]
		if !taskMounted(vol) {
			continue
		}
		dir := api.TaskVolumePath(v.dataDir, t.Name, vol.Name)
		unlock := v.lock(dir)
		err := v.mounter.Unmount(ctx, dir)
		unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("volume %s: %w", vol.Name, err))
			continue
		}
		v.log.V(1).Info("volume unmounted", "task", t.Name, "volume", vol.Name)
	}
	return errors.Join(errs...)
}

// taskMounted: the volume is a mount that lives as long as its task.
func taskMounted(vol *api.Volume) bool {
	if vol.HostSourcePath != "" {
		return false
	}
	return vol.Type == "efs" || (vol.Type == "docker" && vol.Scope != "shared" && len(vol.DriverOpts) > 0)
}

// mount mounts m at dir unless it is there already.
func (v *TaskVolumes) mount(ctx context.Context, dir, name string, m runtime.VolumeMount) (string, error) {
	if v.mounter == nil {
		return "", unavailable(name, "this agent mounts no file systems")
	}
	if err := v.mounter.Supports(m.Type, m.TLS != nil); err != nil {
		return "", unavailable(name, "%w", err)
	}
	unlock := v.lock(dir)
	defer unlock()
	if v.opts.MountTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, v.opts.MountTimeout)
		defer cancel()
	}
	if err := v.mounter.Mount(ctx, dir, m); err != nil {
		return "", unavailable(name, "%w", err)
	}
	return dir, nil
}

// efsMount is the NFSv4.1 mount of an EFS volume, through a TLS tunnel with transit
// encryption, as the EFS mount helper makes it.
func (v *TaskVolumes) efsMount(vol *api.Volume) (runtime.VolumeMount, error) {
	e := vol.EFS
	if e == nil || e.FileSystemID == "" {
		return runtime.VolumeMount{}, fmt.Errorf("%w: volume %s: no EFS file system", errInvalidDefinition, vol.Name)
	}
	if e.AccessPointID != "" || e.IAM {
		// The payload translation refuses these already; never mount without them.
		return runtime.VolumeMount{}, fmt.Errorf("%w: volume %s: EFS access points and IAM authorization are not supported", errInvalidDefinition, vol.Name)
	}
	name := e.FileSystemID + ".efs." + v.opts.Region + ".amazonaws.com"
	if v.opts.Region == "" {
		if _, ok := v.opts.EFSAddresses[e.FileSystemID]; !ok {
			return runtime.VolumeMount{}, unavailable(vol.Name, "no AWS region configured to name file system %s", e.FileSystemID)
		}
	}
	host := name
	if a, ok := v.opts.EFSAddresses[e.FileSystemID]; ok {
		host = a
	}
	root := e.RootDirectory
	if root == "" {
		root = "/"
	}
	m := runtime.VolumeMount{Type: "nfs4", Device: bracketed(host) + ":" + root, Options: append([]string(nil), efsMountOptions...)}
	if e.TransitEncryption {
		m.TLS = &runtime.TLSTunnel{LocalPort: int(e.TransitEncryptionPort), Connect: hostPort(host, efsPort),
			VerifyName: name, CAFile: v.opts.EFSCAFile}
	}
	return m, nil
}

// hostPort joins host and port, bracketing an IPv6 address.
func hostPort(host string, port int) string {
	return bracketed(host) + ":" + strconv.Itoa(port)
}

// bracketed brackets an IPv6 address, as host:port and NFS's server:/path need.
func bracketed(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// localMount is a Docker local-driver volume's mount: `mount -t type -o o device`. For NFS,
// Docker's driver takes the server from o's addr= with device ":/path"; mount.nfs wants
// "server:/path", so the server is moved into the device.
func localMount(vol *api.Volume) (runtime.VolumeMount, error) {
	o := vol.DriverOpts
	m := runtime.VolumeMount{Type: o["type"], Device: o["device"]}
	if o["o"] != "" {
		m.Options = strings.Split(o["o"], ",")
	}
	if m.Type == "nfs" || m.Type == "nfs4" {
		if strings.HasPrefix(m.Device, ":") {
			addr := ""
			for _, opt := range m.Options {
				if a, ok := strings.CutPrefix(opt, "addr="); ok {
					addr = a
				}
			}
			if addr == "" {
				return m, fmt.Errorf("%w: volume %s: NFS device %q needs addr= in driverOpts o", errInvalidDefinition, vol.Name, m.Device)
			}
			m.Device = bracketed(addr) + m.Device
		}
	}
	return m, nil
}

// sharedConfig is a shared volume's config.json: what it was created with.
type sharedConfig struct {
	Driver     string            `json:"driver"`
	DriverOpts map[string]string `json:"driverOpts,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}

// shared makes a shared Docker volume ready: an existing one is reused when it matches (its
// driver, and with SharedMatchFullConfig its options and labels too); a missing one is
// created when autoprovision is set, as the reference agent does, and is an error otherwise.
func (v *TaskVolumes) shared(ctx context.Context, vol *api.Volume) (string, error) {
	if vol.Name == "" || strings.ContainsAny(vol.Name, "/\x00") || vol.Name == "." || vol.Name == ".." {
		return "", fmt.Errorf("%w: shared volume name %q", errInvalidDefinition, vol.Name)
	}
	base := filepath.Join(v.dataDir, "volumes", vol.Name)
	data := api.SharedVolumePath(v.dataDir, vol.Name)
	unlock := v.lock(base)
	want := sharedConfig{Driver: driverName(vol.Driver), DriverOpts: vol.DriverOpts, Labels: vol.Labels}
	have, err := readSharedConfig(base)
	switch {
	case errors.Is(err, os.ErrNotExist) && !vol.Autoprovision:
		unlock()
		return "", unavailable(vol.Name, "the shared volume does not exist on this instance and autoprovision is false")
	case errors.Is(err, os.ErrNotExist):
		if err := writeSharedConfig(base, want); err != nil {
			unlock()
			return "", unavailable(vol.Name, "shared volume: %w", err)
		}
		v.log.Info("shared volume created", "volume", vol.Name, "driverOpts", len(vol.DriverOpts) > 0)
		have = want
	case err != nil:
		unlock()
		return "", unavailable(vol.Name, "shared volume: %w", err)
	default:
		if why := mismatch(have, want, v.opts.SharedMatchFullConfig); why != "" {
			unlock()
			return "", unavailable(vol.Name, "the shared volume exists with another configuration: %s", why)
		}
	}
	unlock()
	if len(have.DriverOpts) == 0 {
		if err := os.MkdirAll(data, 0o755); err != nil {
			return "", unavailable(vol.Name, "shared volume: %w", err)
		}
		return data, nil
	}
	// Mounted with the options it was created with, once for all its tasks.
	m, err := localMount(&api.Volume{Name: vol.Name, DriverOpts: have.DriverOpts})
	if err != nil {
		return "", err
	}
	return v.mount(ctx, data, vol.Name, m)
}

// mismatch says how a shared volume's configuration differs from what a task asks; "" when
// it may be reused.
func mismatch(have, want sharedConfig, full bool) string {
	if have.Driver != want.Driver {
		return fmt.Sprintf("driver %s, the task asks for %s", have.Driver, want.Driver)
	}
	if !full {
		return ""
	}
	if !maps.Equal(have.DriverOpts, want.DriverOpts) {
		return "its driver options differ (ECS_SHARED_VOLUME_MATCH_FULL_CONFIG=true)"
	}
	if !maps.Equal(have.Labels, want.Labels) {
		return "its labels differ (ECS_SHARED_VOLUME_MATCH_FULL_CONFIG=true)"
	}
	return ""
}

func driverName(d string) string {
	if d == "" {
		return "local"
	}
	return d
}

func readSharedConfig(base string) (sharedConfig, error) {
	var c sharedConfig
	b, err := os.ReadFile(filepath.Join(base, "config.json"))
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", filepath.Join(base, "config.json"), err)
	}
	return c, nil
}

// writeSharedConfig writes config.json atomically: a crash leaves the old file or the new.
func writeSharedConfig(base string, c sharedConfig) error {
	if err := os.MkdirAll(base, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp := filepath.Join(base, "config.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(base, "config.json"))
}
