package config

import (
	"slices"
	"sort"
)

// Variables of the reference agent and ecs-init that ecsd accepts but that change nothing
// here. Load returns one Warning for each that is set (process environment, the KEY=VALUE
// file, or the JSON file for those with a Config field), so that an operator who relies on
// one learns at start that it is not honoured instead of finding out later. The
// classification is tested against every ECS_* name in the reference's documentation
// (testdata/spec-variables.txt) and against the code: a Config field listed here must not
// be read outside this package, and one read nowhere must be listed.

// noEffectVariables maps each variable with no effect in ecsd to the reason.
func noEffectVariables() map[string]string {
	const (
		agentContainer = "it configures the reference agent's own Docker container, and ecsd runs on the host, not in a container"
		windowsOnly    = "it applies to Windows instances only"
	)
	return map[string]string{
		// Config fields nothing outside config reads.
		"ECS_HOST_DATA_DIR":              "ecsd runs on the host, so ECS_DATADIR already is the host path",
		"ECS_EXCLUDE_IPV6_PORTBINDING":   "ecsd publishes and reports IPv4 port bindings only",
		"ECS_INSTANCE_IP_COMPATIBILITY":  "ecsd does not detect or use IPv6-only instances",
		"ECS_ENABLE_HIGH_DENSITY_ENI":    "ecsd does not support ENI trunking",
		"ECS_PAUSE_LABELS":               "ecsd has no pause containers; awsvpc namespaces are made without one",
		"ECS_GMSA_SUPPORTED":             "ecsd does not support gMSA (credentialSpecs are refused)",
		"ECS_LOG_DRIVER":                 agentContainer,
		"ECS_LOG_OPTS":                   agentContainer,
		"ECS_ENABLE_FIRELENS_ASYNC":      "ecsd does not support FireLens (firelensConfiguration is refused)",
		"ECS_ENABLE_GPU_SUPPORT":         "ecsd does not support GPUs (resourceRequirements are refused)",
		"ECS_NVIDIA_RUNTIME":             "ecsd does not support GPUs",
		"ECS_ENABLE_INF_SUPPORT":         "ecsd does not support Inferentia devices",
		"ECS_EBSTA_SUPPORTED":            "ecsd does not attach EBS volumes to tasks",
		"ECS_VOLUME_PLUGIN_CAPABILITIES": "ecsd has no volume plugins",

		// Variables without a Config field.
		"ECS_AGENT_LABELS":                               agentContainer,
		"ECS_AGENT_RUN_PRIVILEGED":                       agentContainer,
		"ECS_AGENT_PID_NAMESPACE_HOST":                   agentContainer,
		"ECS_AGENT_APPARMOR_PROFILE":                     agentContainer,
		"ECS_INIT_DOCKER_LOG_FILE_NUM":                   agentContainer,
		"ECS_INIT_DOCKER_LOG_FILE_SIZE":                  agentContainer,
		"ECS_DOMAIN_JOINED_LINUX_INSTANCE":               "ecsd does not support gMSA",
		"ECS_OFFHOST_INTROSPECTION_INTERFACE_NAME":       "the reference agent no longer reads it either",
		"ECS_ENABLE_CPU_UNBOUNDED_WINDOWS_WORKAROUND":    windowsOnly,
		"ECS_ENABLE_MEMORY_UNBOUNDED_WINDOWS_WORKAROUND": windowsOnly,
		"ECS_FSX_WINDOWS_FILE_SERVER_SUPPORTED":          windowsOnly,
		"ECS_POLL_METRICS_WAIT_DURATION":                 "no agent reads it (a name in the reference's README); the variable is ECS_POLLING_METRICS_WAIT_DURATION",
	}
}

// taskEnvironmentVariables are ECS_* names the agent sets in task containers' environment;
// they are not configuration, and setting them for the agent does nothing.
func taskEnvironmentVariables() map[string]bool {
	return map[string]bool{
		"ECS_AGENT_URI":                 true,
		"ECS_CONTAINER_METADATA_URI":    true,
		"ECS_CONTAINER_METADATA_URI_V4": true,
		"ECS_CONTAINER_METADATA_FILE":   true,
	}
}

// warnNoEffect adds one warning for each no-effect variable that is set, from the first
// source that sets it: the environment or KEY=VALUE file, else the JSON file. It runs
// after the rules, so that a variable the rules already warned about still gets one
// warning, saying both.
func (l *loader) warnNoEffect() {
	reasons := noEffectVariables()
	byEnv := map[string]field{}
	for _, f := range l.fields {
		if f.env != "" {
			byEnv[f.env] = f
		}
	}
	names := make([]string, 0, len(reasons))
	for k := range reasons {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, key := range names {
		msg := "has no effect in ecsd: " + reasons[key]
		if i := slices.IndexFunc(l.warns, func(w Warning) bool { return w.Key == key }); i >= 0 {
			// One warning per variable: a value that was also malformed says both.
			l.warns[i].Message += "; it " + msg
			continue
		}
		f, isField := byEnv[key]
		if v, src, ok := l.get(key); ok {
			shown := v
			if isField {
				shown = f.shown(v)
			} else if isSecretName(key) {
				shown = redacted
			}
			l.warns = append(l.warns, Warning{Key: key, Value: shown, Source: src, Message: msg, NoEffect: true})
			continue
		}
		if isField {
			if o, ok := l.origins[f.name]; ok && o.json {
				l.warns = append(l.warns, Warning{Key: key, Source: l.from(f.name), Message: msg, NoEffect: true})
			}
		}
	}
}
