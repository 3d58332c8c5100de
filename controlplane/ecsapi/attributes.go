package ecsapi

import (
	goruntime "runtime"

	"github.com/ecsd/ecsd/internal/logdriver"
)

// Attribute name prefixes: the legacy and the current capability namespaces.
const (
	legacyCap = "com.amazonaws.ecs.capability."
	capPrefix = "ecs.capability."
)

// Capabilities says what this agent supports; it maps to registration attributes. Every
// attribute ecsd sends is one it honours: the backend places tasks by them, and a task
// placed on a capability the agent lacks fails on the instance instead of elsewhere.
type Capabilities struct {
	PrivilegedDisabled bool
	// LoggingDrivers are the configured ECS_AVAILABLE_LOGGING_DRIVERS that ecsd implements.
	LoggingDrivers     []string
	HealthCheck        bool // container health checks (not ECS_DISABLE_DOCKER_HEALTH_CHECK)
	TaskCPUMemLimit    bool
	SELinux, AppArmor  bool
	TaskIAMRole        bool // the credentials endpoint serves task roles (bridge/awsvpc)
	TaskIAMRoleHost    bool // and to host-mode tasks
	ECRAuth            bool // ECR pulls with instance or execution-role credentials
	SecretsManagerAuth bool // private registry auth from Secrets Manager
	PortRanges         bool // containerPortRange mappings
	TaskENI            bool // awsvpc
	External           bool // ECS Anywhere
}

// Attributes returns the registration attributes for c.
//
// The docker-remote-api attributes describe the Docker Engine API level of the
// dockerConfig JSON the backend sends and ecsd parses; the backend still uses them to
// decide which task definitions an instance can run, so ecsd sends the reference agent's
// set (1.17–1.25, 1.28–1.30, 1.32).
func (c Capabilities) Attributes() map[string]string {
	a := map[string]string{
		capPrefix + "container-ordering":       "",
		capPrefix + "container-restart-policy": "",
		"ecs.os-type":                          "linux",
		"ecs.os-family":                        "LINUX",
	}
	for _, v := range []string{"1.17", "1.18", "1.19", "1.20", "1.21", "1.22", "1.23", "1.24", "1.25", "1.28", "1.29", "1.30", "1.32"} {
		a[legacyCap+"docker-remote-api."+v] = ""
	}
	if !c.PrivilegedDisabled {
		a[legacyCap+"privileged-container"] = ""
	}
	for _, d := range c.LoggingDrivers {
		if logdriver.IsImplemented(d) {
			a[legacyCap+"logging-driver."+d] = ""
		}
	}
	if c.HealthCheck {
		a[capPrefix+"container-health-check"] = ""
	}
	if c.TaskCPUMemLimit {
		a[capPrefix+"task-cpu-mem-limit"] = ""
		a[capPrefix+"increased-task-cpu-limit"] = ""
	}
	if c.SELinux {
		a[legacyCap+"selinux"] = ""
	}
	if c.AppArmor {
		a[legacyCap+"apparmor"] = ""
	}
	if c.TaskIAMRole {
		a[legacyCap+"task-iam-role"] = ""
	}
	if c.TaskIAMRoleHost {
		a[legacyCap+"task-iam-role-network-host"] = ""
	}
	if c.ECRAuth {
		a[legacyCap+"ecr-auth"] = ""
		a[capPrefix+"execution-role-ecr-pull"] = ""
	}
	if c.SecretsManagerAuth {
		a[capPrefix+"private-registry-authentication.secretsmanager"] = ""
	}
	if c.PortRanges {
		a[capPrefix+"network.container-port-range"] = ""
	}
	if c.TaskENI && !c.External {
		a[capPrefix+"task-eni"] = ""
	}
	if c.External {
		a[capPrefix+"external"] = ""
		// On EC2 the backend reads the architecture from the identity document.
		a["ecs.cpu-architecture"] = cpuArchitecture()
	}
	return a
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
