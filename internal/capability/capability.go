// Package capability is the one table of the registration attributes ecsd sends. ECS places
// a task only on an instance that registered every attribute the task needs, so an
// attribute is a promise: each row names the ecsd feature behind it and a predicate over the
// configuration and the probed host saying whether that feature works here. The attribute
// is registered exactly when its predicate holds: nothing for a feature ecsd lacks, and
// nothing for one switched off or not supported by this host.
package capability

import (
	goruntime "runtime"
	"slices"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/logdriver"
)

// Attribute name prefixes: the legacy and the current capability namespaces.
const (
	Legacy  = "com.amazonaws.ecs.capability."
	Current = "ecs.capability."
)

// Host is what the agent probes about the machine at start. The table combines it with the
// configuration: an ECS_*_CAPABLE switch alone never registers a protection the host
// does not apply.
type Host struct {
	// AppArmor is true when the runtime applies AppArmor profiles to containers on this
	// host. The agent sets it from the LSM probe (the one that decides whether
	// dockerSecurityOptions "apparmor:PROFILE" is applied or refused).
	AppArmor bool
	// SELinux is true when the runtime applies SELinux labels to containers on this host:
	// SELinux is enabled and its policy names container contexts (internal/lsm).
	SELinux bool
	// NamespaceSharing is true when the namespace holder (ecsd-init) is installed, without
	// which pidMode/ipcMode "task" tasks are refused.
	NamespaceSharing bool
	// EFS is true when the host can make the NFSv4.1 mounts of EFS volumes: mount(8),
	// mount.nfs and a kernel with NFS (the same check that refuses an EFS volume otherwise).
	EFS bool
	// TaskCgroupsUnavailable is true when the host's cgroup filesystem lacks the cpu or
	// memory controller (runtime/cgroups MissingControllers), so task-level limits cannot
	// be set even with ECS_ENABLE_TASK_CPU_MEM_LIMIT on.
	TaskCgroupsUnavailable bool
}

// Row is one attribute of the table.
type Row struct {
	// Name is the full attribute name.
	Name string
	// Feature says what ecsd does that the attribute promises, and where.
	Feature string
	// When reports whether the feature works with this configuration on this host; nil
	// means always (the feature has no switch and no host requirement).
	When func(*config.Config, Host) bool
	// Value is the attribute's value; nil for a name-only attribute.
	Value func(*config.Config) string
}

// Holds reports whether r is registered for cfg and h.
func (r Row) Holds(cfg *config.Config, h Host) bool {
	return r.When == nil || r.When(cfg, h)
}

// LoggingDrivers are the container log drivers ecsd implements (logdriver.Implemented:
// json-file with max-size/max-file, none, awslogs, fluentd, syslog, gelf), the same list that decides whether a
// container's logConfiguration is refused. Only these can ever be registered, and only
// when ECS_AVAILABLE_LOGGING_DRIVERS lists them.
func LoggingDrivers() []config.LoggingDriver {
	var out []config.LoggingDriver
	for _, d := range logdriver.Implemented() {
		out = append(out, config.LoggingDriver(d))
	}
	return out
}

// dockerRemoteAPIVersions are the Docker Engine API levels of the dockerConfig JSON the
// backend sends and controlplane/payload parses. The backend still requires them for many
// container definition members (labels, ulimits, log options, init), so ecsd sends the
// reference agent's set.
func dockerRemoteAPIVersions() []string {
	return []string{"1.17", "1.18", "1.19", "1.20", "1.21", "1.22", "1.23", "1.24", "1.25", "1.28", "1.29", "1.30", "1.32"}
}

// Table returns every row. Rows sent by the reference agent (agent/app/agent_capability.go)
// that ecsd deliberately leaves out, because it does not have the feature:
//
//   - logging-driver.awsfirelens, firelens.* (FireLens log routing), logging-driver.{journald,
//     splunk,logentries,sumologic} (no such drivers in ecsd-logger)
//   - efsAuth and ECS_VOLUME_PLUGIN_CAPABILITIES: EFS access points and IAM authorization
//     need the EFS mount helper's TLS client certificate, which ecsd does not make (such
//     volumes are refused); docker-plugin.<name>
//     other than local (no Docker volume plugins), storage.ebs-task-volume-attach,
//     storage.ebsta-non-root-user, storage.s3-files
//   - ecr-endpoint: the payload's ecrAuthData.endpointOverride is not used for pulls
//   - task-eni.ipv6, task-eni-trunking, task-eni-block-instance-metadata,
//     cni-plugin-version, branch-cni-plugin-version, ipv6-only (ecsd's awsvpc is IPv4, has
//     no trunking, and blocks IMDS for every task by its own switch ECSD_ALLOW_TASK_IMDS)
//   - aws-appmesh, task-eia*, service-connect-*, execute-command, fault-injection, gmsa*,
//     nvidia-driver-version.*, gpu-driver-version, imds-iam-roles: none of these exist in
//     ecsd
func Table() []Row {
	rows := []Row{
		{Name: "ecs.os-type", Feature: "a Linux agent", Value: constant("linux")},
		{Name: "ecs.os-family", Feature: "a Linux agent", Value: constant("LINUX")},
		{Name: "ecs.os-type-detailed", Feature: "ECS_DETAILED_OS_FAMILY (ecs-init sets <ID>_<VERSION_ID> from /etc/os-release)",
			Value: func(cfg *config.Config) string { return cfg.DetailedOSFamily }},
		{Name: "ecs.cpu-architecture", Feature: "ECS Anywhere: the backend has no identity document to read the architecture from",
			When: external, Value: func(*config.Config) string { return cpuArchitecture() }},
		{Name: Current + "external", Feature: "ECS Anywhere (ECS_EXTERNAL): no IMDS, EXTERNAL launch type", When: external},

		{Name: Legacy + "privileged-container", Feature: "privileged containers (runtime/containerd spec), unless ECS_DISABLE_PRIVILEGED",
			When: func(cfg *config.Config, _ Host) bool { return !cfg.PrivilegedDisabled.Enabled() }},
		{Name: Current + "container-health-check", Feature: "container health checks (controllers/health.go), unless ECS_DISABLE_DOCKER_HEALTH_CHECK",
			When: func(cfg *config.Config, _ Host) bool { return !cfg.DisableDockerHealthCheck.Enabled() }},
		{Name: Current + "task-cpu-mem-limit", Feature: "task-level cpu and memory as a task cgroup (runtime/cgroups, cgroup v1 or v2), ECS_ENABLE_TASK_CPU_MEM_LIMIT, where the host has the cpu and memory controllers",
			When: taskCgroups},
		{Name: Current + "increased-task-cpu-limit", Feature: "task cpu above 10 vCPU in the task cgroup, ECS_ENABLE_TASK_CPU_MEM_LIMIT",
			When: taskCgroups},
		{Name: Legacy + "selinux", Feature: "dockerSecurityOptions label:... applied as SELinux labels: ECS_SELINUX_CAPABLE and the host enforces SELinux",
			When: func(cfg *config.Config, h Host) bool { return cfg.SELinuxCapable.Enabled() && h.SELinux }},
		{Name: Legacy + "apparmor", Feature: "dockerSecurityOptions apparmor:PROFILE applied: ECS_APPARMOR_CAPABLE and the host has AppArmor",
			When: func(cfg *config.Config, h Host) bool { return cfg.AppArmorCapable.Enabled() && h.AppArmor }},
		{Name: Legacy + "task-iam-role", Feature: "task role credentials at 169.254.170.2 for bridge and awsvpc tasks, ECS_ENABLE_TASK_IAM_ROLE",
			When: func(cfg *config.Config, _ Host) bool { return cfg.TaskIAMRoleEnabled.Enabled() }},
		{Name: Legacy + "task-iam-role-network-host", Feature: "task role credentials for host-network tasks too, ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST (with ECS_ENABLE_TASK_IAM_ROLE)",
			When: func(cfg *config.Config, _ Host) bool {
				return cfg.TaskIAMRoleEnabled.Enabled() && cfg.TaskIAMRoleEnabledForNetworkHost.Enabled()
			}},
		{Name: Current + "task-eni", Feature: "awsvpc tasks on the ENI ECS attaches (runtime/cni), ECS_ENABLE_TASK_ENI; not on ECS Anywhere",
			When: func(cfg *config.Config, _ Host) bool { return cfg.TaskENIEnabled.Enabled() && !cfg.External.Enabled() }},

		{Name: Legacy + "ecr-auth", Feature: "ECR pulls with a GetAuthorizationToken token (runtime/registry/ecr.go)"},
		{Name: Current + "execution-role-ecr-pull", Feature: "ECR pulls signed with the task execution role's credentials"},
		{Name: Current + "private-registry-authentication.secretsmanager", Feature: "repositoryCredentials read from Secrets Manager (runtime/registry/asm.go)"},
		{Name: Current + "execution-role-awslogs", Feature: "awslogs shipping with the task execution role's credentials: ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE and awslogs available",
			When: func(cfg *config.Config, _ Host) bool {
				return cfg.OverrideAWSLogsExecutionRole.Enabled() && slices.Contains(cfg.AvailableLoggingDrivers, "awslogs")
			}},
		{Name: Current + "secrets.ssm.environment-variables", Feature: "secrets from SSM Parameter Store injected as environment variables"},
		{Name: Current + "secrets.asm.environment-variables", Feature: "secrets from Secrets Manager (json-key, version-stage, version-id) injected as environment variables"},
		{Name: Current + "secrets.ssm.bootstrap.log-driver", Feature: "log driver secretOptions from SSM Parameter Store"},
		{Name: Current + "secrets.asm.bootstrap.log-driver", Feature: "log driver secretOptions from Secrets Manager"},
		{Name: Current + "env-files.s3", Feature: "environmentFiles of type s3, read with the execution role"},

		{Name: Current + "container-ordering", Feature: "dependsOn conditions START, COMPLETE, SUCCESS, HEALTHY (controllers/deps.go)"},
		{Name: Current + "container-restart-policy", Feature: "restartPolicy of essential and non-essential containers"},
		{Name: Current + "pid-ipc-namespace-sharing", Feature: "pidMode and ipcMode task (one namespace for the task's containers, held by ecsd-init) and host",
			When: func(_ *config.Config, h Host) bool { return h.NamespaceSharing }},
		{Name: Current + "network.container-port-range", Feature: "containerPortRange mappings with host ports from ECS_DYNAMIC_HOST_PORT_RANGE"},
		{Name: Current + "full-sync", Feature: "ACS task manifests: tasks the backend no longer lists are stopped (controlplane/acs)"},
		{Name: Current + "docker-plugin.local", Feature: "dockerVolumeConfiguration volumes with the local driver, task and shared scope, type/o/device options (controllers/volumes.go)"},
		{Name: Current + "efs", Feature: "efsVolumeConfiguration volumes mounted over NFSv4.1, with stunnel for transit encryption (controllers/volumes.go, runtime/hostfs): the host has mount.nfs and a kernel with NFS",
			When: func(_ *config.Config, h Host) bool { return h.EFS }},
	}
	for _, v := range dockerRemoteAPIVersions() {
		rows = append(rows, Row{Name: Legacy + "docker-remote-api." + v,
			Feature: "dockerConfig JSON of Docker Engine API " + v + " parsed into container specs (controlplane/payload)"})
	}
	for _, d := range LoggingDrivers() {
		rows = append(rows, Row{Name: Legacy + "logging-driver." + string(d),
			Feature: "log driver " + string(d) + ", when ECS_AVAILABLE_LOGGING_DRIVERS lists it",
			When:    func(cfg *config.Config, _ Host) bool { return slices.Contains(cfg.AvailableLoggingDrivers, d) }})
	}
	return rows
}

// Attributes returns the attributes to register for cfg on host h: name → value ("" for
// name-only attributes).
func Attributes(cfg *config.Config, h Host) map[string]string {
	out := map[string]string{}
	for _, r := range Table() {
		if !r.Holds(cfg, h) {
			continue
		}
		v := ""
		if r.Value != nil {
			v = r.Value(cfg)
		}
		out[r.Name] = v
	}
	return out
}

func constant(v string) func(*config.Config) string {
	return func(*config.Config) string { return v }
}

func external(cfg *config.Config, _ Host) bool { return cfg.External.Enabled() }

func taskCgroups(cfg *config.Config, h Host) bool {
	return cfg.TaskCPUMemLimit.Enabled() && !h.TaskCgroupsUnavailable
}

func cpuArchitecture() string {
	switch goruntime.GOARCH {
	case "amd64":
		return "x86_64"
	case "386":
		return "i386"
	default:
		return goruntime.GOARCH
	}
}
