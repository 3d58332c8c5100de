package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ecsd/ecsd/runtime"
)

// initMountPath is where the init binary appears inside containers created with Init.
const initMountPath = "/sbin/ecsd-init"

// specOpts turns cfg into OCI spec options applied over containerd's default Linux spec.
// The order matters: image defaults first, then overrides, capabilities before seccomp
// (the default profile depends on them), the process args last (Init wraps them).
func (r *Runtime) specOpts(cfg runtime.ContainerConfig, img oci.Image, imgCfg ocispec.ImageConfig) ([]oci.SpecOpts, error) {
	args, err := resolveArgs(imgCfg.Entrypoint, imgCfg.Cmd, cfg.Entrypoint, cfg.Command)
	if err != nil {
		return nil, err
	}
	hostNet := cfg.NetNSPath == "" && !cfg.PrivateNetwork
	hostname := cfg.Hostname
	if hostname == "" {
		hostname = defaultHostname(cfg.ID, hostNet)
	}

	var opts []oci.SpecOpts
	if cfg.RootFS != "" {
		// A host directory, read-only, instead of an image's snapshot.
		opts = append(opts, oci.WithRootFSPath(cfg.RootFS), oci.WithRootFSReadonly())
	} else {
		// Image env, cwd and user (incl. supplementary groups from the image's /etc/group).
		opts = append(opts, oci.WithImageConfig(img))
	}
	if cfg.NoNewPrivileges {
		opts = append(opts, oci.WithNoNewPrivileges)
	} else {
		// Docker lets setuid binaries work (ping, su); containerd's default forbids it.
		opts = append(opts, oci.WithNewPrivileges)
	}
	opts = append(opts,
		// Docker mounts the container's own cgroups read-only (rw when privileged, see
		// oci.WithPrivileged); JVMs and Go's automaxprocs read their limits there.
		oci.WithMounts([]specs.Mount{{
			Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
			Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"},
		}}),
	)
	if cgroups.Mode() == cgroups.Unified {
		// On cgroup v2 only a private cgroup namespace hides the host's hierarchy, as
		// Docker does by default there.
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.CgroupNamespace}))
	}
	env := []string{}
	if hostname != "" {
		opts = append(opts, oci.WithHostname(hostname))
		env = append(env, "HOSTNAME="+hostname) // like Docker; cfg.Env may still override it
	}
	env = append(env, cfg.Env...)
	env = append(env, defaultEnv(cfg.DefaultEnv, imgCfg.Env, env)...)
	opts = append(opts, oci.WithEnv(env))
	if cfg.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(cfg.WorkingDir))
	}
	if cfg.User != "" {
		userPart, _, _ := strings.Cut(cfg.User, ":")
		opts = append(opts, oci.WithUser(cfg.User), oci.WithAdditionalGIDs(userPart))
	}

	// /dev/shm first: a user mount on /dev/shm replaces the default one below.
	switch {
	case cfg.NoShm:
		opts = append(opts, oci.WithoutMounts("/dev/shm"))
	case cfg.ShmPath != "":
		// Shared with the host or the task's other containers, as Docker mounts the IPC
		// namespace owner's /dev/shm into the containers that join it.
		opts = append(opts, oci.WithoutMounts("/dev/shm"), oci.WithMounts([]specs.Mount{{
			Destination: "/dev/shm", Type: "bind", Source: cfg.ShmPath,
			Options: []string{"rbind", "rw", "nosuid", "nodev", "noexec"},
		}}))
	case cfg.ShmSize > 0:
		opts = append(opts, ignoreNoShm(oci.WithDevShmSize(max(cfg.ShmSize/1024, 1))))
	}
	mounts, err := specMounts(cfg.Mounts)
	if err != nil {
		return nil, err
	}
	dests := make([]string, 0, len(mounts))
	for _, m := range mounts {
		dests = append(dests, m.Destination)
	}
	if len(mounts) > 0 {
		opts = append(opts, oci.WithoutMounts(dests...), oci.WithMounts(mounts))
	}
	if cfg.ReadonlyRootFS {
		opts = append(opts, oci.WithRootFSReadonly())
	}

	if cfg.Privileged {
		opts = append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices)
	} else {
		opts = append(opts, withCapabilities(cfg.CapAdd, cfg.CapDrop))
		if !cfg.SeccompUnconfined {
			opts = append(opts, seccomp.WithDefaultProfile())
		}
	}
	if cfg.AppArmorProfile != "" {
		opts = append(opts, withAppArmorProfile(cfg.AppArmorProfile))
	}
	if cfg.SELinuxLabel != "" || cfg.SELinuxMountLabel != "" {
		opts = append(opts, withSELinuxLabels(cfg.SELinuxLabel, cfg.SELinuxMountLabel))
	}
	opts = append(opts, withNamespace(specs.PIDNamespace, cfg.PIDNamespace), withNamespace(specs.IPCNamespace, cfg.IPCNamespace))
	for _, d := range cfg.Devices {
		perms := d.Permissions
		if perms == "" {
			perms = "rwm"
		}
		opts = append(opts, oci.WithDevices(d.HostPath, d.ContainerPath, perms))
	}
	for _, u := range cfg.Ulimits {
		typ, err := rlimitType(u.Name)
		if err != nil {
			return nil, err
		}
		opts = append(opts, oci.WithRlimit(&specs.POSIXRlimit{Type: typ, Soft: u.Soft, Hard: u.Hard}))
	}
	if len(cfg.Sysctls) > 0 {
		opts = append(opts, withSysctls(cfg.Sysctls))
	}

	if cfg.CPUShares > 0 {
		opts = append(opts, oci.WithCPUShares(cfg.CPUShares))
	}
	if cfg.MemoryLimit > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(cfg.MemoryLimit)))
	}
	if cfg.MemoryReservation > 0 {
		opts = append(opts, withMemoryReservation(cfg.MemoryReservation))
	}
	if cfg.CgroupParent != "" {
		// cgroupfs layout: <parent>/<id>, e.g. /ecs/<task>/<id> in every v1 hierarchy.
		opts = append(opts, oci.WithCgroup(path.Join("/", cfg.CgroupParent, cfg.ID)))
	}

	if hostNet {
		if cfg.HostNetNSPath != "" {
			opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{
				Type: specs.NetworkNamespace, Path: cfg.HostNetNSPath,
			}))
		} else {
			opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace))
		}
		// The host's resolver and names, read-only, unless the caller mounts its own.
		if !slices.Contains(dests, "/etc/hosts") {
			opts = append(opts, oci.WithHostHostsFile)
		}
		if !slices.Contains(dests, "/etc/resolv.conf") {
			opts = append(opts, oci.WithHostResolvconf)
		}
	} else if cfg.NetNSPath != "" {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{
			Type: specs.NetworkNamespace, Path: cfg.NetNSPath,
		}))
	}
	// Otherwise the default spec's new network namespace stays: runc brings up its
	// loopback interface and nothing else.

	if cfg.Init {
		bin := r.findInit()
		if bin == "" {
			// Never run without it: PID 1 would ignore SIGTERM and leave zombies, which is
			// what the definition asked to avoid.
			return nil, fmt.Errorf("initProcessEnabled: no static init binary on this host (install ecsd-init next to the agent, set ECSD_INIT_PATH, or install tini-static): %w", errdefs.ErrFailedPrecondition)
		}
		opts = append(opts, oci.WithMounts([]specs.Mount{{
			Destination: initMountPath, Type: "bind", Source: bin,
			Options: []string{"bind", "ro"},
		}}))
		args = append([]string{initMountPath, "--"}, args...)
	}
	opts = append(opts, oci.WithProcessArgs(args...))
	// Last: it checks the process as every option before it left it.
	opts = append(opts, withExecLimits(inheritedStackLimit()))
	return opts, nil
}

// withAppArmorProfile runs the process under profile; the caller checked the host has it.
func withAppArmorProfile(profile string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Process == nil {
			s.Process = &specs.Process{}
		}
		s.Process.ApparmorProfile = profile
		return nil
	}
}

// withSELinuxLabels labels the process and the mounts the OCI runtime makes; the caller
// computed the labels from the host's policy.
func withSELinuxLabels(process, mount string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Process == nil {
			s.Process = &specs.Process{}
		}
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		s.Process.SelinuxLabel = process
		s.Linux.MountLabel = mount
		return nil
	}
}

// withNamespace puts the container in the host's namespace of typ, in the one at ns.Path,
// or (the zero Namespace) leaves the default spec's new one.
func withNamespace(typ specs.LinuxNamespaceType, ns runtime.Namespace) oci.SpecOpts {
	switch {
	case ns.Host:
		return oci.WithHostNamespace(typ)
	case ns.Path != "":
		return oci.WithLinuxNamespace(specs.LinuxNamespace{Type: typ, Path: ns.Path})
	}
	return func(context.Context, oci.Client, *containers.Container, *oci.Spec) error { return nil }
}

// resolveArgs applies Docker's rules: an explicit entrypoint discards the image's Cmd
// unless a command is also given; the process runs entrypoint followed by command.
func resolveArgs(imgEntrypoint, imgCmd, entrypoint, command []string) ([]string, error) {
	ep, cmd := imgEntrypoint, imgCmd
	if entrypoint != nil {
		ep, cmd = entrypoint, nil
	}
	if command != nil {
		cmd = command
	}
	args := append(slices.Clone(ep), cmd...)
	if len(args) == 0 {
		return nil, fmt.Errorf("no command specified: image has no entrypoint or cmd: %w", errdefs.ErrInvalidArgument)
	}
	return args, nil
}

// defaultHostname mirrors Docker: the host's name with host networking, otherwise the
// first 12 characters of the container ID.
func defaultHostname(id string, hostNet bool) string {
	if hostNet {
		h, err := os.Hostname()
		if err != nil {
			return ""
		}
		return h
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// specMounts converts runtime mounts to OCI mounts. Binds are recursive and read-write
// unless "ro" is given; tmpfs gets nosuid,nodev plus the caller's options (e.g. size=).
func specMounts(in []runtime.Mount) ([]specs.Mount, error) {
	out := make([]specs.Mount, 0, len(in))
	for _, m := range in {
		if m.Destination == "" || !path.IsAbs(m.Destination) {
			return nil, fmt.Errorf("mount destination %q must be absolute: %w", m.Destination, errdefs.ErrInvalidArgument)
		}
		switch m.Type {
		case "bind", "":
			if m.Source == "" {
				return nil, fmt.Errorf("bind mount %s has no source: %w", m.Destination, errdefs.ErrInvalidArgument)
			}
			opts := []string{"rbind"}
			if !slices.Contains(m.Options, "ro") && !slices.Contains(m.Options, "rw") {
				opts = append(opts, "rw")
			}
			opts = append(opts, m.Options...)
			out = append(out, specs.Mount{Type: "bind", Source: m.Source, Destination: m.Destination, Options: opts})
		case "tmpfs":
			opts := append([]string{"nosuid", "nodev"}, m.Options...)
			out = append(out, specs.Mount{Type: "tmpfs", Source: "tmpfs", Destination: m.Destination, Options: opts})
		default:
			return nil, fmt.Errorf("mount %s: unsupported type %q: %w", m.Destination, m.Type, errdefs.ErrInvalidArgument)
		}
	}
	return out, nil
}

// normalizeCap accepts "net_admin", "NET_ADMIN" and "CAP_NET_ADMIN" (ECS and Docker accept
// all) and returns the OCI form; "ALL" stays "ALL".
func normalizeCap(c string) string {
	c = strings.ToUpper(strings.TrimSpace(c))
	if c == "ALL" || strings.HasPrefix(c, "CAP_") {
		return c
	}
	return "CAP_" + c
}

// withCapabilities applies Docker's add/drop semantics on the default set: "ALL" in add
// grants every known capability, "ALL" in drop starts from none; explicit drops then adds
// are applied to what remains.
func withCapabilities(add, drop []string) oci.SpecOpts {
	return func(ctx context.Context, c oci.Client, ctr *containers.Container, s *oci.Spec) error {
		if len(add) == 0 && len(drop) == 0 {
			return nil
		}
		var adds, drops []string
		addAll, dropAll := false, false
		for _, a := range add {
			if a = normalizeCap(a); a == "ALL" {
				addAll = true
			} else {
				adds = append(adds, a)
			}
		}
		for _, d := range drop {
			if d = normalizeCap(d); d == "ALL" {
				dropAll = true
			} else {
				drops = append(drops, d)
			}
		}
		switch {
		case addAll:
			if err := oci.WithAllKnownCapabilities(ctx, c, ctr, s); err != nil {
				return err
			}
		case dropAll:
			if err := oci.WithCapabilities(nil)(ctx, c, ctr, s); err != nil {
				return err
			}
		}
		if err := oci.WithDroppedCapabilities(drops)(ctx, c, ctr, s); err != nil {
			return err
		}
		return oci.WithAddedCapabilities(adds)(ctx, c, ctr, s)
	}
}

// rlimitType maps Docker ulimit names ("nofile") and OCI names ("RLIMIT_NOFILE") to the
// OCI rlimit type.
func rlimitType(name string) (string, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	n = strings.TrimPrefix(n, "RLIMIT_")
	switch n {
	case "AS", "CORE", "CPU", "DATA", "FSIZE", "LOCKS", "MEMLOCK", "MSGQUEUE", "NICE",
		"NOFILE", "NPROC", "RSS", "RTPRIO", "RTTIME", "SIGPENDING", "STACK":
		return "RLIMIT_" + n, nil
	}
	return "", fmt.Errorf("unknown ulimit %q: %w", name, errdefs.ErrInvalidArgument)
}

func withSysctls(sysctls map[string]string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		if s.Linux.Sysctl == nil {
			s.Linux.Sysctl = map[string]string{}
		}
		for k, v := range sysctls {
			s.Linux.Sysctl[k] = v
		}
		return nil
	}
}

// withMemoryReservation sets the soft limit (memory.soft_limit_in_bytes on v1, memory.low
// on v2), which containerd's oci package has no option for.
func withMemoryReservation(bytes int64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		if s.Linux.Resources.Memory == nil {
			s.Linux.Resources.Memory = &specs.LinuxMemory{}
		}
		s.Linux.Resources.Memory.Reservation = &bytes
		return nil
	}
}

// ignoreNoShm drops ErrNoShmMount: with no default /dev/shm there is nothing to size.
func ignoreNoShm(o oci.SpecOpts) oci.SpecOpts {
	return func(ctx context.Context, c oci.Client, ctr *containers.Container, s *oci.Spec) error {
		if err := o(ctx, c, ctr, s); err != nil && !errors.Is(err, oci.ErrNoShmMount) {
			return err
		}
		return nil
	}
}

// defaultEnv returns defaults when no entry of the given sets has any of their keys, and
// nothing otherwise.
func defaultEnv(defaults []string, sets ...[]string) []string {
	for _, d := range defaults {
		k, _, _ := strings.Cut(d, "=")
		for _, set := range sets {
			if slices.ContainsFunc(set, func(kv string) bool { return kv == k || strings.HasPrefix(kv, k+"=") }) {
				return nil
			}
		}
	}
	return defaults
}
