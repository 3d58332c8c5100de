// Package controllers holds ecsd's reconcilers. Each one owns one step of the ECS task and
// container state machines, reads desired state (Spec) and observed state (Status) from the
// store, takes one idempotent step against the runtime, writes Status and returns. Nothing
// here remembers anything between calls that is not in an object: a crash or a duplicate
// event is always harmless.
//
// Every reconciler is its own small type holding only what it uses; Engine only wires them
// to the store and runs them. Tuning values come in Options (one struct per reconciler),
// collaborators (runtime, network, cgroups, host, clock…) in Deps.
package controllers

import (
	"net/netip"
	"time"

	"k8s.io/utils/clock"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/metadatafile"
	"github.com/ecsd/ecsd/internal/version"
	"github.com/ecsd/ecsd/runtime"
)

// PullBehavior is ECS_IMAGE_PULL_BEHAVIOR.
type PullBehavior string

const (
	PullDefault      PullBehavior = "default"
	PullAlways       PullBehavior = "always"
	PullOnce         PullBehavior = "once"
	PullPreferCached PullBehavior = "prefer-cached"
)

// Options are the engine's tuning values, one struct per reconciler, filled from the agent
// configuration (OptionsFrom), whose Defaults are the only place default values live. A narrow struct per reconciler keeps each one's knobs in
// sight and the controllers independent of how configuration is loaded.
type Options struct {
	// DataDir holds per-task directories (volumes, logs) under DataDir/tasks/<task ID>;
	// every reconciler that touches task files gets it.
	DataDir    string
	Task       TaskOptions
	Pull       PullOptions
	Create     CreateOptions
	Network    NetworkOptions
	Metadata   MetadataOptions
	Start      StartOptions
	Health     HealthOptions
	Stop       StopOptions
	Cleanup    CleanupOptions
	Images     ImageCleanupOptions
	Namespaces NamespaceOptions
	Volumes    VolumeOptions
	Relist     RelistOptions
	Adopt      AdoptOptions
}

// Deps are the engine's collaborators. Runtime, Cgroups and HostFS are required; a nil
// Network runs bridge and awsvpc tasks in a namespace with loopback only and refuses their
// port mappings; the rest may be nil.
type Deps struct {
	Runtime runtime.Runtime
	// Network sets up bridge and awsvpc networks (runtime/cni).
	Network runtime.Network
	// Cgroups manages task cgroups (runtime/cgroups).
	Cgroups runtime.TaskCgroups
	// HostFS mounts tasks' shared /dev/shm and finds ENIs on the host (runtime/hostfs).
	HostFS runtime.HostFS
	// Volumes mounts EFS and Docker local-driver volumes (runtime/hostfs); nil refuses
	// them, with the reason, when a task uses one.
	Volumes runtime.VolumeMounter
	// Auth authenticates pulls of containers with registryAuthentication (ECR, Secrets
	// Manager). Nil pulls them with PullOptions.RegistryAuth like any other container.
	Auth AuthResolver
	// Inputs reads what containers' environments need from AWS with the task's execution
	// role: secrets and environment files. Nil fails containers that have secrets or S3
	// environment files, and reads local environment files only.
	Inputs TaskInputs
	// Security says which AppArmor/SELinux options the host can apply (internal/lsm); nil
	// is a host with neither.
	Security HostSecurity
	// TaskCleaned, when set, is called with a task's ARN once everything but the Task object
	// is gone, just before it, so state kept outside the store (the task's role credentials,
	// the record of cleaned-up tasks) goes with it. It may be called again for the same task
	// after a crash, so it must be idempotent.
	TaskCleaned func(taskARN string)
	// Clock is the time every reconciler reads; nil is the real clock. Tests pass a fake
	// one so that grace periods, health intervals and cleanup waits need no real waiting.
	Clock clock.WithTicker
}

// clock is d.Clock, or the real clock when none is set.
func (d Deps) clock() clock.WithTicker {
	if d.Clock == nil {
		return clock.RealClock{}
	}
	return d.Clock
}

// TaskOptions tune the task reconciler.
type TaskOptions struct {
	// CleanupWait and CleanupJitter delay the removal of a stopped task.
	CleanupWait   time.Duration
	CleanupJitter time.Duration
}

// PullOptions tune the pull reconciler.
type PullOptions struct {
	Behavior PullBehavior
	// Timeout bounds one pull (ECS_IMAGE_PULL_TIMEOUT).
	Timeout time.Duration
	// DependentUpfront pulls images of containers still waiting on dependsOn.
	DependentUpfront bool
	// RegistryAuth maps a registry host to its credentials (ECS_ENGINE_AUTH_DATA).
	RegistryAuth map[string]runtime.Auth
	// ManifestTimeout bounds resolving an image's manifest (ECS_MANIFEST_PULL_TIMEOUT).
	ManifestTimeout time.Duration
	// RetryDelay is the wait after a first failed pull attempt; it doubles with each
	// further attempt, up to maxPullAttempts in all.
	RetryDelay time.Duration
	// InactivityTimeout cancels a pull that makes no progress for this long
	// (ECS_IMAGE_PULL_INACTIVITY_TIMEOUT).
	InactivityTimeout time.Duration
}

// CreateOptions tune the create reconciler.
type CreateOptions struct {
	// Timeout bounds the runtime's create call (ECS_CONTAINER_CREATE_TIMEOUT).
	Timeout time.Duration
	// Cluster is put on container labels for log routers; AgentVersion is stamped on them.
	Cluster      string
	AgentVersion string
	// Region is given to task containers as AWS_REGION and AWS_DEFAULT_REGION unless the
	// image or the definition sets either.
	Region            string
	DisablePrivileged bool
	// TaskCgroups gives every task a cgroup with its task-level CPU and memory limits;
	// CgroupCPUPeriod is the CFS period of task CPU quotas (ECS_CGROUP_CPU_PERIOD).
	TaskCgroups     bool
	CgroupCPUPeriod time.Duration
	// TaskPidsLimit is each task cgroup's pids.max (ECS_TASK_PIDS_LIMIT), 0 for none; like
	// the other task limits it applies only with TaskCgroups.
	TaskPidsLimit int
	// CgroupV2 says the host runs the unified cgroup v2 hierarchy (a host fact the caller
	// fills in). There, with PropagateTaskMemoryV2 (ECS_PROPAGATE_TASK_MEMORY_LIMIT_CGROUPV2),
	// a container without a memory limit of its own gets the task's: in its private cgroup
	// namespace it cannot see the task cgroup's limit, so a runtime that sizes itself from
	// its own cgroup (a JVM, Go's GOMEMLIMIT helpers) would otherwise see no limit at all.
	CgroupV2              bool
	PropagateTaskMemoryV2 bool
	// LogCredentialsSocket is the agent's credentials socket for container loggers
	// (server/logcreds); empty refuses awslogs containers with AWSLogsUnavailable as the
	// reason. CloudWatchLogsEndpoint is the endpoint the agent resolved from its own
	// environment, given to loggers whose container sets no awslogs-endpoint.
	LogCredentialsSocket   string
	AWSLogsUnavailable     string
	CloudWatchLogsEndpoint string
	// ShipUnavailable, when set, says why fluentd, syslog and gelf containers are refused (the
	// logger that ships them is not installed).
	ShipUnavailable string
}

// NetworkOptions tune how tasks get their networks (create step, adoption).
type NetworkOptions struct {
	// AWSVPCEnabled accepts awsvpc tasks (ECS_ENABLE_TASK_ENI); without it they are stopped
	// with a clear reason, as the agent does not claim the task-eni capability then.
	AWSVPCEnabled bool
	// BridgeSubnet is the bridge network's subnet, for status and task metadata.
	BridgeSubnet netip.Prefix
	// ENIWaitTimeout bounds the wait for an awsvpc task's ENI to appear on the host when its
	// attachment carries no deadline of its own.
	ENIWaitTimeout time.Duration
	// AWSVPCAdditionalRoutes are CIDRs awsvpc tasks route via their ENI's gateway
	// (ECS_AWSVPC_ADDITIONAL_LOCAL_ROUTES).
	AWSVPCAdditionalRoutes []string
	// HostResolvConf is the host's resolv.conf that bridge containers inherit; empty means
	// /etc/resolv.conf.
	HostResolvConf string
	// HostNetNSPath is the namespace host-network containers join, so that "host" is the
	// host the agent serves its endpoints and sets its rules on (ECSD_HOST_NETNS); empty is
	// containerd's own. Created containers keep it in their spec: it must be a stable path.
	HostNetNSPath string
}

// bridgeSubnet is the bridge network's CIDR for status and task metadata.
func (o NetworkOptions) bridgeSubnet() string {
	if o.BridgeSubnet.IsValid() {
		return o.BridgeSubnet.Masked().String()
	}
	return runtime.DefaultBridgeSubnet
}

// MetadataOptions say whether to write the container metadata file
// (ECS_ENABLE_CONTAINER_METADATA) and what it says about the host.
type MetadataOptions struct {
	Enabled  bool
	Instance metadatafile.Instance
}

// StartOptions tune the start reconciler.
type StartOptions struct {
	// Timeout bounds the runtime's start call (ECS_CONTAINER_START_TIMEOUT).
	Timeout time.Duration
}

// HealthOptions tune the health reconciler.
type HealthOptions struct {
	// Disable ignores container health checks (ECS_DISABLE_DOCKER_HEALTH_CHECK).
	Disable bool
}

// StopOptions tune the stop reconciler.
type StopOptions struct {
	// Timeout is the SIGTERM→SIGKILL grace when a container sets none (ECS_CONTAINER_STOP_TIMEOUT).
	Timeout time.Duration
}

// CleanupOptions tune the cleanup reconciler.
type CleanupOptions struct {
	// RequiresReport holds cleanup until ECS has acknowledged STOPPED. Off when the engine
	// runs without a control plane (tests, benchmarks).
	RequiresReport bool
}

// ImageCleanupOptions tune image cleanup (ImageCleanupReconciler).
type ImageCleanupOptions struct {
	// Disable turns image cleanup off, disk-pressure cleanup included
	// (ECS_DISABLE_IMAGE_CLEANUP).
	Disable bool
	// Interval is the time between cleanup cycles (ECSD_IMAGE_CLEANUP_INTERVAL, else
	// ECS_IMAGE_CLEANUP_INTERVAL).
	Interval time.Duration
	// MinAge keeps an image for this long after its last use (ECS_IMAGE_MINIMUM_CLEANUP_AGE).
	MinAge time.Duration
	// PerCycle caps the images one cycle removes (ECS_NUM_IMAGES_DELETE_PER_CYCLE).
	PerCycle int
	// Exclude are image names cleanup never removes, tracked or not
	// (ECS_EXCLUDE_UNTRACKED_IMAGE).
	Exclude []string
	// Untracked also removes images no task pulled and stopped containers the agent did
	// not make, in its containerd namespace (ECS_ENABLE_UNTRACKED_IMAGE_CLEANUP).
	Untracked bool
	// UntrackedMinAge keeps an untracked image for this long after it arrived
	// (NON_ECS_IMAGE_MINIMUM_CLEANUP_AGE).
	UntrackedMinAge time.Duration
	// UnmanagedContainersPerCycle caps the other clients' stopped containers one cycle
	// removes (NONECS_NUM_CONTAINERS_DELETE_PER_CYCLE); UnmanagedContainerWait is how long
	// after it stopped one is kept (ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION, as the reference).
	UnmanagedContainersPerCycle int
	UnmanagedContainerWait      time.Duration
	// HighPercent and LowPercent are the disk-pressure thresholds (ECSD_IMAGE_GC_HIGH_PERCENT,
	// ECSD_IMAGE_GC_LOW_PERCENT): above HighPercent images are removed by the same rules
	// until usage is below LowPercent. HighPercent of 100 or more turns this off.
	HighPercent, LowPercent int
	// PressureInterval is how often the image file systems are measured, besides after
	// every change of an Image object (a pull, a task cleaned up).
	PressureInterval time.Duration
	// PullWait bounds how long a pull waits above HighPercent for disk-pressure cleanup
	// to free space that is about to become free (ECSD_IMAGE_GC_PULL_WAIT); 0 never waits.
	PullWait time.Duration
}

// NamespaceOptions tune the shared PID/IPC namespaces of pidMode/ipcMode "task" tasks.
type NamespaceOptions struct {
	// HolderBinary is ecsd-init, run as the holder of the shared namespaces; empty refuses
	// such tasks with the reason.
	HolderBinary string
}

// RelistOptions tune the periodic relist and sweeps.
type RelistOptions struct {
	// Interval is how often every container is re-checked against the runtime even
	// without events; events are never relied on alone.
	Interval time.Duration
}

// AdoptOptions tune the Adopter.
type AdoptOptions struct {
	// Disable stops the Adopter from rebuilding objects for runtime containers the store has
	// none for; they are treated as orphans instead. For an agent without a checkpoint
	// (ECS_CHECKPOINT=false), where every start is a new instance by design and an earlier
	// run's containers are not this instance's tasks.
	Disable bool
}

// Tuning values the agent configuration does not expose; every other default is
// config.Defaults()'s, the one place the reference agent's defaults are written down.
const (
	defaultRelistInterval = 10 * time.Second
	defaultPullRetryDelay = time.Second
	// defaultPressureInterval: a statfs every 10 s is nothing, and it bounds how far a pull
	// not followed by any other change can take the disk before cleanup looks.
	defaultPressureInterval = 10 * time.Second
)

// DefaultOptions are OptionsFrom the default configuration, with a checkpoint: what an
// engine on its own (tests, benchmarks) runs with.
func DefaultOptions() Options {
	cfg := config.Defaults()
	cfg.Checkpoint.Value = config.ExplicitlyEnabled
	return OptionsFrom(cfg)
}

// OptionsFrom narrows the agent configuration to the engine's tuning values. What the
// configuration cannot say (where ecsd-init is, whether a control plane acknowledges
// reports, the metadata file's instance facts, the loggers' credentials socket) the caller
// fills in.
func OptionsFrom(cfg *config.Config) Options {
	o := Options{
		DataDir: cfg.DataDir,
		Task:    TaskOptions{CleanupWait: cfg.TaskCleanupWaitDuration, CleanupJitter: cfg.TaskCleanupWaitDurationJitter},
		Pull: PullOptions{
			Behavior:          PullBehavior(cfg.ImagePullBehavior),
			Timeout:           cfg.ImagePullTimeout,
			DependentUpfront:  cfg.DependentContainersPullUpfront.Enabled(),
			ManifestTimeout:   cfg.ManifestPullTimeout,
			RetryDelay:        defaultPullRetryDelay,
			InactivityTimeout: cfg.ImagePullInactivityTimeout,
		},
		Create: CreateOptions{
			Timeout:           cfg.ContainerCreateTimeout,
			Cluster:           cfg.Cluster,
			AgentVersion:      version.Version,
			Region:            cfg.AWSRegion,
			DisablePrivileged: cfg.PrivilegedDisabled.Enabled(),
			TaskCgroups:       cfg.TaskCPUMemLimit.Enabled(),
			CgroupCPUPeriod:   cfg.CgroupCPUPeriod,
			TaskPidsLimit:     cfg.TaskPidsLimit,
			// CgroupV2 is a host fact: cmd/ecs-agent sets it from the cgroup mount.
			PropagateTaskMemoryV2: cfg.PropagateTaskMemoryLimitCgroupV2.Enabled(),
		},
		Network: NetworkOptions{
			AWSVPCEnabled:  cfg.TaskENIEnabled.Enabled() && !cfg.External.Enabled(),
			BridgeSubnet:   cfg.BridgeSubnet,
			ENIWaitTimeout: cfg.ENIAttachTimeout,
			HostNetNSPath:  cfg.HostNetNS,
		},
		Metadata: MetadataOptions{Enabled: cfg.ContainerMetadataEnabled.Enabled()},
		Volumes: VolumeOptions{Region: cfg.AWSRegion, EFSAddresses: cfg.EFSAddresses, EFSCAFile: cfg.EFSCAFile, MountTimeout: cfg.ContainerCreateTimeout,
			SharedMatchFullConfig: cfg.SharedVolumeMatchFullConfig.Enabled()},
		Start:  StartOptions{Timeout: cfg.ContainerStartTimeout},
		Health: HealthOptions{Disable: cfg.DisableDockerHealthCheck.Enabled()},
		Stop:   StopOptions{Timeout: cfg.DockerStopTimeout},
		Relist: RelistOptions{Interval: defaultRelistInterval},
		Images: ImageCleanupOptions{
			Disable:                     cfg.ImageCleanupDisabled.Enabled(),
			Interval:                    cfg.ImageCleanupInterval,
			MinAge:                      cfg.MinimumImageDeletionAge,
			PerCycle:                    cfg.NumImagesToDeletePerCycle,
			Exclude:                     cfg.ImageCleanupExclusionList,
			Untracked:                   cfg.DeleteNonECSImagesEnabled.Enabled(),
			UntrackedMinAge:             cfg.NonECSMinimumImageDeletionAge,
			UnmanagedContainersPerCycle: cfg.NumNonECSContainersToDeletePerCycle,
			UnmanagedContainerWait:      cfg.TaskCleanupWaitDuration,
			HighPercent:                 cfg.ImageGCHighPercent,
			LowPercent:                  cfg.ImageGCLowPercent,
			PressureInterval:            defaultPressureInterval,
			PullWait:                    cfg.ImageGCPullWait,
		},
		// Without a checkpoint every start is a new instance: nothing was lost to adopt back.
		Adopt: AdoptOptions{Disable: !cfg.Checkpoint.Enabled()},
	}
	if cfg.ImageCleanupIntervalOverride > 0 {
		o.Images.Interval = cfg.ImageCleanupIntervalOverride
	}
	if len(cfg.EngineAuth) > 0 {
		o.Pull.RegistryAuth = make(map[string]runtime.Auth, len(cfg.EngineAuth))
		for host, a := range cfg.EngineAuth {
			o.Pull.RegistryAuth[host] = runtime.Auth{Username: a.Username, Password: string(a.Password)}
		}
	}
	for _, p := range cfg.AWSVPCAdditionalLocalRoutes {
		if p.Addr().Is4() {
			o.Network.AWSVPCAdditionalRoutes = append(o.Network.AWSVPCAdditionalRoutes, p.String())
		}
	}
	return o
}
