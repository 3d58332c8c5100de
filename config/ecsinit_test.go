package config

import (
	"slices"
	"testing"
)

// TestECSInitDefaultsApplyUnlessEcsConfigSaysOtherwise: an ecs.config written for the
// ECS-optimized AMI that does not mention the AMI's defaults gets them; one that sets a
// default's variable, even to nothing, keeps its own value.
func TestECSInitDefaultsApplyUnlessEcsConfigSaysOtherwise(t *testing.T) {
	osRelease := writeFile(t, "os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n")
	defaults := WithEnvDefaults(ECSInitDefaults(osRelease))

	plain := writeFile(t, "ecs.config", "ECS_CLUSTER=prod\n")
	c, w := mustLoad(t, nil, WithConfigFile(plain), defaults)
	if len(w) != 0 {
		t.Errorf("warnings: %s", warningsText(w))
	}
	for name, on := range map[string]bool{
		"ECS_ENABLE_TASK_IAM_ROLE":                  c.TaskIAMRoleEnabled.Enabled(),
		"ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST":     c.TaskIAMRoleEnabledForNetworkHost.Enabled(),
		"ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE": c.OverrideAWSLogsExecutionRole.Enabled(),
		"ECS_ENABLE_TASK_ENI":                       c.TaskENIEnabled.Enabled(),
		"awslogs in ECS_AVAILABLE_LOGGING_DRIVERS":  slices.Contains(c.AvailableLoggingDrivers, "awslogs"),
		"checkpoint (ECS_DATADIR set)":              c.Checkpoint.Enabled(),
	} {
		if !on {
			t.Errorf("%s: off under the ecs-init defaults", name)
		}
	}
	if c.Cluster != "prod" || c.DetailedOSFamily != "debian_12" || c.LogFile != "/var/log/ecs/ecs-agent.log" || c.DataDir != DefaultDataDir {
		t.Errorf("cluster %q, detailed OS family %q, log file %q, data dir %q", c.Cluster, c.DetailedOSFamily, c.LogFile, c.DataDir)
	}

	// Without the option (the agent run by hand or in local mode): the agent's own defaults.
	c, _ = mustLoad(t, nil, WithConfigFile(plain))
	if c.TaskIAMRoleEnabled.Enabled() || c.OverrideAWSLogsExecutionRole.Enabled() || c.Checkpoint.Enabled() || c.DetailedOSFamily != "LINUX" {
		t.Errorf("without ecs-init defaults: task role %v, awslogs override %v, checkpoint %v, os family %q",
			c.TaskIAMRoleEnabled.Enabled(), c.OverrideAWSLogsExecutionRole.Enabled(), c.Checkpoint.Enabled(), c.DetailedOSFamily)
	}

	off := writeFile(t, "ecs.config", "ECS_CLUSTER=prod\nECS_ENABLE_TASK_IAM_ROLE=false\nECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE=\n"+
		"ECS_AVAILABLE_LOGGING_DRIVERS=[\"json-file\"]\nECS_DETAILED_OS_FAMILY=custom_1\n")
	c, _ = mustLoad(t, nil, WithConfigFile(off), defaults)
	if c.TaskIAMRoleEnabled.Enabled() {
		t.Error("ECS_ENABLE_TASK_IAM_ROLE=false in ecs.config: on")
	}
	if c.OverrideAWSLogsExecutionRole.Enabled() {
		t.Error("ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE= (empty) in ecs.config: the default true came back")
	}
	if !slices.Equal(c.AvailableLoggingDrivers, []LoggingDriver{"json-file"}) || c.DetailedOSFamily != "custom_1" {
		t.Errorf("drivers %v, os family %q: ecs.config's values lost", c.AvailableLoggingDrivers, c.DetailedOSFamily)
	}
	if !c.TaskIAMRoleEnabledForNetworkHost.Enabled() {
		t.Error("a variable ecs.config does not mention lost its default")
	}

	// The process environment (systemd's EnvironmentFile=) wins too.
	c, _ = mustLoad(t, map[string]string{"ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST": "false"}, WithConfigFile(plain), defaults)
	if c.TaskIAMRoleEnabledForNetworkHost.Enabled() {
		t.Error("ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=false in the environment: on")
	}

	// As under the reference ecs-init, the defaults are environment and beat the JSON file.
	jsonFile := writeFile(t, "ecs.config.json", `{"TaskIAMRoleEnabled": false}`)
	c, _ = mustLoad(t, nil, WithConfigFile(plain), WithAgentConfigFile(jsonFile), defaults)
	if !c.TaskIAMRoleEnabled.Enabled() {
		t.Error("the JSON file beat the ecs-init default; the reference's environment wins over it")
	}
}

func TestDetailedOSFamily(t *testing.T) {
	for content, want := range map[string]string{
		"ID=amzn\nVERSION_ID=\"2023\"\n":       "amzn_2023",
		"ID='ubuntu'\nVERSION_ID='24.04'\n":    "ubuntu_24.04",
		"# comment\nID=debian\n":               "linux",
		"VERSION_ID=12\n":                      "linux",
		"NAME=x\n  ID=debian  \nVERSION_ID=12": "debian_12",
	} {
		if got := detailedOSFamily(writeFile(t, "os-release", content)); got != want {
			t.Errorf("%q: %q, want %q", content, got, want)
		}
	}
	if got := detailedOSFamily("/nonexistent/os-release"); got != "linux" {
		t.Errorf("no os-release: %q, want linux", got)
	}
}
