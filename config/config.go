package config

import (
	"net/netip"
	"path/filepath"
	"time"
)

// Config is the effective configuration. Field names are the reference agent's Go field
// names where it has one, because they are also the keys of the JSON file
// (ECS_AGENT_CONFIG_FILE_PATH); ecsd-only fields and variables the reference agent reads
// outside its Config get descriptive names.
//
// The `env` tag names the variable a field is read from; its options are
//
//	trim    surrounding whitespace is removed (the reference agent trims exactly these)
//	fatal   a value that does not parse is an error, not a warning
//	secret  the value is never printed
//	csv     a comma-separated list rather than a JSON array
//	custom  parsed by hand in Load, not by type
//
// Booleans are tri-state (BooleanDefaultFalse / BooleanDefaultTrue) so that an explicit false
// in a higher source beats a true in a lower one; use Enabled() to read them.
type Config struct {
	// --- Cluster and credentials ---

	// Cluster is the cluster name or ARN to register into; empty means "default".
	Cluster string `env:"ECS_CLUSTER,trim"`
	// AWSRegion signs every AWS call and picks the ECS endpoint. Only the environment, the
	// JSON file or the caller's fallback (WithRegionFallback) supply it.
	AWSRegion string `env:"AWS_DEFAULT_REGION,trim"`
	// AWSAccessKeyID, AWSSecretAccessKey and AWSSessionToken are static credentials. The
	// reference agent leaves them to the SDK's environment lookup; ecsd reads ecs.config
	// itself, so values given only in that file must be handed to the SDK explicitly.
	AWSAccessKeyID     string    `env:"AWS_ACCESS_KEY_ID" json:"-"`
	AWSSecretAccessKey Sensitive `env:"AWS_SECRET_ACCESS_KEY,secret" json:"-"`
	AWSSessionToken    Sensitive `env:"AWS_SESSION_TOKEN,secret" json:"-"`
	// AlternateCredentialProfile is the profile read from the rotating shared-credentials file.
	AlternateCredentialProfile string `env:"ECS_ALTERNATE_CREDENTIAL_PROFILE"`
	// External marks an ECS Anywhere instance: the region must come from the environment or
	// the JSON file (the region fallback is not consulted, as IMDS is off in that mode).
	External BooleanDefaultFalse `env:"ECS_EXTERNAL"`
	// DataDir holds saved state. The reference default is /data/, a path inside the agent's
	// container; ecsd runs on the host, so its default is /var/lib/ecs/data, the host
	// directory ecs-init mounts there.
	DataDir string `env:"ECS_DATADIR"`
	// Checkpoint persists state across restarts. It is on iff ECS_CHECKPOINT (or the JSON
	// file) says true, or ECS_DATADIR is set non-empty in the environment/ecs.config and
	// ECS_CHECKPOINT is not set.
	Checkpoint BooleanDefaultFalse `env:"ECS_CHECKPOINT"`
	// DataDirOnHost is the host directory whose data/ subfolder backs DataDir.
	DataDirOnHost string `env:"ECS_HOST_DATA_DIR"`
	// AgentConfigFilePath is the JSON file that was read (or would have been). Default
	// /etc/ecs/ecs.config.json, the path ecs-init passes to the agent, because ecsd reads it
	// directly on the host; the reference agent's own default is a container path.
	AgentConfigFilePath string `env:"ECS_AGENT_CONFIG_FILE_PATH,custom" json:"-"`
	// WarmPoolsSupport delays registration while the instance sits in a warm pool.
	WarmPoolsSupport BooleanDefaultFalse `env:"ECS_WARM_POOLS_CHECK"`
	// WarmPoolsPollInterval is how often the warm pool lifecycle state is read (ecsd only;
	// the reference agent's fixed minute is the default).
	WarmPoolsPollInterval time.Duration `env:"ECSD_WARM_POOLS_POLL_INTERVAL"`

	// --- Runtime and images ---

	// DockerEndpoint is read for compatibility only: ecsd talks to containerd
	// (ContainerdAddress), never to Docker.
	DockerEndpoint string `env:"DOCKER_HOST"`
	// EngineAuthType is the format of EngineAuthData: "docker" or "dockercfg".
	EngineAuthType string `env:"ECS_ENGINE_AUTH_TYPE,trim"`
	// EngineAuthData is the raw registry credentials document.
	EngineAuthData Sensitive `env:"ECS_ENGINE_AUTH_DATA,secret"`
	// EngineAuth is EngineAuthData parsed: registry host (scheme stripped) → credentials.
	// Nil when no usable auth is configured.
	EngineAuth map[string]RegistryAuth `env:"-" json:"-"`
	// ImagePullBehavior chooses between pulling and using a cached image.
	ImagePullBehavior ImagePullBehaviorType `env:"ECS_IMAGE_PULL_BEHAVIOR"`
	// ImagePullTimeout bounds one image pull.
	ImagePullTimeout time.Duration `env:"ECS_IMAGE_PULL_TIMEOUT"`
	// ImagePullInactivityTimeout cancels a pull that makes no progress; at least 1m.
	ImagePullInactivityTimeout time.Duration `env:"ECS_IMAGE_PULL_INACTIVITY_TIMEOUT"`
	// ManifestPullTimeout bounds resolving an image manifest; at least 30s from the environment.
	ManifestPullTimeout time.Duration `env:"ECS_MANIFEST_PULL_TIMEOUT"`
	// DependentContainersPullUpfront pulls images of containers still waiting on dependsOn.
	DependentContainersPullUpfront BooleanDefaultFalse `env:"ECS_PULL_DEPENDENT_CONTAINERS_UPFRONT"`
	// ImageCleanupDisabled turns image cleanup off, disk-pressure cleanup included. Unlike
	// the reference agent, ecsd keeps cleanup on with prefer-cached pulling: a removed image
	// is pulled again when a task needs it.
	ImageCleanupDisabled BooleanDefaultFalse `env:"ECS_DISABLE_IMAGE_CLEANUP"`
	// ImageCleanupInterval is the time between cleanup passes; at least 10m.
	ImageCleanupInterval time.Duration `env:"ECS_IMAGE_CLEANUP_INTERVAL"`
	// ImageCleanupIntervalOverride, when set, replaces ImageCleanupInterval without its
	// 10-minute floor (ecsd only): the reference's floor protects pulls its cleanup blocks,
	// and ecsd's blocks none. At least 1s.
	ImageCleanupIntervalOverride time.Duration `env:"ECSD_IMAGE_CLEANUP_INTERVAL"`
	// MinimumImageDeletionAge is how long after its last use an image may be removed.
	MinimumImageDeletionAge time.Duration `env:"ECS_IMAGE_MINIMUM_CLEANUP_AGE"`
	// NonECSMinimumImageDeletionAge is the same for images ECS did not pull, counted from
	// when they arrived on the host.
	NonECSMinimumImageDeletionAge time.Duration `env:"NON_ECS_IMAGE_MINIMUM_CLEANUP_AGE"`
	// ImageGCHighPercent is the image file system usage (percent, like df) above which
	// image cleanup runs at once, by the same rules, until usage is below ImageGCLowPercent
	// (ecsd only; kubelet's image GC thresholds). 100 turns disk-pressure cleanup off.
	ImageGCHighPercent int `env:"ECSD_IMAGE_GC_HIGH_PERCENT"`
	// ImageGCLowPercent is where disk-pressure cleanup stops; below ImageGCHighPercent.
	ImageGCLowPercent int `env:"ECSD_IMAGE_GC_LOW_PERCENT"`
	// ImageGCPullWait bounds how long a pull waits while usage is above ImageGCHighPercent
	// for images about to become removable (ecsd only). Zero takes the default, like every
	// duration here; a negative value never waits.
	ImageGCPullWait time.Duration `env:"ECSD_IMAGE_GC_PULL_WAIT"`
	// NumImagesToDeletePerCycle caps images removed per pass; at least 1.
	NumImagesToDeletePerCycle int `env:"ECS_NUM_IMAGES_DELETE_PER_CYCLE"`
	// NumNonECSContainersToDeletePerCycle caps non-ECS containers removed per pass.
	NumNonECSContainersToDeletePerCycle int `env:"NONECS_NUM_CONTAINERS_DELETE_PER_CYCLE"`
	// DeleteNonECSImagesEnabled also cleans up containers and images ECS did not create.
	DeleteNonECSImagesEnabled BooleanDefaultFalse `env:"ECS_ENABLE_UNTRACKED_IMAGE_CLEANUP"`
	// ImageCleanupExclusionList names images (name:tag) cleanup never removes.
	ImageCleanupExclusionList []string `env:"ECS_EXCLUDE_UNTRACKED_IMAGE,csv"`
	// SharedVolumeMatchFullConfig also compares driver options and labels of shared volumes.
	SharedVolumeMatchFullConfig BooleanDefaultFalse `env:"ECS_SHARED_VOLUME_MATCH_FULL_CONFIG"`
	// EFSAddresses maps an EFS file system ID to the address of its NFS server, used instead
	// of resolving <fs-id>.efs.<region>.amazonaws.com (ecsd only, JSON object): for hosts
	// whose resolver does not know the name, and for tests against a local NFS server.
	EFSAddresses map[string]string `env:"ECSD_EFS_ADDRESSES"`
	// EFSCAFile holds the certificates an EFS server's TLS certificate must chain to when
	// transitEncryption is ENABLED (ecsd only); empty is the system's bundle.
	EFSCAFile string `env:"ECSD_EFS_CA_FILE,trim"`

	// --- Task lifecycle ---

	// TaskCleanupWaitDuration is how long a stopped task is kept; below 1s resets to 3h.
	TaskCleanupWaitDuration time.Duration `env:"ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION"`
	// TaskCleanupWaitDurationJitter adds a random [0, jitter) to each task's wait.
	TaskCleanupWaitDurationJitter time.Duration `env:"ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION_JITTER"`
	// DockerStopTimeout is the SIGTERM→SIGKILL grace period (ECS_CONTAINER_STOP_TIMEOUT).
	DockerStopTimeout time.Duration `env:"ECS_CONTAINER_STOP_TIMEOUT"`
	// ContainerStartTimeout bounds the runtime's start call.
	ContainerStartTimeout time.Duration `env:"ECS_CONTAINER_START_TIMEOUT"`
	// ContainerCreateTimeout bounds the runtime's create call.
	ContainerCreateTimeout time.Duration `env:"ECS_CONTAINER_CREATE_TIMEOUT"`
	// TaskCPUMemLimit enables per-task cgroups. Tri-state on purpose: only an explicit true
	// that the host cannot honour is an error.
	TaskCPUMemLimit BooleanDefaultTrue `env:"ECS_ENABLE_TASK_CPU_MEM_LIMIT"`
	// CgroupPath is the cgroup filesystem root.
	CgroupPath string `env:"ECS_CGROUP_PATH"`
	// CgroupCPUPeriod is the CFS period for task CPU quotas, in [8ms, 100ms].
	CgroupCPUPeriod time.Duration `env:"ECS_CGROUP_CPU_PERIOD"`
	// TaskPidsLimit is the per-task pids.max; 0 means no limit.
	TaskPidsLimit int `env:"ECS_TASK_PIDS_LIMIT"`
	// PropagateTaskMemoryLimitCgroupV2 copies the task memory limit onto containers without one.
	PropagateTaskMemoryLimitCgroupV2 BooleanDefaultFalse `env:"ECS_PROPAGATE_TASK_MEMORY_LIMIT_CGROUPV2"`
	// SpotInstanceDrainingEnabled drains the instance on a Spot interruption notice.
	SpotInstanceDrainingEnabled BooleanDefaultFalse `env:"ECS_ENABLE_SPOT_INSTANCE_DRAINING"`

	// --- Networking ---

	// ReservedPorts are host TCP ports never handed to tasks.
	ReservedPorts []uint16 `env:"ECS_RESERVED_PORTS"`
	// ReservedPortsUDP are host UDP ports never handed to tasks.
	ReservedPortsUDP []uint16 `env:"ECS_RESERVED_PORTS_UDP"`
	// DynamicHostPortRange is where hostPort 0 mappings draw from. Default: the kernel's
	// ip_local_port_range, or 49153-65535 when that cannot be read.
	DynamicHostPortRange PortRange `env:"ECS_DYNAMIC_HOST_PORT_RANGE"`
	// ShouldExcludeIPv6PortBinding leaves "::" bindings out of state reports. It defaults to
	// false when InstanceIPCompatibility is ipv6 (detection itself is not done here).
	ShouldExcludeIPv6PortBinding BooleanDefaultTrue `env:"ECS_EXCLUDE_IPV6_PORTBINDING"`
	// InstanceIPCompatibility forces IPv4-only or IPv6-only handling; empty = auto-detect.
	InstanceIPCompatibility IPCompatibility `env:"ECS_INSTANCE_IP_COMPATIBILITY"`
	// TaskENIEnabled enables awsvpc network mode.
	TaskENIEnabled BooleanDefaultFalse `env:"ECS_ENABLE_TASK_ENI"`
	// ENITrunkingEnabled is read only with TaskENIEnabled; otherwise it is forced off.
	ENITrunkingEnabled BooleanDefaultTrue `env:"ECS_ENABLE_HIGH_DENSITY_ENI"`
	// CNIPluginsPath is the CNI plugin directory. ecsd does not ship the ECS CNI plugins and
	// uses the standard plugins, so the default is Debian's /usr/lib/cni rather than the
	// reference agent's /amazon-ecs-cni-plugins.
	CNIPluginsPath string `env:"ECS_CNI_PLUGINS_PATH"`
	// AWSVPCBlockInstanceMetdata blocks IMDS for awsvpc tasks. The misspelling is the
	// reference agent's and is kept because it is the JSON key.
	AWSVPCBlockInstanceMetdata BooleanDefaultFalse `env:"ECS_AWSVPC_BLOCK_IMDS"`
	// AWSVPCAdditionalLocalRoutes are CIDRs awsvpc tasks reach through the host bridge.
	AWSVPCAdditionalLocalRoutes []netip.Prefix `env:"ECS_AWSVPC_ADDITIONAL_LOCAL_ROUTES,fatal"`
	// HostNetNS is the network namespace (a path, e.g. a bind mount under /run/netns) that
	// host-network tasks join: set it when the agent itself runs in a namespace other than
	// containerd's. Empty means containerd's, the instance's own. It must outlive agent
	// restarts, since created containers keep the path in their spec.
	HostNetNS string `env:"ECSD_HOST_NETNS,trim"`
	// BridgeName is the Linux bridge of bridge-mode tasks (ecsd only; Docker's is docker0).
	BridgeName string `env:"ECSD_BRIDGE_NAME,trim"`
	// BridgeSubnet is the bridge network; its first address is the gateway (ecsd only).
	BridgeSubnet netip.Prefix `env:"ECSD_BRIDGE_SUBNET"`
	// ENIAttachTimeout bounds the wait for an awsvpc task's ENI to appear (ecsd only).
	ENIAttachTimeout time.Duration `env:"ECSD_ENI_ATTACH_TIMEOUT"`
	// PauseContainerLabels are labels added to per-task pause (namespace holder) containers.
	PauseContainerLabels map[string]string `env:"ECS_PAUSE_LABELS"`

	// --- Control plane, metadata and credentials ---

	// APIEndpoint overrides the ECS endpoint (ECS_BACKEND_HOST); https:// is added when the
	// value has no scheme.
	APIEndpoint string `env:"ECS_BACKEND_HOST,trim"`
	// HTTPProxy, HTTPSProxy and NoProxy are the proxy settings (upper- or lower-case
	// variables). They are collected here because ecs.config is not the process environment.
	// Proxy URLs may carry a password, which ProxyURL never prints.
	HTTPProxy  ProxyURL `env:"HTTP_PROXY"`
	HTTPSProxy ProxyURL `env:"HTTPS_PROXY"`
	NoProxy    string   `env:"NO_PROXY"`
	// TaskIAMRoleEnabled serves task-role credentials in bridge/awsvpc mode.
	TaskIAMRoleEnabled BooleanDefaultFalse `env:"ECS_ENABLE_TASK_IAM_ROLE"`
	// TaskIAMRoleEnabledForNetworkHost serves them to host-mode tasks too.
	TaskIAMRoleEnabledForNetworkHost BooleanDefaultFalse `env:"ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST"`
	// ContainerMetadataEnabled writes a metadata file per container.
	ContainerMetadataEnabled BooleanDefaultFalse `env:"ECS_ENABLE_CONTAINER_METADATA"`
	// TaskMetadataSteadyStateRate and TaskMetadataBurstRate throttle 169.254.170.2 per
	// (client IP, path); both come from ECS_TASK_METADATA_RPS_LIMIT="steady,burst".
	TaskMetadataSteadyStateRate int `env:"ECS_TASK_METADATA_RPS_LIMIT,custom"`
	TaskMetadataBurstRate       int `env:"-"`
	// TaskMetadataAZDisabled hides the availability zone from task metadata.
	TaskMetadataAZDisabled BooleanDefaultFalse `env:"ECS_DISABLE_TASK_METADATA_AZ"`
	// GMSACapable enables gMSA through credentials-fetcher.
	GMSACapable BooleanDefaultFalse `env:"ECS_GMSA_SUPPORTED"`
	// CredentialsFetcherHost is the credentials-fetcher socket. The reference agent gets it
	// from ecs-init as a hand-off variable; ecsd runs on the host and reads it directly.
	CredentialsFetcherHost string `env:"CREDENTIALS_FETCHER_HOST"`
	// CredentialsFetcherSecretNameForDomainlessGMSA enables domainless gMSA when non-empty.
	// It only names a secret, but like every *SECRET* variable it is never printed.
	CredentialsFetcherSecretNameForDomainlessGMSA Sensitive `env:"CREDENTIALS_FETCHER_SECRET_NAME_FOR_DOMAINLESS_GMSA"`

	// --- Logging ---

	// LogLevel is the console level: debug, info, warn, error, crit or none.
	LogLevel string `env:"ECS_LOGLEVEL"`
	// LogLevelOnInstance is the log file level; defaults to none when LogDriver is set and to
	// LogLevel otherwise.
	LogLevelOnInstance string `env:"ECS_LOGLEVEL_ON_INSTANCE"`
	// LogFile is the agent's own log file; empty means none.
	LogFile string `env:"ECS_LOGFILE"`
	// LogRolloverType is size, hourly or none.
	LogRolloverType string `env:"ECS_LOG_ROLLOVER_TYPE"`
	// LogOutputFormat is logfmt or json.
	LogOutputFormat string `env:"ECS_LOG_OUTPUT_FORMAT"`
	// LogMaxFileSizeMB is the size rollover threshold.
	LogMaxFileSizeMB float64 `env:"ECS_LOG_MAX_FILE_SIZE_MB"`
	// LogMaxRollCount is how many rotated files are kept.
	LogMaxRollCount int `env:"ECS_LOG_MAX_ROLL_COUNT"`
	// LogDriver is the log driver ecs-init gives the agent container. ecsd has no agent
	// container; the value only matters because setting it turns the log file off by default.
	LogDriver string `env:"ECS_LOG_DRIVER"`
	// LogOpts are options for LogDriver.
	LogOpts map[string]string `env:"ECS_LOG_OPTS"`
	// AvailableLoggingDrivers are the log drivers tasks may use here.
	AvailableLoggingDrivers []LoggingDriver `env:"ECS_AVAILABLE_LOGGING_DRIVERS"`
	// OverrideAWSLogsExecutionRole lets awslogs use the task execution role.
	OverrideAWSLogsExecutionRole BooleanDefaultFalse `env:"ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE"`
	// FirelensAsyncEnabled sets fluentd async options for FireLens containers.
	FirelensAsyncEnabled BooleanDefaultTrue `env:"ECS_ENABLE_FIRELENS_ASYNC"`
	// CredentialsAuditLogFile records credential requests. Default /var/log/ecs/audit.log:
	// the reference's /log/audit.log is the container view of that host file.
	CredentialsAuditLogFile string `env:"ECS_AUDIT_LOGFILE"`
	// CredentialsAuditLogDisabled turns the audit log off.
	CredentialsAuditLogDisabled BooleanDefaultFalse `env:"ECS_AUDIT_LOGFILE_DISABLED"`

	// --- Metrics and health ---

	// DisableMetrics stops task metrics collection.
	DisableMetrics BooleanDefaultFalse `env:"ECS_DISABLE_METRICS"`
	// PollMetrics samples stats instead of streaming them.
	PollMetrics BooleanDefaultFalse `env:"ECS_POLL_METRICS"`
	// PollingMetricsWaitDuration is the sampling interval, clamped to [5s, 20s] when polling.
	PollingMetricsWaitDuration time.Duration `env:"ECS_POLLING_METRICS_WAIT_DURATION"`
	// DisableDockerHealthCheck ignores container health checks.
	DisableDockerHealthCheck BooleanDefaultFalse `env:"ECS_DISABLE_DOCKER_HEALTH_CHECK"`
	// AgentHealthcheckHost is the host the --healthcheck probe contacts.
	AgentHealthcheckHost string `env:"ECS_AGENT_HEALTHCHECK_HOST"`
	// EnableRuntimeStats exposes pprof on the introspection port.
	EnableRuntimeStats BooleanDefaultFalse `env:"ECS_ENABLE_RUNTIME_STATS"`
	// PrometheusMetricsEnabled serves metrics on 51680 (all addresses, as the reference
	// agent) and reserves that port.
	PrometheusMetricsEnabled BooleanDefaultFalse `env:"ECS_ENABLE_PROMETHEUS_METRICS"`

	// --- Security and devices ---

	// PrivilegedDisabled refuses privileged containers.
	PrivilegedDisabled BooleanDefaultFalse `env:"ECS_DISABLE_PRIVILEGED"`
	// SELinuxCapable advertises SELinux support.
	SELinuxCapable BooleanDefaultFalse `env:"ECS_SELINUX_CAPABLE"`
	// AppArmorCapable advertises AppArmor support.
	AppArmorCapable BooleanDefaultFalse `env:"ECS_APPARMOR_CAPABLE"`
	// GPUSupportEnabled makes NVIDIA GPUs available to tasks.
	GPUSupportEnabled BooleanDefaultFalse `env:"ECS_ENABLE_GPU_SUPPORT"`
	// NvidiaRuntime is the runtime name used for GPU containers.
	NvidiaRuntime string `env:"ECS_NVIDIA_RUNTIME,trim"`
	// InferentiaSupportEnabled enables Inferentia/Neuron devices.
	InferentiaSupportEnabled BooleanDefaultFalse `env:"ECS_ENABLE_INF_SUPPORT"`
	// EBSTASupported allows EBS volumes attached to tasks.
	EBSTASupported BooleanDefaultTrue `env:"ECS_EBSTA_SUPPORTED"`
	// VolumePluginCapabilities are advertised as ecs.capability.<name>.
	VolumePluginCapabilities []string `env:"ECS_VOLUME_PLUGIN_CAPABILITIES"`

	// --- Attributes and tags ---

	// InstanceAttributes are custom attributes sent on first registration.
	InstanceAttributes map[string]string `env:"ECS_INSTANCE_ATTRIBUTES,fatal"`
	// ContainerInstanceTags are tags put on the container instance at registration.
	ContainerInstanceTags map[string]string `env:"ECS_CONTAINER_INSTANCE_TAGS,fatal"`
	// ContainerInstancePropagateTagsFrom copies EC2 tags when ec2_instance.
	ContainerInstancePropagateTagsFrom ContainerInstancePropagateTagsFromType `env:"ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM"`
	// DetailedOSFamily is sent as ecs.os-type-detailed.
	DetailedOSFamily string `env:"ECS_DETAILED_OS_FAMILY"`
	// ReservedMemory (MiB) is subtracted from the memory reported to ECS.
	ReservedMemory uint16 `env:"ECS_RESERVED_MEMORY"`

	// --- Updates ---

	// UpdatesEnabled accepts self-update requests (ACS StageUpdate/PerformUpdate;
	// internal/selfupdate).
	UpdatesEnabled BooleanDefaultFalse `env:"ECS_UPDATES_ENABLED"`
	// UpdateDownloadDir is where updates are downloaded and staged for ecs-init to install
	// (DefaultUpdateDownloadDir, an absolute path).
	UpdateDownloadDir string `env:"ECS_UPDATE_DOWNLOAD_DIR"`

	// --- Host set-up (read by ecsd's ecs-init from the same files) ---

	// SkipLocalhostTrafficFilter skips the rule dropping off-host traffic to 127.0.0.0/8.
	SkipLocalhostTrafficFilter BooleanDefaultFalse `env:"ECS_SKIP_LOCALHOST_TRAFFIC_FILTER"`
	// AllowOffhostIntrospectionAccess skips the rules blocking remote access to port 51678.
	AllowOffhostIntrospectionAccess BooleanDefaultFalse `env:"ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS"`

	// --- ecsd only ---

	// ContainerdAddress is containerd's socket.
	ContainerdAddress string `env:"ECSD_CONTAINERD_ADDRESS"`
	// ContainerdNamespace is the containerd namespace holding every ECS container.
	ContainerdNamespace string `env:"ECSD_CONTAINERD_NAMESPACE"`
	// AllowTaskIMDS lets task containers reach 169.254.169.254. Off by default in every
	// network mode (the reference agent only blocks it for awsvpc on request), because
	// instance credentials are broader than any task's.
	AllowTaskIMDS BooleanDefaultFalse `env:"ECSD_ALLOW_TASK_IMDS"`
	// TaskCredentialsSourceCheck answers a credentials ID only to a caller whose source
	// address belongs to the task that owns it (DESIGN §9). Turning it off leaves the
	// unguessable ID as the only secret, as with the reference agent.
	TaskCredentialsSourceCheck BooleanDefaultTrue `env:"ECSD_TASK_CREDENTIALS_SOURCE_CHECK"`
	// APITokenFile holds the bearer token the object API requires (DESIGN §9). The agent
	// creates it (mode 0600, a random token) when it is missing; ecsctl reads it by default,
	// and `ecsctl token` prints it for kubectl --token.
	APITokenFile string `env:"ECSD_API_TOKEN_FILE,trim"`
	// LocalCredentialsFile holds the local control plane's endpoint, region and key pair,
	// generated once per installation by `ecs-agent --local` (mode 0600); ecsctl reads it
	// for run/stop and `ecsctl local env` prints it as export lines.
	LocalCredentialsFile string `env:"ECSD_LOCAL_CREDENTIALS_FILE,trim"`
	// LoggerPath is ecsd-logger, which containerd's shim runs for every task container to
	// take its stdout and stderr to the log file without ever blocking it (on a full disk
	// output is dropped and counted). Empty: ecsd-logger next to the agent's executable.
	LoggerPath string `env:"ECSD_LOGGER_PATH,trim"`
	// RegistryConfigPath is a directory of per-registry settings in containerd's hosts
	// directory layout (<host>/hosts.toml): mirrors, pull-through caches, CAs. The default
	// is containerd's own conventional path, so a host's containerd mirrors apply to ecsd.
	RegistryConfigPath string `env:"ECSD_REGISTRY_CONFIG_PATH,trim"`
	// InitPath is ecsd-init, the static init bind-mounted into initProcessEnabled containers
	// and run as the holder of pidMode/ipcMode "task" namespaces. Empty: ecsd-init next to
	// the agent's executable, else the host's tini-static or catatonit for initProcessEnabled.
	InitPath string `env:"ECSD_INIT_PATH,trim"`
	// HealthcheckACSGrace is how long ACS may stay disconnected before the agent's health
	// (ecs-agent --healthcheck) says unhealthy: a disconnection the reconnect backoff
	// (2 min at most, plus a 30 s handshake) normally repairs must not fail the check.
	HealthcheckACSGrace time.Duration `env:"ECSD_HEALTHCHECK_ACS_GRACE"`
	// HelpersDir, when set, is a host directory mounted at the same path in the agent's
	// container: the agent copies ecsd-logger, ecsd-logger-awslogs, ecsd-logger-ship and ecsd-init from next
	// to its executable into it at start and uses those copies, because containerd's shims
	// and runc run them from the host, where the container's own files are not visible. The
	// agent image sets it (/var/lib/ecs/deps/ecsd). Empty: the helpers are used in place.
	HelpersDir string `env:"ECSD_HELPERS_DIR,trim"`
	// AgentImage is read by `ecs-init start` only: when set, it runs the agent from this
	// image (loaded from ecs-init's cache or pulled into containerd, its binaries copied to
	// the host) instead of the host binary. The agent itself ignores it.
	AgentImage string `env:"ECSD_AGENT_IMAGE,trim"`
	// ConfigFile is the KEY=VALUE file that was read ("" when disabled). It comes from an
	// option or the process environment only, never from the file itself.
	ConfigFile string `env:"ECSD_CONFIG_FILE,custom" json:"-"`
}

// APICertFiles are the introspection port's TLS certificate and key (api.crt, api.key),
// kept beside the object API token, whose directory is root-only.
func APICertFiles(tokenFile string) (cert, key string) {
	dir := filepath.Dir(tokenFile)
	return filepath.Join(dir, "api.crt"), filepath.Join(dir, "api.key")
}

// Defaults and limits. Unexported where only this package's rules need them.
const (
	DefaultCluster             = "default"
	DefaultDataDir             = "/var/lib/ecs/data"
	DefaultConfigFile          = "/etc/ecs/ecs.config"
	DefaultAgentConfigFilePath = "/etc/ecs/ecs.config.json"
	DefaultContainerdAddress   = "/run/containerd/containerd.sock"
	DefaultContainerdNamespace = "ecs"
	DefaultCNIPluginsPath      = "/usr/lib/cni"
	DefaultPortRangeFile       = "/proc/sys/net/ipv4/ip_local_port_range"
	// DefaultAPITokenFile and DefaultLocalCredentialsFile live outside ECS_DATADIR, so that
	// ecsctl finds them without knowing the data directory, and a checkpoint moved aside
	// never takes them along.
	DefaultAPITokenFile                = "/var/lib/ecs/ecsd/api-token"
	DefaultRegistryConfigPath          = "/etc/containerd/certs.d"
	DefaultLocalCredentialsFile        = "/var/lib/ecs/ecsd/local-plane.json"
	PrometheusMetricsPort       uint16 = 51680
	// DefaultHealthcheckACSGrace is ECSD_HEALTHCHECK_ACS_GRACE's default: twice the ACS
	// reconnect backoff's ceiling (2 min) plus its handshake timeout (30 s), rounded up.
	DefaultHealthcheckACSGrace = 5 * time.Minute

	defaultTaskCleanupWaitDuration  = 3 * time.Hour
	minTaskCleanupWaitDuration      = time.Second
	defaultDockerStopTimeout        = 30 * time.Second
	minDockerStopTimeout            = time.Second
	defaultContainerStartTimeout    = 3 * time.Minute
	minContainerStartTimeout        = 45 * time.Second
	defaultContainerCreateTimeout   = 4 * time.Minute
	minContainerCreateTimeout       = time.Minute
	defaultManifestPullTimeout      = time.Minute
	minManifestPullTimeout          = 30 * time.Second
	defaultImagePullInactivity      = time.Minute
	minImagePullInactivity          = time.Minute
	defaultImagePullTimeout         = 2 * time.Hour
	defaultImageCleanupInterval     = 30 * time.Minute
	minImageCleanupInterval         = 10 * time.Minute
	defaultImageDeletionAge         = time.Hour
	defaultNumImagesPerCycle        = 5
	defaultNumContainersPerCycle    = 5
	minImageCleanupIntervalOverride = time.Second
	defaultImageGCHighPercent       = 85
	defaultImageGCLowPercent        = 80
	defaultImageGCPullWait          = 2 * time.Minute
	defaultWarmPoolsPollInterval    = time.Minute
	defaultTaskMetadataSteadyRate   = 40
	defaultTaskMetadataBurstRate    = 60
	defaultPollingMetricsWait       = 10 * time.Second
	minPollingMetricsWait           = 5 * time.Second
	maxPollingMetricsWait           = 20 * time.Second
	defaultCgroupCPUPeriod          = 100 * time.Millisecond
	minCgroupCPUPeriod              = 8 * time.Millisecond
	maxTaskPidsLimit                = 4194304
	defaultLogMaxFileSizeMB         = 5
	defaultLogMaxRollCount          = 24
	fallbackDynamicPortRangeStart   = 49153
	fallbackDynamicPortRangeEnd     = 65535
	defaultCredentialsFetcherSocket = "unix:///var/credentials-fetcher/socket/credentials_fetcher.sock"
)

// DefaultUpdateDownloadDir is ECS_UPDATE_DOWNLOAD_DIR's default, the value the reference
// ecs-init gives its agent.
const DefaultUpdateDownloadDir = "/var/cache/ecs"

// Defaults returns the configuration used when no source sets anything. It is pure: the
// dynamic host port range is the documented fallback (49153-65535), where Load would read
// the kernel's range instead.
func Defaults() *Config {
	c := baseDefaults()
	c.LogLevelOnInstance = c.LogLevel
	c.ENITrunkingEnabled.Value = ExplicitlyDisabled // only read when task ENI is on
	return c
}

// baseDefaults is the lowest layer of Load. Fields whose default depends on other fields
// (LogLevelOnInstance, Checkpoint) are left zero here and filled by Load's rules; Load also
// replaces the port range with the kernel's.
func baseDefaults() *Config {
	return &Config{
		Cluster:                             DefaultCluster,
		AlternateCredentialProfile:          "default",
		DataDir:                             DefaultDataDir,
		DataDirOnHost:                       "/var/lib/ecs",
		AgentConfigFilePath:                 DefaultAgentConfigFilePath,
		DockerEndpoint:                      "unix:///var/run/docker.sock",
		ImagePullBehavior:                   ImagePullDefaultBehavior,
		ImagePullTimeout:                    defaultImagePullTimeout,
		ImagePullInactivityTimeout:          defaultImagePullInactivity,
		ManifestPullTimeout:                 defaultManifestPullTimeout,
		ImageCleanupInterval:                defaultImageCleanupInterval,
		MinimumImageDeletionAge:             defaultImageDeletionAge,
		NonECSMinimumImageDeletionAge:       defaultImageDeletionAge,
		NumImagesToDeletePerCycle:           defaultNumImagesPerCycle,
		NumNonECSContainersToDeletePerCycle: defaultNumContainersPerCycle,
		ImageGCHighPercent:                  defaultImageGCHighPercent,
		ImageGCLowPercent:                   defaultImageGCLowPercent,
		ImageGCPullWait:                     defaultImageGCPullWait,
		WarmPoolsPollInterval:               defaultWarmPoolsPollInterval,
		TaskCleanupWaitDuration:             defaultTaskCleanupWaitDuration,
		DockerStopTimeout:                   defaultDockerStopTimeout,
		ContainerStartTimeout:               defaultContainerStartTimeout,
		ContainerCreateTimeout:              defaultContainerCreateTimeout,
		CgroupPath:                          "/sys/fs/cgroup",
		CgroupCPUPeriod:                     defaultCgroupCPUPeriod,
		ReservedPorts:                       []uint16{22, 2375, 2376, 51678, 51679},
		DynamicHostPortRange:                PortRange{Start: fallbackDynamicPortRangeStart, End: fallbackDynamicPortRangeEnd},
		CNIPluginsPath:                      DefaultCNIPluginsPath,
		BridgeName:                          "ecsd0",
		BridgeSubnet:                        netip.MustParsePrefix("172.17.0.0/16"),
		ENIAttachTimeout:                    time.Minute,
		TaskMetadataSteadyStateRate:         defaultTaskMetadataSteadyRate,
		TaskMetadataBurstRate:               defaultTaskMetadataBurstRate,
		CredentialsFetcherHost:              defaultCredentialsFetcherSocket,
		LogLevel:                            "info",
		LogRolloverType:                     "size",
		LogOutputFormat:                     "logfmt",
		LogMaxFileSizeMB:                    defaultLogMaxFileSizeMB,
		LogMaxRollCount:                     defaultLogMaxRollCount,
		AvailableLoggingDrivers:             []LoggingDriver{"json-file", "none"},
		CredentialsAuditLogFile:             "/var/log/ecs/audit.log",
		PollingMetricsWaitDuration:          defaultPollingMetricsWait,
		AgentHealthcheckHost:                "localhost",
		NvidiaRuntime:                       "nvidia",
		ContainerInstancePropagateTagsFrom:  ContainerInstancePropagateTagsFromNoneType,
		DetailedOSFamily:                    "LINUX",
		ContainerdAddress:                   DefaultContainerdAddress,
		ContainerdNamespace:                 DefaultContainerdNamespace,
		ConfigFile:                          DefaultConfigFile,
		APITokenFile:                        DefaultAPITokenFile,
		RegistryConfigPath:                  DefaultRegistryConfigPath,
		LocalCredentialsFile:                DefaultLocalCredentialsFile,
		HealthcheckACSGrace:                 DefaultHealthcheckACSGrace,
		UpdateDownloadDir:                   DefaultUpdateDownloadDir,
	}
}
