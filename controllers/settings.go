// Package controllers holds ecsd's reconcilers. Each one owns one step of the ECS task and
// container state machines, reads desired state (Spec) and observed state (Status) from the
// store, takes one idempotent step against the runtime, writes Status and returns. Nothing
// here remembers anything between calls that is not in an object: a crash or a duplicate
// event is always harmless.
package controllers

import (
	"github.com/ecsd/ecsd/internal/metadatafile"
	"net/netip"
	"time"

	"k8s.io/utils/clock"

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

// Settings are the engine's knobs, filled from the agent configuration by cmd/ecs-agent.
// A narrow struct keeps the controllers independent of how configuration is loaded.
type Settings struct {
	// DataDir holds per-task directories (volumes, logs) under DataDir/tasks/<task ID>.
	DataDir string
	// LogCredentialsSocket is the agent's credentials socket for container loggers
	// (server/logcreds); empty refuses awslogs containers with AWSLogsUnavailable as the
	// reason. CloudWatchLogsEndpoint is the endpoint the agent resolved from its own
	// environment, given to loggers whose container sets no awslogs-endpoint.
	LogCredentialsSocket   string
	AWSLogsUnavailable     string
	CloudWatchLogsEndpoint string
	// Cluster is put on container labels for log routers.
	Cluster string

	PullBehavior PullBehavior
	PullTimeout  time.Duration
	// PullDependentUpfront pulls images of containers still waiting on dependsOn.
	PullDependentUpfront bool
	// RegistryAuth maps a registry host to its credentials (ECS_ENGINE_AUTH_DATA).
	RegistryAuth map[string]runtime.Auth
	// AuthResolver authenticates pulls of containers with registryAuthentication (ECR,
	// Secrets Manager). Nil pulls them with RegistryAuth like any other container.
	AuthResolver AuthResolver
	// Inputs reads what containers' environments need from AWS with the task's execution
	// role: secrets and environment files. Nil fails containers that have secrets or S3
	// environment files, and reads local environment files only.
	Inputs TaskInputs
	// ManifestPullTimeout bounds resolving an image's manifest (ECS_MANIFEST_PULL_TIMEOUT).
	ManifestPullTimeout time.Duration
	// PullRetryDelay is the wait after a first failed pull attempt; it doubles with each
	// further attempt, up to maxPullAttempts in all.
	PullRetryDelay time.Duration
	// PullInactivityTimeout cancels a pull that makes no progress for this long
	// (ECS_IMAGE_PULL_INACTIVITY_TIMEOUT).
	PullInactivityTimeout time.Duration

	CreateTimeout time.Duration
	StartTimeout  time.Duration
	// StopTimeout is the SIGTERM→SIGKILL grace when a container sets none (ECS_CONTAINER_STOP_TIMEOUT).
	StopTimeout time.Duration

	// CleanupWait and CleanupJitter delay the removal of a stopped task.
	CleanupWait   time.Duration
	CleanupJitter time.Duration
	// CleanupRequiresReport holds cleanup until ECS has acknowledged STOPPED. Off when the
	// engine runs without a control plane (tests, benchmarks).
	CleanupRequiresReport bool
	// TaskCleaned, when set, is called with a task's ARN once everything but the Task object
	// is gone, just before it, so state kept outside the store (the task's role credentials,
	// the record of cleaned-up tasks) goes with it. It may be called again for the same task
	// after a crash, so it must be idempotent.
	TaskCleaned func(taskARN string)

	DisablePrivileged bool
	// TaskCgroups enables a per-task cgroup carrying task-level CPU and memory limits.
	TaskCgroups bool
	// Cgroups manages task cgroups (runtime/cgroups); required. CgroupCPUPeriod is the CFS
	// period of task CPU quotas (ECS_CGROUP_CPU_PERIOD).
	Cgroups         runtime.TaskCgroups
	CgroupCPUPeriod time.Duration
	// HostFS mounts tasks' shared /dev/shm and finds ENIs on the host (runtime/hostfs);
	// required.
	HostFS runtime.HostFS

	// Network sets up bridge and awsvpc networks (runtime/cni). Nil runs such tasks in a
	// namespace with loopback only and refuses their port mappings.
	Network runtime.Network
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

	// DisableHealthCheck ignores container health checks (ECS_DISABLE_DOCKER_HEALTH_CHECK).
	DisableHealthCheck bool

	// RelistInterval is how often every container is re-checked against the runtime even
	// without events; events are never relied on alone.
	RelistInterval time.Duration
	// DisableAdoption stops the Adopter from rebuilding objects for runtime containers the
	// store has none for; they are treated as orphans instead. For an agent without a
	// checkpoint (ECS_CHECKPOINT=false), where every start is a new instance by design and
	// an earlier run's containers are not this instance's tasks.
	DisableAdoption bool
	// AgentVersion is stamped on containers.
	AgentVersion string
	// ContainerMetadata writes the container metadata file (ECS_ENABLE_CONTAINER_METADATA)
	// with Instance as what it says about the host.
	ContainerMetadata bool
	Instance          metadatafile.Instance
	// HostNetNSPath is the namespace host-network containers join, so that "host" is the
	// host the agent serves its endpoints and sets its rules on (ECSD_HOST_NETNS); empty is
	// containerd's own. Created containers keep it in their spec: it must be a stable path.
	HostNetNSPath string
	// Security says which AppArmor/SELinux options the host can apply (internal/lsm); nil
	// is a host with neither.
	Security HostSecurity
	// HolderBinary is ecsd-init, run as the holder of the shared namespaces of pidMode and
	// ipcMode "task" tasks; empty refuses such tasks with the reason.
	HolderBinary string
	// Clock is the time every reconciler reads; nil is the real clock. Tests pass a fake
	// one so that grace periods, health intervals and cleanup waits need no real waiting.
	Clock clock.WithTicker
	// Region is given to task containers as AWS_REGION and AWS_DEFAULT_REGION unless the
	// image or the definition sets either.
	Region string
}

// clock is s.Clock, or the real clock when none is set.
func (s Settings) clock() clock.WithTicker {
	if s.Clock == nil {
		return clock.RealClock{}
	}
	return s.Clock
}

// DefaultSettings are the reference agent's Linux defaults.
func DefaultSettings() Settings {
	return Settings{
		DataDir:         "/var/lib/ecs/data",
		Cluster:         "default",
		PullBehavior:    PullDefault,
		PullTimeout:     2 * time.Hour,
		CreateTimeout:   4 * time.Minute,
		StartTimeout:    3 * time.Minute,
		StopTimeout:     30 * time.Second,
		CleanupWait:     3 * time.Hour,
		TaskCgroups:     true,
		CgroupCPUPeriod: 100 * time.Millisecond,
		RelistInterval:  10 * time.Second,
		AgentVersion:    "0.1.0",

		ManifestPullTimeout:   time.Minute,
		PullRetryDelay:        time.Second,
		PullInactivityTimeout: time.Minute,
	}
}
