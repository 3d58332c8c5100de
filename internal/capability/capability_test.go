package capability

import (
	"context"
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ecsd/ecsd/config"
)

// load builds a configuration the way the agent does, from env alone.
func load(t *testing.T, env map[string]string) *config.Config {
	t.Helper()
	cfg, _, err := config.Load(context.Background(), config.WithEnv(env), config.WithConfigFile(""),
		config.WithAgentConfigFile(""), config.WithPortRangeFile(filepath.Join(t.TempDir(), "none")))
	if err != nil {
		t.Fatalf("config %v: %v", env, err)
	}
	return cfg
}

func driversJSON(ds []config.LoggingDriver) string {
	b, _ := json.Marshal(ds)
	return string(b)
}

// TestLoggingDriverRowsAreTheImplementedDrivers: the logging-driver.* rows are exactly the
// drivers ecsd implements, each one a driver ECS_AVAILABLE_LOGGING_DRIVERS accepts, and
// each registered only when that variable lists it.
func TestLoggingDriverRowsAreTheImplementedDrivers(t *testing.T) {
	var rows []string
	for _, r := range Table() {
		if d, ok := strings.CutPrefix(r.Name, Legacy+"logging-driver."); ok {
			rows = append(rows, d)
		}
	}
	var impl []string
	for _, d := range LoggingDrivers() {
		impl = append(impl, string(d))
	}
	sort.Strings(rows)
	sort.Strings(impl)
	if !slices.Equal(rows, impl) {
		t.Fatalf("logging-driver rows %v, implemented drivers %v", rows, impl)
	}
	all := load(t, map[string]string{"ECS_AVAILABLE_LOGGING_DRIVERS": driversJSON(LoggingDrivers())})
	for _, d := range LoggingDrivers() {
		if _, ok := Attributes(all, Host{})[Legacy+"logging-driver."+string(d)]; !ok {
			t.Errorf("%s listed and implemented but not registered", d)
		}
		others := slices.DeleteFunc(slices.Clone(LoggingDrivers()), func(x config.LoggingDriver) bool { return x == d })
		cfg := load(t, map[string]string{"ECS_AVAILABLE_LOGGING_DRIVERS": driversJSON(others)})
		if _, ok := Attributes(cfg, Host{})[Legacy+"logging-driver."+string(d)]; ok {
			t.Errorf("%s registered although ECS_AVAILABLE_LOGGING_DRIVERS=%s leaves it out", d, driversJSON(others))
		}
	}
	// A driver the reference knows but ecsd does not implement is never registered.
	cfg := load(t, map[string]string{"ECS_AVAILABLE_LOGGING_DRIVERS": `["journald","splunk","json-file"]`})
	for name := range Attributes(cfg, Host{}) {
		if strings.Contains(name, "logging-driver.journald") || strings.Contains(name, "logging-driver.splunk") {
			t.Errorf("registered %s, which ecsd does not implement", name)
		}
	}
}

// cases are configurations and hosts that between them switch every conditional row on
// and off.
func cases(t *testing.T) map[string]struct {
	cfg  *config.Config
	host Host
} {
	t.Helper()
	type c = struct {
		cfg  *config.Config
		host Host
	}
	everything := map[string]string{
		"ECS_ENABLE_TASK_IAM_ROLE": "true", "ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST": "true",
		"ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE": "true", "ECS_AVAILABLE_LOGGING_DRIVERS": driversJSON(LoggingDrivers()),
		"ECS_ENABLE_TASK_ENI": "true", "ECS_SELINUX_CAPABLE": "true", "ECS_APPARMOR_CAPABLE": "true",
		"ECS_DETAILED_OS_FAMILY": "debian_12",
	}
	nothing := map[string]string{
		"ECS_DISABLE_PRIVILEGED": "true", "ECS_DISABLE_DOCKER_HEALTH_CHECK": "true",
		"ECS_ENABLE_TASK_CPU_MEM_LIMIT": "false", "ECS_AVAILABLE_LOGGING_DRIVERS": `["none"]`,
		"ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE": "true", // without awslogs: no execution-role-awslogs
		"ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST":     "true", // without the task role: not for host mode either
	}
	external := maps.Clone(everything)
	external["ECS_EXTERNAL"] = "true"
	external["AWS_DEFAULT_REGION"] = "us-east-1"
	external["ECS_AVAILABLE_LOGGING_DRIVERS"] = `["json-file","awslogs"]`
	return map[string]c{
		"defaults": {load(t, map[string]string{}), Host{}},
		"defaults, no cgroup cpu or memory controller": {load(t, map[string]string{}), Host{TaskCgroupsUnavailable: true}},
		"everything, host has LSM":                     {load(t, everything), Host{AppArmor: true, SELinux: true, NamespaceSharing: true, EFS: true}},
		"everything, host no LSM":                      {load(t, everything), Host{}},
		"capable off, host LSM":                        {load(t, map[string]string{}), Host{AppArmor: true, SELinux: true, NamespaceSharing: true}},
		"nothing":                                      {load(t, nothing), Host{}},
		"external":                                     {load(t, external), Host{}},
	}
}

// TestEveryPredicateBothWays: each conditional row is registered in some case and left out
// in another, each unconditional row in every case; a predicate that never changes, or a
// row nothing can switch, fails here.
func TestEveryPredicateBothWays(t *testing.T) {
	cs := cases(t)
	seen := map[string]bool{}
	for _, r := range Table() {
		if seen[r.Name] {
			t.Errorf("%s: two rows", r.Name)
		}
		seen[r.Name] = true
		if r.Feature == "" {
			t.Errorf("%s: no feature named", r.Name)
		}
		on, off := 0, 0
		for _, c := range cs {
			if r.Holds(c.cfg, c.host) {
				on++
			} else {
				off++
			}
		}
		switch {
		case r.When == nil && off > 0:
			t.Errorf("%s: unconditional, yet left out", r.Name)
		case r.When != nil && (on == 0 || off == 0):
			t.Errorf("%s: registered in %d cases, left out in %d; want both", r.Name, on, off)
		}
	}
}

// TestAttributesOfConfigurations pins what is registered for the main configurations.
func TestAttributesOfConfigurations(t *testing.T) {
	cs := cases(t)
	always := []string{
		"ecs.os-type", "ecs.os-family", "ecs.os-type-detailed",
		Legacy + "ecr-auth", Current + "execution-role-ecr-pull", Current + "private-registry-authentication.secretsmanager",
		Current + "secrets.ssm.environment-variables", Current + "secrets.asm.environment-variables",
		Current + "secrets.ssm.bootstrap.log-driver", Current + "secrets.asm.bootstrap.log-driver", Current + "env-files.s3",
		Current + "container-ordering", Current + "container-restart-policy",
		Current + "network.container-port-range", Current + "full-sync", Current + "docker-plugin.local",
	}
	for _, v := range []string{"1.17", "1.18", "1.19", "1.20", "1.21", "1.22", "1.23", "1.24", "1.25", "1.28", "1.29", "1.30", "1.32"} {
		always = append(always, Legacy+"docker-remote-api."+v)
	}
	with := func(extra ...string) []string {
		s := append(slices.Clone(always), extra...)
		sort.Strings(s)
		return s
	}
	want := map[string][]string{
		"defaults": with(Legacy+"privileged-container", Current+"container-health-check", Current+"task-cpu-mem-limit",
			Current+"increased-task-cpu-limit", Legacy+"logging-driver.json-file", Legacy+"logging-driver.none"),
		"defaults, no cgroup cpu or memory controller": with(Legacy+"privileged-container", Current+"container-health-check",
			Legacy+"logging-driver.json-file", Legacy+"logging-driver.none"),
		"everything, host has LSM": with(Legacy+"privileged-container", Current+"container-health-check", Current+"task-cpu-mem-limit",
			Current+"increased-task-cpu-limit", Legacy+"logging-driver.json-file", Legacy+"logging-driver.none",
			Legacy+"logging-driver.awslogs", Legacy+"logging-driver.fluentd", Legacy+"logging-driver.gelf", Legacy+"logging-driver.syslog",
			Current+"execution-role-awslogs", Legacy+"task-iam-role", Legacy+"task-iam-role-network-host",
			Current+"task-eni", Legacy+"selinux", Legacy+"apparmor", Current+"pid-ipc-namespace-sharing", Current+"efs"),
		"everything, host no LSM": with(Legacy+"privileged-container", Current+"container-health-check", Current+"task-cpu-mem-limit",
			Current+"increased-task-cpu-limit", Legacy+"logging-driver.json-file", Legacy+"logging-driver.none",
			Legacy+"logging-driver.awslogs", Legacy+"logging-driver.fluentd", Legacy+"logging-driver.gelf", Legacy+"logging-driver.syslog",
			Current+"execution-role-awslogs", Legacy+"task-iam-role", Legacy+"task-iam-role-network-host",
			Current+"task-eni"),
		"capable off, host LSM": with(Legacy+"privileged-container", Current+"container-health-check", Current+"task-cpu-mem-limit",
			Current+"increased-task-cpu-limit", Legacy+"logging-driver.json-file", Legacy+"logging-driver.none",
			Current+"pid-ipc-namespace-sharing"),
		"nothing": with(Legacy + "logging-driver.none"),
		"external": with(Legacy+"privileged-container", Current+"container-health-check", Current+"task-cpu-mem-limit",
			Current+"increased-task-cpu-limit", Legacy+"logging-driver.json-file",
			Legacy+"logging-driver.awslogs", Current+"execution-role-awslogs", Legacy+"task-iam-role", Legacy+"task-iam-role-network-host",
			Current+"external", "ecs.cpu-architecture"),
	}
	for name, c := range cs {
		got := slices.Sorted(maps.Keys(Attributes(c.cfg, c.host)))
		if !slices.Equal(got, want[name]) {
			t.Errorf("%s:\n got %v\nwant %v", name, got, want[name])
		}
	}
	a := Attributes(cs["everything, host no LSM"].cfg, Host{})
	if a["ecs.os-type-detailed"] != "debian_12" || a["ecs.os-type"] != "linux" || a["ecs.os-family"] != "LINUX" {
		t.Errorf("os attributes %q %q %q", a["ecs.os-type-detailed"], a["ecs.os-type"], a["ecs.os-family"])
	}
	if d := Attributes(cs["defaults"].cfg, Host{})["ecs.os-type-detailed"]; d != "LINUX" {
		t.Errorf("ecs.os-type-detailed without ECS_DETAILED_OS_FAMILY = %q, want the reference's LINUX", d)
	}
	if arch := Attributes(cs["external"].cfg, Host{})["ecs.cpu-architecture"]; arch == "" {
		t.Error("external: no cpu architecture value")
	}
}
