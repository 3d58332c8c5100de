package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ContainerSpec is an ECS container definition as the control plane sent it, with the
// Docker-shaped dockerConfig blobs already parsed into typed fields.
type ContainerSpec struct {
	// TaskName is the owning Task object's name (the task ID).
	TaskName string `json:"taskName"`
	// Name is the container name within the task.
	Name       string   `json:"name"`
	Image      string   `json:"image"`
	Command    []string `json:"command,omitempty"`
	EntryPoint []string `json:"entryPoint,omitempty"`
	// CPU is in CPU units (1024 per vCPU); it becomes cpu shares.
	CPU int64 `json:"cpu,omitempty"`
	// Memory is the hard limit in MiB; MemoryReservation the soft limit.
	Memory            int64             `json:"memory,omitempty"`
	MemoryReservation int64             `json:"memoryReservation,omitempty"`
	Essential         bool              `json:"essential"`
	Environment       map[string]string `json:"environment,omitempty"`
	EnvironmentFiles  []EnvironmentFile `json:"environmentFiles,omitempty"`
	Links             []string          `json:"links,omitempty"`
	PortMappings      []PortMapping     `json:"portMappings,omitempty"`
	MountPoints       []MountPoint      `json:"mountPoints,omitempty"`
	VolumesFrom       []VolumeFrom      `json:"volumesFrom,omitempty"`
	DependsOn         []Dependency      `json:"dependsOn,omitempty"`
	// StartTimeout and StopTimeout are in seconds; zero means the agent defaults.
	StartTimeout    int64            `json:"startTimeout,omitempty"`
	StopTimeout     int64            `json:"stopTimeout,omitempty"`
	RestartPolicy   *RestartPolicy   `json:"restartPolicy,omitempty"`
	Privileged      bool             `json:"privileged,omitempty"`
	LinuxParameters *LinuxParameters `json:"linuxParameters,omitempty"`
	// SecurityOptions are the container's dockerSecurityOptions, parsed; nil when it has none.
	SecurityOptions *SecurityOptions  `json:"securityOptions,omitempty"`
	HealthCheck     *HealthCheck      `json:"healthCheck,omitempty"`
	User            string            `json:"user,omitempty"`
	WorkingDir      string            `json:"workingDir,omitempty"`
	Hostname        string            `json:"hostname,omitempty"`
	DNSServers      []string          `json:"dnsServers,omitempty"`
	DNSSearch       []string          `json:"dnsSearchDomains,omitempty"`
	ExtraHosts      []string          `json:"extraHosts,omitempty"`
	ReadonlyRootFS  bool              `json:"readonlyRootFilesystem,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	Ulimits         []Ulimit          `json:"ulimits,omitempty"`
	Sysctls         map[string]string `json:"sysctls,omitempty"`
	LogConfig       *LogConfig        `json:"logConfiguration,omitempty"`
	// RegistryAuth says how to authenticate the pull, when the task definition says so.
	RegistryAuth *RegistryAuth `json:"registryAuthentication,omitempty"`
	// Secrets name the container's secrets: environment variables (target CONTAINER) and
	// log driver options (target LOG_DRIVER). They are references only; the values are read
	// with the task's execution role just before the container is created and kept in the
	// agent's memory, never in an object, the checkpoint or the runtime's record.
	Secrets []SecretRef `json:"secrets,omitempty"`

	// ARN is the container's ARN from the payload, reported by task metadata v4.
	ARN string `json:"containerArn,omitempty"`
	// EndpointID is the random, unguessable ID in the container's task metadata and agent
	// API URIs (ECS_CONTAINER_METADATA_URI[_V4], ECS_AGENT_URI). It is generated once when
	// the task is first accepted and never changes, so URIs a container was started with
	// keep working across agent restarts.
	EndpointID string `json:"endpointId,omitempty"`
}

// EnvironmentFile is an environment file; ecsd reads local paths (type "local") itself.
type EnvironmentFile struct {
	Value string `json:"value"`
	Type  string `json:"type"`
}

// Secret targets: where a secret's value goes.
const (
	SecretTargetContainer = "CONTAINER"
	SecretTargetLogDriver = "LOG_DRIVER"
)

// Secret providers.
const (
	SecretProviderSSM = "ssm"
	SecretProviderASM = "asm"
)

// SecretRef is where a secret's value is read from and what it is called; never the value.
type SecretRef struct {
	// Name is the environment variable (CONTAINER) or log driver option (LOG_DRIVER).
	Name string `json:"name"`
	// ValueFrom is an SSM parameter name or ARN, or a Secrets Manager secret ARN optionally
	// followed by :json-key:version-stage:version-id.
	ValueFrom string `json:"valueFrom"`
	// Provider is "ssm" or "asm".
	Provider string `json:"provider"`
	// Region is where the secret lives; empty means the agent's region.
	Region string `json:"region,omitempty"`
	// Target is CONTAINER or LOG_DRIVER.
	Target string `json:"target"`
}

// PortMapping is a container port mapping; HostPort 0 asks for a dynamic port.
type PortMapping struct {
	ContainerPort      int32  `json:"containerPort,omitempty"`
	HostPort           int32  `json:"hostPort,omitempty"`
	ContainerPortRange string `json:"containerPortRange,omitempty"`
	Protocol           string `json:"protocol,omitempty"`
}

// MountPoint mounts a task volume into the container.
type MountPoint struct {
	SourceVolume  string `json:"sourceVolume"`
	ContainerPath string `json:"containerPath"`
	ReadOnly      bool   `json:"readOnly,omitempty"`
}

// VolumeFrom mounts all volumes of another container of the task.
type VolumeFrom struct {
	SourceContainer string `json:"sourceContainer"`
	ReadOnly        bool   `json:"readOnly,omitempty"`
}

// Dependency is a dependsOn entry.
type Dependency struct {
	ContainerName string              `json:"containerName"`
	Condition     DependencyCondition `json:"condition"`
}

// RestartPolicy restarts a container in place after it exits.
type RestartPolicy struct {
	Enabled          bool    `json:"enabled"`
	IgnoredExitCodes []int32 `json:"ignoredExitCodes,omitempty"`
	// RestartAttemptPeriod is in seconds: a container is only restarted if it ran this long.
	RestartAttemptPeriod int64 `json:"restartAttemptPeriod,omitempty"`
}

// LinuxParameters are the container's Linux-specific settings.
type LinuxParameters struct {
	CapAdd             []string `json:"capAdd,omitempty"`
	CapDrop            []string `json:"capDrop,omitempty"`
	Devices            []Device `json:"devices,omitempty"`
	InitProcessEnabled bool     `json:"initProcessEnabled,omitempty"`
	// SharedMemorySize is in MiB.
	SharedMemorySize int64   `json:"sharedMemorySize,omitempty"`
	Tmpfs            []Tmpfs `json:"tmpfs,omitempty"`
}

// SecurityOptions are Docker's security options (ECS dockerSecurityOptions) in typed form.
// Which of them a host can honour is decided when the container is created: an option the
// host cannot apply stops the container with the reason, it is never dropped.
type SecurityOptions struct {
	// NoNewPrivileges sets the process's no_new_privs bit: setuid binaries and file
	// capabilities grant nothing.
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
	// AppArmorProfile is the AppArmor profile the process runs under ("unconfined" for none).
	AppArmorProfile string `json:"apparmorProfile,omitempty"`
	// SELinuxLabel are the SELinux label options: "user:U", "role:R", "type:T", "level:L"
	// or "disable".
	SELinuxLabel []string `json:"selinuxLabel,omitempty"`
	// Seccomp is the seccomp profile: only "unconfined" (no filter) is supported; empty
	// means the default profile.
	Seccomp string `json:"seccomp,omitempty"`
}

// Device maps a host device into the container.
type Device struct {
	HostPath      string   `json:"hostPath"`
	ContainerPath string   `json:"containerPath,omitempty"`
	Permissions   []string `json:"permissions,omitempty"`
}

// Tmpfs is a tmpfs mount; Size is in MiB.
type Tmpfs struct {
	ContainerPath string   `json:"containerPath"`
	Size          int64    `json:"size"`
	MountOptions  []string `json:"mountOptions,omitempty"`
}

// HealthCheck is a Docker-shaped health check that ecsd runs itself (containerd has none).
type HealthCheck struct {
	// Test is Docker's form: ["CMD", args...], ["CMD-SHELL", "cmd"] or ["NONE"].
	Test        []string        `json:"test"`
	Interval    metav1.Duration `json:"interval,omitempty"`
	Timeout     metav1.Duration `json:"timeout,omitempty"`
	StartPeriod metav1.Duration `json:"startPeriod,omitempty"`
	Retries     int32           `json:"retries,omitempty"`
}

// Ulimit is a resource limit.
type Ulimit struct {
	Name string `json:"name"`
	Soft int64  `json:"soft"`
	Hard int64  `json:"hard"`
}

// LogConfig is the container's log driver and its options.
type LogConfig struct {
	Driver  string            `json:"logDriver"`
	Options map[string]string `json:"options,omitempty"`
}

// RegistryAuth is how to authenticate an image pull.
type RegistryAuth struct {
	Type string `json:"type"`
	// CredentialsParameter is the Secrets Manager ARN (asm) holding the registry credentials.
	CredentialsParameter string `json:"credentialsParameter,omitempty"`
	Region               string `json:"region,omitempty"`
	RegistryID           string `json:"registryId,omitempty"`
	UseExecutionRole     bool   `json:"useExecutionRole,omitempty"`
}

// ContainerStatus is what the engine observed and decided for one container.
type ContainerStatus struct {
	KnownStatus ContainerState `json:"knownStatus,omitempty"`
	// DesiredStatus is derived by the task controller from the task's desired status,
	// dependsOn and essential-container rules.
	DesiredStatus ContainerState `json:"desiredStatus,omitempty"`
	SentStatus    ContainerState `json:"sentStatus,omitempty"`
	// RuntimeID is the containerd container ID, recorded by the create step: RuntimeID()
	// of the task ARN and container name (64 hex characters, Docker's ID form), or the
	// object name for a container an older ecsd created. Every step, endpoint and report
	// uses this field, never a recomputed ID.
	RuntimeID   string `json:"runtimeId,omitempty"`
	ImageDigest string `json:"imageDigest,omitempty"`
	// ImageID is the image config's digest (Docker's image ID), reported by the endpoints.
	ImageID  string `json:"imageId,omitempty"`
	ExitCode *int32 `json:"exitCode,omitempty"`
	// Reason explains an abnormal stop, e.g. "CannotPullContainerError: ...".
	Reason          string           `json:"reason,omitempty"`
	Health          *Health          `json:"health,omitempty"`
	NetworkBindings []NetworkBinding `json:"networkBindings,omitempty"`
	// Network is the container's own network (bridge mode); awsvpc containers share the
	// task's (TaskStatus.Network) and host-mode containers have none.
	Network       *NetworkStatus `json:"network,omitempty"`
	PullStartedAt *metav1.Time   `json:"pullStartedAt,omitempty"`
	PullStoppedAt *metav1.Time   `json:"pullStoppedAt,omitempty"`
	CreatedAt     *metav1.Time   `json:"createdAt,omitempty"`
	StartedAt     *metav1.Time   `json:"startedAt,omitempty"`
	FinishedAt    *metav1.Time   `json:"finishedAt,omitempty"`
	// StopRequestedAt is when SIGTERM was first sent; SIGKILL follows after the stop timeout.
	// Microsecond precision so a restart never shortens the grace period by rounding.
	StopRequestedAt *metav1.MicroTime `json:"stopRequestedAt,omitempty"`
	RestartCount    int32             `json:"restartCount,omitempty"`
	LastRestartAt   *metav1.Time      `json:"lastRestartAt,omitempty"`
	// StartAttempts counts failed starts; a failed start is retried a few times within the
	// start timeout because a runtime can refuse a start transiently (e.g. right after an
	// agent was killed in the middle of one).
	StartAttempts int32 `json:"startAttempts,omitempty"`
	// PullAttempts counts failed pulls that were retried; a pull failing for a reason that
	// may pass (a registry hiccup, a reset connection) is tried up to five times in all.
	PullAttempts int32 `json:"pullAttempts,omitempty"`
	// LastError is the last failure of a step that is being retried.
	LastError string `json:"lastError,omitempty"`
	// LogPath is the container's log file on the host.
	LogPath string       `json:"logPath,omitempty"`
	History []Transition `json:"history,omitempty"`
	// LogDrops is what the container's logger could not write to LogPath (a full data
	// directory, a stalled disk), as its status file tells; nil while nothing was lost.
	LogDrops *LogDrops `json:"logDrops,omitempty"`
}

// LogDrops counts a container's output that was dropped instead of blocking the container.
type LogDrops struct {
	// Dropping is true while output is being dropped; Since and Reason describe why.
	Dropping bool         `json:"dropping,omitempty"`
	Since    *metav1.Time `json:"since,omitempty"`
	Reason   string       `json:"reason,omitempty"`
	// Bytes and Lines (line ends) dropped in all, over Episodes separate periods.
	Bytes    int64 `json:"bytes"`
	Lines    int64 `json:"lines"`
	Episodes int64 `json:"episodes"`
	// Shipping is what the log driver (awslogs) dropped instead of blocking the container
	// (non-blocking mode, e.g. while CloudWatch Logs cannot be reached); the log file is
	// not affected. Nil while the driver has dropped nothing.
	Shipping *ShipDrops `json:"shipping,omitempty"`
}

// ShipDropping reports whether d says the log driver is dropping now (nil-safe).
func (d *LogDrops) ShipDropping() bool {
	return d != nil && d.Shipping != nil && d.Shipping.Dropping
}

// ShipDrops counts events a shipping log driver dropped.
type ShipDrops struct {
	Dropping bool         `json:"dropping,omitempty"`
	Since    *metav1.Time `json:"since,omitempty"`
	Reason   string       `json:"reason,omitempty"`
	// Events (lines, or multiline events) and their bytes dropped, over Episodes periods.
	Events   int64 `json:"events"`
	Bytes    int64 `json:"bytes"`
	Episodes int64 `json:"episodes"`
}

// Health is the last health-check result.
type Health struct {
	Status   HealthState  `json:"status"`
	Since    *metav1.Time `json:"since,omitempty"`
	ExitCode int32        `json:"exitCode,omitempty"`
	Output   string       `json:"output,omitempty"`
	// FailingStreak counts consecutive failures toward the retries limit.
	FailingStreak int32 `json:"failingStreak,omitempty"`
	// CheckedAt is when the last check ran; the next one is due an interval later.
	CheckedAt *metav1.Time `json:"checkedAt,omitempty"`
}

// NetworkStatus is a network namespace the agent set up with CNI and what it got.
type NetworkStatus struct {
	// Mode is the network mode it was set up for: bridge or awsvpc.
	Mode string `json:"mode"`
	// ID names the setup in the network layer (the container's runtime ID for bridge, the
	// task ID for awsvpc); teardown needs nothing else.
	ID string `json:"id"`
	// NetNSPath is the namespace file containers join.
	NetNSPath string `json:"netnsPath,omitempty"`
	// IPv4Address is the address inside the namespace; IPv4Gateway its default gateway.
	IPv4Address string `json:"ipv4Address,omitempty"`
	IPv4Gateway string `json:"ipv4Gateway,omitempty"`
	// IPv4SubnetCIDR is the subnet of IPv4Address, e.g. 172.17.0.0/16.
	IPv4SubnetCIDR string `json:"ipv4SubnetCidr,omitempty"`
	// InterfaceName is the host name of an awsvpc task's ENI before it was moved in.
	InterfaceName string `json:"interfaceName,omitempty"`
	// EndpointIPv4Address is the address an awsvpc task reaches the agent's endpoints
	// (169.254.170.2) from: its leg on the agent bridge, which carries only that route. The
	// endpoints use it to tell which task a request comes from.
	EndpointIPv4Address string `json:"endpointIpv4Address,omitempty"`
	// ReleasedAt is set once the network was torn down: host ports and the address are
	// free again and the namespace is gone.
	ReleasedAt *metav1.Time `json:"releasedAt,omitempty"`
}

// NetworkBinding is a host port bound to a container port.
type NetworkBinding struct {
	BindIP             string `json:"bindIP"`
	ContainerPort      int32  `json:"containerPort,omitempty"`
	HostPort           int32  `json:"hostPort,omitempty"`
	ContainerPortRange string `json:"containerPortRange,omitempty"`
	HostPortRange      string `json:"hostPortRange,omitempty"`
	Protocol           string `json:"protocol"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=c

// Container is one container of an ECS task.
type Container struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ContainerSpec   `json:"spec,omitempty"`
	Status ContainerStatus `json:"status,omitempty"`
}

// ContainerName returns the object name of container c of task taskID.
func ContainerName(taskID, c string) string { return taskID + "-" + c }

// +kubebuilder:object:root=true

// ContainerList is a list of Containers.
type ContainerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Container `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Container{}, &ContainerList{})
}
