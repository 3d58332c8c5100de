package localplane

import (
	"slices"
	"strings"
)

// Attribute name prefixes, as the agent registers them.
const (
	legacyCap  = "com.amazonaws.ecs.capability."
	currentCap = "ecs.capability."
)

// requiredAttributes computes the container instance attributes a task definition needs,
// the requiresAttributes ECS returns and places by: a task goes only to an instance that
// registered every one of them.
//
// The rules follow ECS's documentation (task definition parameters: "requires version
// 1.18 of the Docker Remote API" and the like, the awslogs, secrets, environment file and
// private registry guides) and task definitions described by real ECS. Where neither says
// it, the rule is a judgement and says so:
//   - pidMode/ipcMode: any value is taken to need pid-ipc-namespace-sharing, although the
//     reference agent ties the attribute to its pause container, which only "task" uses.
//   - dockerSecurityOptions "label:" and "apparmor:" are taken to need the selinux and
//     apparmor attributes the ECS_*_CAPABLE switches register.
//   - taskRoleArn in host mode is taken to need task-iam-role-network-host in addition to
//     task-iam-role.
//   - Real ECS also asks for docker-remote-api.1.17, 1.21 and 1.29 for some definitions
//     without saying which member; those are not derived here. Members with no documented
//     attribute (systemControls, tmpfs, devices, sharedMemorySize, task-level cpu and
//     memory) require nothing.
//   - RunTask overrides (a taskRoleArn or executionRoleArn given there) are not considered.
func requiredAttributes(d *taskDefinition) []attribute {
	need := map[string]bool{}
	add := func(names ...string) {
		for _, n := range names {
			need[n] = true
		}
	}
	hasExecRole := d.ExecutionRoleArn != ""
	if d.TaskRoleArn != "" {
		add(legacyCap + "task-iam-role")
		if d.NetworkMode == "host" {
			add(legacyCap + "task-iam-role-network-host")
		}
	}
	if d.NetworkMode == "awsvpc" {
		add(currentCap + "task-eni")
	}
	if d.PIDMode != "" || d.IPCMode != "" {
		add(currentCap + "pid-ipc-namespace-sharing")
	}
	for _, v := range d.Volumes {
		if v.EFSVolumeConfiguration != nil {
			add(currentCap + "efs")
		}
	}
	for _, c := range d.ContainerDefinitions {
		if _, _, ecr := ecrImage(c.Image); ecr {
			add(legacyCap + "ecr-auth")
			if hasExecRole {
				add(currentCap + "execution-role-ecr-pull")
			}
		}
		if c.RepositoryCredentials != nil {
			add(currentCap + "private-registry-authentication.secretsmanager")
		}
		if lc := c.LogConfiguration; lc != nil && lc.LogDriver != "" {
			add(legacyCap+"docker-remote-api.1.18", legacyCap+"logging-driver."+lc.LogDriver)
			if len(lc.Options) > 0 {
				add(legacyCap + "docker-remote-api.1.19")
			}
			if lc.LogDriver == "awslogs" && hasExecRole {
				add(currentCap + "execution-role-awslogs")
			}
			for _, s := range lc.SecretOptions {
				add(currentCap + "secrets." + secretStore(s.ValueFrom) + ".bootstrap.log-driver")
			}
		}
		for _, s := range c.Secrets {
			add(currentCap + "secrets." + secretStore(s.ValueFrom) + ".environment-variables")
		}
		for _, f := range c.EnvironmentFiles {
			if f.Type == "s3" {
				add(currentCap + "env-files.s3")
			}
		}
		if len(c.DependsOn) > 0 {
			add(currentCap + "container-ordering")
		}
		if c.HealthCheck != nil {
			add(currentCap + "container-health-check")
		}
		if c.Privileged != nil && *c.Privileged {
			add(legacyCap + "privileged-container")
		}
		if len(c.DockerLabels) > 0 || len(c.Ulimits) > 0 {
			add(legacyCap + "docker-remote-api.1.18")
		}
		if lp := c.LinuxParameters; lp != nil && lp.InitProcessEnabled != nil && *lp.InitProcessEnabled {
			add(legacyCap + "docker-remote-api.1.25")
		}
		if rp := c.RestartPolicy; rp != nil && rp.Enabled != nil && *rp.Enabled {
			add(currentCap + "container-restart-policy")
		}
		for _, pm := range c.PortMappings {
			if pm.ContainerPortRange != "" {
				add(currentCap + "network.container-port-range")
			}
		}
		for _, o := range c.DockerSecurityOptions {
			switch {
			case strings.HasPrefix(o, "label:") || strings.HasPrefix(o, "label="):
				add(legacyCap + "selinux")
			case strings.HasPrefix(o, "apparmor:") || strings.HasPrefix(o, "apparmor="):
				add(legacyCap + "apparmor")
			}
		}
		if fc := c.FirelensConfiguration; fc != nil && fc.Type != "" {
			add(currentCap + "firelens." + fc.Type)
		}
	}
	names := make([]string, 0, len(need))
	for n := range need {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]attribute, len(names))
	for i, n := range names {
		out[i] = attribute{Name: n}
	}
	return out
}

// secretStore is "asm" for a Secrets Manager ARN and "ssm" for anything else (a Parameter
// Store name or ARN), as ECS tells them apart.
func secretStore(valueFrom string) string {
	if strings.HasPrefix(valueFrom, "arn:") && strings.Contains(valueFrom, ":secretsmanager:") {
		return "asm"
	}
	return "ssm"
}

// missingAttribute returns the first attribute of required that inst did not register,
// or "" when it has them all.
func missingAttribute(inst *instanceRecord, required []attribute) string {
	for _, r := range required {
		if !containsAttr(inst.Attributes, r.Name) {
			return r.Name
		}
	}
	return ""
}
