package config

import (
	"bufio"
	"bytes"
	"os"
	"strings"
)

// DefaultOSReleaseFile is where ECSInitDefaults reads the distribution for
// ECS_DETAILED_OS_FAMILY.
const DefaultOSReleaseFile = "/etc/os-release"

// ecsInitSource names the defaults layer in messages ("ECS_X=... (from ecs-init defaults)").
const ecsInitSource = "ecs-init defaults"

// ECSInitDefaults are the settings the reference ecs-init puts in the agent's environment
// on the ECS-optimized AMI before the lines of ecs.config are applied, translated to the
// host paths ecsd uses. An ecs.config written for that AMI relies on them: without them
// task IAM roles, awslogs and the checkpoint would be off. osRelease is the os-release
// file the detailed OS family comes from ("" for DefaultOSReleaseFile).
//
// Left out on purpose, because ecsd has no such feature and the variable would only
// advertise or configure something that does not exist: ECS_VOLUME_PLUGIN_CAPABILITIES=
// ["efsAuth"] (no EFS), ECS_AGENT_LABELS (no agent container), ECS_EBSTA_SUPPORTED (already
// true by default, and no EBS volumes). ECS_UPDATE_DOWNLOAD_DIR already defaults to the
// AMI's /var/cache/ecs. ECS_UPDATES_ENABLED stays off, unlike on the AMI: the updates ECS
// itself sends are the reference agent's Docker image, which ecsd cannot run, so turning it
// on by default would only download them to refuse them; self-update is for updates the
// operator sends (a local control plane, ecsctl update-agent). ECS_AVAILABLE_LOGGING_DRIVERS is the AMI's list
// ["json-file","syslog","awslogs","fluentd","none"], all of which ecsd implements.
// ECS_AGENT_CONFIG_FILE_PATH is already /etc/ecs/ecs.config.json.
func ECSInitDefaults(osRelease string) map[string]string {
	if osRelease == "" {
		osRelease = DefaultOSReleaseFile
	}
	return map[string]string{
		// The reference's /data and /log/ecs-agent.log are the agent container's views of
		// these host paths. ECS_DATADIR set here also turns the checkpoint on, as it does
		// for the reference agent under ecs-init.
		"ECS_DATADIR":                               DefaultDataDir,
		"ECS_LOGFILE":                               "/var/log/ecs/ecs-agent.log",
		"ECS_AVAILABLE_LOGGING_DRIVERS":             `["json-file","syslog","awslogs","fluentd","none"]`,
		"ECS_ENABLE_TASK_IAM_ROLE":                  "true",
		"ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST":     "true",
		"ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE": "true",
		"ECS_ENABLE_TASK_ENI":                       "true",
		"ECS_DETAILED_OS_FAMILY":                    detailedOSFamily(osRelease),
	}
}

// WithEnvDefaults adds a layer under the process environment and the KEY=VALUE file: a
// variable takes its value from defaults only when neither of them mentions it at all (a
// line "KEY=" in ecs.config keeps the default away, as it does under the reference
// ecs-init). Being part of the environment layer, these values win over the JSON file,
// again as under ecs-init. Use it with ECSInitDefaults.
func WithEnvDefaults(defaults map[string]string) Option {
	return func(o *options) { o.envDefaults = defaults }
}

// detailedOSFamily is ecs-init's ECS_DETAILED_OS_FAMILY: "<ID>_<VERSION_ID>" from
// os-release (e.g. debian_12, amzn_2023), or "linux" when either is missing.
func detailedOSFamily(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "linux"
	}
	var id, version string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			id = v
		case "VERSION_ID":
			version = v
		}
	}
	if id == "" || version == "" {
		return "linux"
	}
	return id + "_" + version
}
