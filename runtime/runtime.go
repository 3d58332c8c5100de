// Package runtime is the boundary between the controllers and the container runtime. The
// controllers speak only these types; runtime/containerd is the one package that imports
// containerd, so the engine can be unit-tested against a fake and the runtime swapped.
package runtime

import (
	"context"
	"errors"
	"io"
	"syscall"
	"time"
)

// Errors every Runtime implementation maps its own errors onto, checked with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	ErrUnauthorized  = errors.New("unauthorized")
	// ErrUnavailable means the runtime itself could not be reached; callers keep state and retry.
	ErrUnavailable = errors.New("runtime unavailable")
	// ErrTransient means the runtime refused the call because of a conflicting operation
	// still in flight (e.g. one started by an agent that was killed); a retry may succeed.
	ErrTransient = errors.New("transient runtime conflict")
	// ErrCannotExec means the container's process could never be executed as configured
	// (e.g. its arguments exceed the kernel's limits): retrying cannot help.
	ErrCannotExec = errors.New("cannot execute the container's process")
)

// ExecError is a container process the kernel would refuse to execute; it is ErrCannotExec.
// Detail says why in the kernel's words, e.g. "exec /bin/sh: argument list too long (…)".
type ExecError struct{ Detail string }

func (e *ExecError) Error() string { return e.Detail }

// Is makes errors.Is(err, ErrCannotExec) hold.
func (e *ExecError) Is(target error) bool { return target == ErrCannotExec }

// Runtime runs containers. Every call is idempotent where the doc says so, because
// reconcilers retry after crashes and conflicts.
type Runtime interface {
	// PullImage fetches ref (and unpacks it for the snapshotter) and returns its metadata.
	PullImage(ctx context.Context, ref string, auth *Auth, opts ...PullOption) (ImageInfo, error)
	// InspectImage returns metadata for a local image; ErrNotFound if absent.
	InspectImage(ctx context.Context, ref string) (ImageInfo, error)
	// RemoveImage deletes a local image name and waits until what only it held (content,
	// unpacked layers) is gone from disk; absent is success. See RemoveImageOptions.
	RemoveImage(ctx context.Context, ref string, opts ...RemoveImageOption) error
	// ListImages lists every image name in the runtime's store (the agent's namespace),
	// the agent's and any other client's.
	ListImages(ctx context.Context) ([]ImageRecord, error)
	// ImageFilesystems reports the usage of the file systems holding image content and
	// unpacked layers, one entry per distinct file system.
	ImageFilesystems(ctx context.Context) ([]FilesystemUsage, error)

	// CreateContainer creates the container and its writable layer. If a container with the
	// same ID already exists it is left alone and ErrAlreadyExists is returned wrapped.
	CreateContainer(ctx context.Context, cfg ContainerConfig) error
	// StartContainer starts a created container; a running one is success.
	StartContainer(ctx context.Context, id string) error
	// Signal sends sig to the container's init process; a stopped container is success.
	Signal(ctx context.Context, id string, sig syscall.Signal) error
	// InspectContainer returns the container's state; ErrNotFound if it does not exist.
	InspectContainer(ctx context.Context, id string) (ContainerState, error)
	// ListContainers lists the containers the agent manages (by label).
	ListContainers(ctx context.Context) ([]ContainerState, error)
	// ListUnmanagedContainers lists the other containers in the agent's namespace (made by
	// another client, e.g. ctr), with their state; RemoveContainer removes them too.
	ListUnmanagedContainers(ctx context.Context) ([]ContainerState, error)
	// ContainerRecord returns the record stored with the container at create
	// (ContainerConfig.Record), nil if it has none; ErrNotFound if the container does not exist.
	ContainerRecord(ctx context.Context, id string) ([]byte, error)
	// RemoveContainer deletes a stopped container, its task and its snapshot; absent is success.
	RemoveContainer(ctx context.Context, id string) error
	// Exec runs cmd inside a running container and returns its exit code and the tail of its
	// combined output. The context bounds the run.
	Exec(ctx context.Context, id string, cmd []string) (exitCode int, output string, err error)
	// ExecStream runs cmd inside a running container with its input and output connected to
	// the streams of s (an operator's `ecsctl exec`), waits for it and returns its exit code.
	// The process gets the container's user, environment and working directory. When ctx
	// ends first the process is killed and ctx.Err() is returned (wrapped). A container
	// without a running process is ErrNotFound.
	ExecStream(ctx context.Context, id string, cmd []string, s ExecStreams) (exitCode int, err error)
	// Events streams container lifecycle events until ctx ends. The error channel reports a
	// broken stream; callers relist and resubscribe.
	Events(ctx context.Context) (<-chan Event, <-chan error)
	// Stats returns cumulative resource usage of a running container.
	Stats(ctx context.Context, id string) (Stats, error)
}

// ExecStreams are an interactive exec's streams. A nil stream is not connected.
type ExecStreams struct {
	// Stdin is the process's input; its EOF closes the process's standard input.
	Stdin  io.Reader
	Stdout io.Writer
	// Stderr is not used with TTY: a terminal has one output.
	Stderr io.Writer
	// TTY gives the process a terminal; Resize then carries its size changes.
	TTY    bool
	Resize <-chan TerminalSize
}

// TerminalSize is a terminal's size in characters.
type TerminalSize struct {
	Width, Height uint16
}

// Auth is a registry credential.
type Auth struct {
	Username string
	Password string
}

// PullOptions bound the phases of one pull. Zero means no bound beyond the context's.
type PullOptions struct {
	// ManifestTimeout bounds resolving the reference to a manifest (ECS_MANIFEST_PULL_TIMEOUT).
	ManifestTimeout time.Duration
	// InactivityTimeout cancels a pull that has received no data and applied no layer for
	// this long (ECS_IMAGE_PULL_INACTIVITY_TIMEOUT): a stalled registry connection would
	// otherwise hold the pull until its overall timeout, hours later.
	InactivityTimeout time.Duration
}

// PullOption sets a PullOptions field.
type PullOption func(*PullOptions)

// WithManifestTimeout sets PullOptions.ManifestTimeout.
func WithManifestTimeout(d time.Duration) PullOption {
	return func(o *PullOptions) { o.ManifestTimeout = d }
}

// WithInactivityTimeout sets PullOptions.InactivityTimeout.
func WithInactivityTimeout(d time.Duration) PullOption {
	return func(o *PullOptions) { o.InactivityTimeout = d }
}

// ImageInfo describes a local image.
type ImageInfo struct {
	Ref string
	// Digest is the manifest (or index) digest pulled: ECS's imageDigest.
	Digest string
	// ID is the image config's digest, what Docker calls the image ID.
	ID   string
	Size int64
	// Config is what the image itself asks for; ContainerConfig fields override it.
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
}

// ContainerConfig is everything needed to create one container, already resolved from the
// ECS container definition. Zero values mean "the image's or runtime's default".
type ContainerConfig struct {
	ID    string
	Image string
	// RootFS, instead of Image, is a host directory used read-only as the root file system
	// (a task's namespace holder, which needs no image). Then Entrypoint is the process.
	RootFS string
	Labels map[string]string
	// Entrypoint and Command override the image's; nil keeps the image's.
	Entrypoint []string
	Command    []string
	// Env is KEY=VALUE, applied over the image's environment.
	Env []string
	// DefaultEnv is KEY=VALUE entries set together, and only when neither the image nor
	// Env sets any of their keys: the agent's AWS_REGION and AWS_DEFAULT_REGION must not
	// override, or contradict, a region the image or the definition chose.
	DefaultEnv     []string
	User           string
	WorkingDir     string
	Hostname       string
	Mounts         []Mount
	ReadonlyRootFS bool
	Privileged     bool
	CapAdd         []string
	CapDrop        []string
	// Init runs a minimal init as PID 1 that forwards signals and reaps zombies. A runtime
	// that has no init binary refuses the container rather than run it without one.
	Init bool
	// NoNewPrivileges sets the process's no_new_privs bit (dockerSecurityOptions
	// no-new-privileges): setuid binaries and file capabilities grant nothing.
	NoNewPrivileges bool
	// AppArmorProfile runs the process under this AppArmor profile. The caller has checked
	// that the host has AppArmor and the profile; empty applies none.
	AppArmorProfile string
	// SeccompUnconfined runs the process without a seccomp filter (seccomp:unconfined);
	// otherwise an unprivileged container gets the default profile.
	SeccompUnconfined bool
	// SELinuxLabel is the process's SELinux label and SELinuxMountLabel the label of the
	// files it gets: its root file system (mounted with context=) and the mounts the OCI
	// runtime makes. The caller computed them from the host's policy; empty applies none.
	SELinuxLabel      string
	SELinuxMountLabel string
	// PIDNamespace and IPCNamespace say which PID and IPC namespaces the container runs in;
	// the zero value is a new one of its own.
	PIDNamespace Namespace
	IPCNamespace Namespace
	// ShmPath, when set, is a host directory mounted on /dev/shm instead of a private tmpfs
	// (the host's /dev/shm for ipcMode host, the task's for ipcMode task). NoShm leaves
	// /dev/shm out entirely (ipcMode none, as Docker does).
	ShmPath string
	NoShm   bool
	// ShmSize is in bytes; 0 keeps the default (64 MiB).
	ShmSize int64
	Devices []Device
	Ulimits []Ulimit
	Sysctls map[string]string
	// CPUShares is the cgroup cpu.shares (cpu.weight on v2 is derived).
	CPUShares uint64
	// MemoryLimit and MemoryReservation are in bytes.
	MemoryLimit       int64
	MemoryReservation int64
	// CgroupParent places the container under the task's cgroup.
	CgroupParent string
	// NetNSPath joins an existing network namespace. Empty means the host's network,
	// unless PrivateNetwork asks for a new namespace with only a loopback interface.
	NetNSPath      string
	PrivateNetwork bool
	// HostNetNSPath is the namespace "the host's network" means: the agent's own. Empty
	// leaves a host-network container where the runtime's shim runs, which is the same
	// namespace on an instance but not for an agent run inside a namespace (tests).
	HostNetNSPath string
	// LogPath is the file the container's stdout and stderr are written to.
	LogPath string
	// Logging says how the output is kept: rotation limits, a shipping driver, or nothing.
	Logging LogSettings
	// Record is opaque data the runtime keeps with the container for as long as it exists
	// and hands back with ContainerRecord: the agent's copy of what it needs to rebuild its
	// own state for the container if it loses it. At most MaxRecordSize bytes. Never
	// secrets or credentials: anyone who can read the runtime's metadata can read it.
	Record []byte
}

// LogSettings say how a container's output is kept beyond its log file's path.
type LogSettings struct {
	// Discard keeps nothing: the output goes nowhere and there is no log file (the log
	// driver none).
	Discard bool `json:"discard,omitempty"`
	// LoggerArgs are further arguments of the runtime's logger ("--flag" → value; see
	// containerlog.Args): rotation limits, a shipping driver's options. They are kept in
	// the runtime's metadata and visible in the host's process table: never secrets.
	LoggerArgs map[string]string `json:"loggerArgs,omitempty"`
}

// MaxRecordSize bounds ContainerConfig.Record. The runtime keeps it in its metadata store
// and sends it with every container listing, so it must stay small; an ECS task definition
// is at most 64 KiB.
const MaxRecordSize = 256 << 10

// Namespace says which namespace of one kind a container runs in: the host's (Host), the
// one at Path (e.g. /proc/<pid>/ns/pid of a task's namespace holder), or, when both are
// zero, a new one of its own.
type Namespace struct {
	Host bool
	Path string
}

// Mount is a bind or tmpfs mount.
type Mount struct {
	Type        string // "bind" or "tmpfs"
	Source      string
	Destination string
	Options     []string
}

// Device is a host device made available in the container.
type Device struct {
	HostPath      string
	ContainerPath string
	Permissions   string // "rwm" subset
}

// Ulimit is an rlimit.
type Ulimit struct {
	Name string
	Soft uint64
	Hard uint64
}

// Status is a container's runtime state.
type Status string

const (
	StatusCreated Status = "created"
	StatusRunning Status = "running"
	StatusStopped Status = "stopped"
	StatusUnknown Status = "unknown"
)

// ContainerState is what the runtime knows about a container.
type ContainerState struct {
	ID         string
	Labels     map[string]string
	Image      string
	Status     Status
	Pid        uint32
	ExitCode   int32
	OOMKilled  bool
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	// StartError is why the container's process could not be started, when the runtime
	// can tell (InspectContainer only): e.g. "exec /bin/sh: argument list too long" for a
	// process that exited at once because its exec failed.
	StartError string
}

// EventType is the kind of a runtime event.
type EventType string

const (
	EventStart  EventType = "start"
	EventExit   EventType = "exit"
	EventOOM    EventType = "oom"
	EventDelete EventType = "delete"
	EventCreate EventType = "create"
)

// Event is a container lifecycle event.
type Event struct {
	Type        EventType
	ContainerID string
	ExitCode    int32
	Time        time.Time
}

// Stats is the cumulative resource usage of one container's cgroup, read at Time. Besides
// the summary TCS needs it carries everything a Docker Engine stats document is made of, so
// the task metadata endpoint can serve that shape without knowing cgroup versions. Which
// fields are set, and the names in MemoryStat and BlkioEntry.Op, follow the cgroup version
// the way Docker reports them, because clients written against Docker expect exactly that.
type Stats struct {
	Time time.Time
	// CgroupVersion is 1 or 2 (0 if unknown). It tells MemoryStat's key set apart and lets a
	// consumer reproduce version-specific details of Docker's output.
	CgroupVersion int

	// CPUUsageNanos is total CPU time consumed.
	CPUUsageNanos uint64
	// CPUUserNanos and CPUKernelNanos split CPU time into user and kernel mode.
	CPUUserNanos   uint64
	CPUKernelNanos uint64
	// PerCPUNanos is CPU time per CPU (v1 cpuacct.usage_percpu). cgroup v2 has no per-CPU
	// accounting, so it is nil there.
	PerCPUNanos []uint64
	// CPUPeriods, CPUThrottledPeriods and CPUThrottledNanos are CFS bandwidth throttling:
	// enforcement periods elapsed, periods in which the quota ran out, and time throttled.
	CPUPeriods          uint64
	CPUThrottledPeriods uint64
	CPUThrottledNanos   uint64

	MemoryUsage uint64
	// MemoryMaxUsage is the usage high-water mark (v1 max_usage_in_bytes). Docker reports
	// none on v2, so it stays 0 there.
	MemoryMaxUsage uint64
	MemoryLimit    uint64
	// MemoryFailcnt counts hits of the limit: v1 memory failcnt, v2 the "oom" count of
	// memory.events (Docker's choice for v2).
	MemoryFailcnt uint64
	// MemoryCache is page cache (v1 "cache", v2 "inactive_file") excluded from working set.
	MemoryCache uint64
	// MemoryStat is memory.stat under Docker's key names: v1 "cache", "rss", "total_rss" …;
	// v2 "anon", "file", "inactive_file" ….
	MemoryStat map[string]uint64

	Pids uint64
	// PidsLimit is the pids cgroup limit; 0 means unlimited.
	PidsLimit uint64

	// BlkioServiceBytes and BlkioServiced are bytes and I/O operations per device and
	// operation. v1 copies blkio.*_recursive (ops "Read", "Write", "Sync", "Async",
	// "Discard", "Total"); v2 maps io.stat to "read" and "write" bytes only and leaves
	// BlkioServiced empty, as Docker does.
	BlkioServiceBytes []BlkioEntry
	BlkioServiced     []BlkioEntry
}

// BlkioEntry is one block I/O counter of a Stats: device major:minor, operation, value.
type BlkioEntry struct {
	Major uint64
	Minor uint64
	Op    string
	Value uint64
}
