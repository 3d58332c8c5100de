package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// load runs Load isolated from the machine: a fixed environment, no KEY=VALUE or JSON file
// unless the test adds one, and an unreadable kernel port range. It leaves out the
// warnings that only say a variable has no effect (noeffect_test.go checks those).
func load(t *testing.T, env map[string]string, opts ...Option) (*Config, []Warning, error) {
	t.Helper()
	c, w, err := loadAll(t, env, opts...)
	return c, slices.DeleteFunc(w, func(w Warning) bool { return w.NoEffect }), err
}

// loadAll is load with every warning.
func loadAll(t *testing.T, env map[string]string, opts ...Option) (*Config, []Warning, error) {
	t.Helper()
	base := []Option{
		WithEnv(env),
		WithConfigFile(""),
		WithAgentConfigFile(""),
		WithPortRangeFile(filepath.Join(t.TempDir(), "no-such-file")),
	}
	return Load(context.Background(), append(base, opts...)...)
}

func mustLoad(t *testing.T, env map[string]string, opts ...Option) (*Config, []Warning) {
	t.Helper()
	c, w, err := load(t, env, opts...)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c, w
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func warningsText(ws []Warning) string {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString(w.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestLoadWithNothingEqualsDefaults(t *testing.T) {
	c, w := mustLoad(t, nil)
	if len(w) != 0 {
		t.Fatalf("unexpected warnings:\n%s", warningsText(w))
	}
	want := Defaults()
	want.ConfigFile, want.AgentConfigFilePath = "", "" // disabled by the test helper
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("Load() differs from Defaults():\n got %s\nwant %s", c, want)
	}
	if c.DataDir != "/var/lib/ecs/data" || c.CNIPluginsPath != "/usr/lib/cni" || c.Cluster != "default" ||
		c.ContainerdAddress != "/run/containerd/containerd.sock" || c.ContainerdNamespace != "ecs" ||
		c.AllowTaskIMDS.Enabled() || c.Checkpoint.Enabled() || !c.TaskCPUMemLimit.Enabled() ||
		c.DynamicHostPortRange != (PortRange{49153, 65535}) {
		t.Fatalf("unexpected defaults: %s", c)
	}
}

func TestEveryFieldHasAUniqueVariableAndDecoder(t *testing.T) {
	seen := map[string]string{}
	for _, f := range fields() {
		if f.env == "" {
			continue
		}
		if prev, dup := seen[f.env]; dup {
			t.Errorf("%s used by %s and %s", f.env, prev, f.name)
		}
		seen[f.env] = f.name
		if f.custom {
			continue
		}
		v := reflect.New(reflect.TypeFor[Config]()).Elem().Field(f.index)
		if err := decodeEnv(f, "x", v); err != nil && strings.Contains(err.Error(), "unsupported") {
			t.Errorf("%s: %v", f.name, err)
		}
	}
}

func TestPrecedence(t *testing.T) {
	envFile := writeFile(t, "ecs.config", strings.Join([]string{
		"# written by user data",
		"",
		"ECS_CLUSTER=from-file",
		"ECS_CONTAINER_STOP_TIMEOUT=2m",
		"ECS_RESERVED_PORTS=[1, 2]",
		"ECS_IMAGE_PULL_BEHAVIOR=once",
		"ECS_DISABLE_PRIVILEGED=false",
	}, "\n"))
	jsonFile := writeFile(t, "ecs.config.json", `{
		"Cluster": "from-json",
		"DockerStopTimeout": 180000000000,
		"ContainerStartTimeout": 300000000000,
		"ReservedPorts": [3],
		"ReservedPortsUDP": [53],
		"PrivilegedDisabled": true,
		"SELinuxCapable": true,
		"ImageCleanupInterval": 3600000000000
	}`)
	env := map[string]string{
		"ECS_CLUSTER":                 "from-env",
		"ECS_CONTAINER_START_TIMEOUT": "",      // empty counts as unset: falls through to JSON
		"ECS_SELINUX_CAPABLE":         "false", // explicit false beats JSON true
	}
	c, w := mustLoad(t, env, WithConfigFile(envFile), WithAgentConfigFile(jsonFile))
	if len(w) != 0 {
		t.Fatalf("warnings:\n%s", warningsText(w))
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"env over file", c.Cluster, "from-env"},
		{"file over json", c.DockerStopTimeout, 2 * time.Minute},
		{"empty env falls through to json", c.ContainerStartTimeout, 5 * time.Minute},
		{"file list over json", c.ReservedPorts, []uint16{1, 2}},
		{"json over default", c.ReservedPortsUDP, []uint16{53}},
		{"json duration in ns", c.ImageCleanupInterval, time.Hour},
		{"file explicit false over json true", c.PrivilegedDisabled.Enabled(), false},
		{"env explicit false over json true", c.SELinuxCapable.Enabled(), false},
		{"file enum", c.ImagePullBehavior, ImagePullOnceBehavior},
		{"default", c.ContainerCreateTimeout, 4 * time.Minute},
		{"config file recorded", c.ConfigFile, envFile},
		{"json file recorded", c.AgentConfigFilePath, jsonFile},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s: got %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestConfigFileLocation(t *testing.T) {
	file := writeFile(t, "custom.config", "ECS_CLUSTER=custom\n")
	jsonFile := writeFile(t, "agent.json", `{"Cluster":"json"}`)

	t.Run("ECSD_CONFIG_FILE from the environment", func(t *testing.T) {
		c, _, err := Load(context.Background(), WithEnv(map[string]string{"ECSD_CONFIG_FILE": file}),
			WithAgentConfigFile(""))
		if err != nil || c.Cluster != "custom" || c.ConfigFile != file {
			t.Fatalf("got %v %v", c, err)
		}
	})
	t.Run("explicit missing file is an error", func(t *testing.T) {
		_, _, err := load(t, nil, WithConfigFile(filepath.Join(t.TempDir(), "missing")))
		if err == nil || !strings.Contains(err.Error(), "ECSD_CONFIG_FILE") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ECS_AGENT_CONFIG_FILE_PATH from the KEY=VALUE file", func(t *testing.T) {
		f := writeFile(t, "ecs.config", "ECS_AGENT_CONFIG_FILE_PATH="+jsonFile+"\n")
		c, _, err := Load(context.Background(), WithEnv(map[string]string{}), WithConfigFile(f))
		if err != nil || c.Cluster != "json" || c.AgentConfigFilePath != jsonFile {
			t.Fatalf("got %v %v", c, err)
		}
	})
	t.Run("env lookup function", func(t *testing.T) {
		lookup := func(k string) (string, bool) {
			if k == "ECS_CLUSTER" {
				return "fn", true
			}
			return "", false
		}
		c, _, err := Load(context.Background(), WithEnv(lookup), WithConfigFile(""), WithAgentConfigFile(""))
		if err != nil || c.Cluster != "fn" {
			t.Fatalf("got %v %v", c, err)
		}
	})
}

func TestWarningNamesTheSource(t *testing.T) {
	envFile := writeFile(t, "ecs.config", "ECS_NUM_IMAGES_DELETE_PER_CYCLE=x\nECS_TASK_PIDS_LIMIT=x\n")
	jsonFile := writeFile(t, "agent.json", `{"ImageCleanupInterval": 60000000000}`)
	_, w := mustLoad(t, env("ECS_CGROUP_CPU_PERIOD", "1s"), WithConfigFile(envFile), WithAgentConfigFile(jsonFile))
	want := []string{
		`ECS_NUM_IMAGES_DELETE_PER_CYCLE="x" (` + envFile + `): not an integer; using the default`,
		`ECS_TASK_PIDS_LIMIT="x" (` + envFile + `): not an integer; using the default`,
		`ECS_IMAGE_CLEANUP_INTERVAL="1m" (ImageCleanupInterval in ` + jsonFile + `): below the minimum 10m; using 30m`,
		`ECS_CGROUP_CPU_PERIOD="1s": must be within [8ms, 100ms]; using 100ms`,
	}
	got := strings.Split(strings.TrimSpace(warningsText(w)), "\n")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseEnvFile(t *testing.T) {
	got := ParseEnvFile([]byte(strings.Join([]string{
		"# a comment",
		"   # an indented comment",
		"",
		"   ",
		"no equals sign here",
		"ECS_CLUSTER=first",
		"ECS_CLUSTER=second",
		`ECS_ENGINE_AUTH_DATA={"a":{"username":"u","password":"p=q"}}`,
		`ECS_LOGFILE="quoted"`,
		"ECS_RESERVED_MEMORY=32\r",
		" ECS_UPDATES_ENABLED =true ",
		"ECS_EMPTY=",
		"=novalue",
	}, "\n")))
	want := map[string]string{
		"ECS_CLUSTER":          "second",
		"ECS_ENGINE_AUTH_DATA": `{"a":{"username":"u","password":"p=q"}}`,
		"ECS_LOGFILE":          `"quoted"`,
		"ECS_RESERVED_MEMORY":  "32",
		"ECS_UPDATES_ENABLED":  "true ",
		"ECS_EMPTY":            "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

// rule is one row of the validation tables: variables in, then a check on the result.
type rule struct {
	name     string
	env      map[string]string
	json     string // JSON file content, if any
	opts     []Option
	check    func(*Config) any
	want     any
	warning  string // substring expected in the warnings; "" = no warnings at all
	errorMsg string // substring expected in the error
}

func runRules(t *testing.T, rules []rule) {
	t.Helper()
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			opts := slices.Clone(r.opts)
			if r.json != "" {
				opts = append(opts, WithAgentConfigFile(writeFile(t, "agent.json", r.json)))
			}
			c, w, err := load(t, r.env, opts...)
			if r.errorMsg != "" {
				if err == nil || !strings.Contains(err.Error(), r.errorMsg) {
					t.Fatalf("error = %v, want it to contain %q", err, r.errorMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			text := warningsText(w)
			if r.warning == "" && text != "" {
				t.Errorf("unexpected warnings:\n%s", text)
			}
			if r.warning != "" && !strings.Contains(text, r.warning) {
				t.Errorf("warnings:\n%s\nwant one containing %q", text, r.warning)
			}
			if r.check != nil {
				if got := r.check(c); !reflect.DeepEqual(got, r.want) {
					t.Errorf("got %#v, want %#v", got, r.want)
				}
			}
		})
	}
}

func env(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestTimeoutRules(t *testing.T) {
	stop := func(c *Config) any { return c.DockerStopTimeout }
	start := func(c *Config) any { return c.ContainerStartTimeout }
	create := func(c *Config) any { return c.ContainerCreateTimeout }
	manifest := func(c *Config) any { return c.ManifestPullTimeout }
	inactivity := func(c *Config) any { return c.ImagePullInactivityTimeout }
	cleanup := func(c *Config) any { return c.TaskCleanupWaitDuration }
	interval := func(c *Config) any { return c.ImageCleanupInterval }
	period := func(c *Config) any { return c.CgroupCPUPeriod }
	polling := func(c *Config) any { return c.PollingMetricsWaitDuration }
	runRules(t, []rule{
		{name: "stop: not a duration", env: env("ECS_CONTAINER_STOP_TIMEOUT", "abc"), check: stop, want: 30 * time.Second,
			warning: `ECS_CONTAINER_STOP_TIMEOUT="abc": not a duration (examples: 30s, 2m`},
		{name: "stop: bare number", env: env("ECS_CONTAINER_STOP_TIMEOUT", "30"), check: stop, want: 30 * time.Second,
			warning: "not a duration"},
		{name: "stop: env clamped to 1s", env: env("ECS_CONTAINER_STOP_TIMEOUT", "500ms"), check: stop, want: time.Second,
			warning: `ECS_CONTAINER_STOP_TIMEOUT="500ms": below the minimum 1s; using 1s`},
		{name: "stop: zero is the default", env: env("ECS_CONTAINER_STOP_TIMEOUT", "0s"), check: stop, want: 30 * time.Second},
		{name: "stop: valid", env: env("ECS_CONTAINER_STOP_TIMEOUT", " 10m "), check: stop, want: 10 * time.Minute},
		{name: "stop: JSON below 1s is fatal", json: `{"DockerStopTimeout": 500000000}`,
			errorMsg: `ECS_CONTAINER_STOP_TIMEOUT="500ms" (DockerStopTimeout in `},
		{name: "stop: JSON negative is fatal", json: `{"DockerStopTimeout": -1}`, errorMsg: "must be at least 1s"},
		{name: "start: env clamped to 45s", env: env("ECS_CONTAINER_START_TIMEOUT", "10s"), check: start, want: 45 * time.Second,
			warning: "below the minimum 45s"},
		{name: "start: JSON below 45s is fatal", json: `{"ContainerStartTimeout": 10000000000}`, errorMsg: "must be at least 45s"},
		{name: "create: env clamped to 1m", env: env("ECS_CONTAINER_CREATE_TIMEOUT", "10s"), check: create, want: time.Minute,
			warning: "below the minimum 1m"},
		{name: "create: valid", env: env("ECS_CONTAINER_CREATE_TIMEOUT", "10m"), check: create, want: 10 * time.Minute},
		{name: "manifest: env clamped to 30s", env: env("ECS_MANIFEST_PULL_TIMEOUT", "5s"), check: manifest, want: 30 * time.Second,
			warning: "below the minimum 30s"},
		{name: "inactivity: env clamped to 1m", env: env("ECS_IMAGE_PULL_INACTIVITY_TIMEOUT", "10s"), check: inactivity, want: time.Minute,
			warning: "below the minimum 1m"},
		{name: "inactivity: JSON below 1m warns", json: `{"ImagePullInactivityTimeout": 10000000000}`, check: inactivity, want: time.Minute,
			warning: "ImagePullInactivityTimeout in "},
		{name: "cleanup wait: below 1s resets to 3h", env: env("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION", "500ms"), check: cleanup, want: 3 * time.Hour,
			warning: `ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION="500ms": below the minimum 1s; using 3h`},
		{name: "cleanup wait: valid", env: env("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION", "10m"), check: cleanup, want: 10 * time.Minute},
		{name: "healthcheck ACS grace: default", check: func(c *Config) any { return c.HealthcheckACSGrace }, want: 5 * time.Minute},
		{name: "healthcheck ACS grace: valid", env: env("ECSD_HEALTHCHECK_ACS_GRACE", "20s"),
			check: func(c *Config) any { return c.HealthcheckACSGrace }, want: 20 * time.Second},
		{name: "healthcheck ACS grace: below 1s resets to 5m", env: env("ECSD_HEALTHCHECK_ACS_GRACE", "500ms"),
			check: func(c *Config) any { return c.HealthcheckACSGrace }, want: 5 * time.Minute,
			warning: `ECSD_HEALTHCHECK_ACS_GRACE="500ms": below the minimum 1s; using 5m`},
		{name: "healthcheck ACS grace: not a duration", env: env("ECSD_HEALTHCHECK_ACS_GRACE", "soon"),
			check: func(c *Config) any { return c.HealthcheckACSGrace }, want: 5 * time.Minute, warning: "not a duration"},
		{name: "cleanup wait: JSON negative", json: `{"TaskCleanupWaitDuration": -5}`, check: cleanup, want: 3 * time.Hour,
			warning: "using 3h"},
		{name: "image cleanup interval: below 10m resets to 30m", env: env("ECS_IMAGE_CLEANUP_INTERVAL", "5m"), check: interval,
			want: 30 * time.Minute, warning: "below the minimum 10m; using 30m"},
		{name: "image cleanup interval: valid", env: env("ECS_IMAGE_CLEANUP_INTERVAL", "15m"), check: interval, want: 15 * time.Minute},
		{name: "cgroup period: below 8ms", env: env("ECS_CGROUP_CPU_PERIOD", "5ms"), check: period, want: 100 * time.Millisecond,
			warning: "must be within [8ms, 100ms]"},
		{name: "cgroup period: above 100ms", env: env("ECS_CGROUP_CPU_PERIOD", "200ms"), check: period, want: 100 * time.Millisecond,
			warning: "must be within [8ms, 100ms]"},
		{name: "cgroup period: bounds are inclusive", env: env("ECS_CGROUP_CPU_PERIOD", "8ms"), check: period, want: 8 * time.Millisecond},
		{name: "polling: clamped up to 5s", env: env("ECS_POLL_METRICS", "true", "ECS_POLLING_METRICS_WAIT_DURATION", "1s"),
			check: polling, want: 5 * time.Second, warning: "using 5s"},
		{name: "polling: clamped down to 20s", env: env("ECS_POLL_METRICS", "true", "ECS_POLLING_METRICS_WAIT_DURATION", "1m"),
			check: polling, want: 20 * time.Second, warning: "using 20s"},
		{name: "polling: not clamped when not polling", env: env("ECS_POLLING_METRICS_WAIT_DURATION", "1s"),
			check: polling, want: time.Second},
		{name: "jitter: no validation", env: env("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION_JITTER", "1h"),
			check: func(c *Config) any { return c.TaskCleanupWaitDurationJitter }, want: time.Hour},
		{name: "image pull timeout", env: env("ECS_IMAGE_PULL_TIMEOUT", "1h"),
			check: func(c *Config) any { return c.ImagePullTimeout }, want: time.Hour},
	})
}

func TestNumericRules(t *testing.T) {
	images := func(c *Config) any { return c.NumImagesToDeletePerCycle }
	containers := func(c *Config) any { return c.NumNonECSContainersToDeletePerCycle }
	pids := func(c *Config) any { return c.TaskPidsLimit }
	mem := func(c *Config) any { return c.ReservedMemory }
	rps := func(c *Config) any { return [2]int{c.TaskMetadataSteadyStateRate, c.TaskMetadataBurstRate} }
	runRules(t, []rule{
		{name: "images: not an integer", env: env("ECS_NUM_IMAGES_DELETE_PER_CYCLE", "five"), check: images, want: 5,
			warning: `ECS_NUM_IMAGES_DELETE_PER_CYCLE="five": not an integer`},
		{name: "images: below 1", env: env("ECS_NUM_IMAGES_DELETE_PER_CYCLE", "-1"), check: images, want: 5,
			warning: "must be at least 1; using 5"},
		{name: "images: zero is the default", env: env("ECS_NUM_IMAGES_DELETE_PER_CYCLE", "0"), check: images, want: 5},
		{name: "images: valid", env: env("ECS_NUM_IMAGES_DELETE_PER_CYCLE", "10"), check: images, want: 10},
		{name: "containers: not an integer", env: env("NONECS_NUM_CONTAINERS_DELETE_PER_CYCLE", "x"), check: containers, want: 5,
			warning: "not an integer"},
		{name: "containers: zero", env: env("NONECS_NUM_CONTAINERS_DELETE_PER_CYCLE", "0"), check: containers, want: 5},
		{name: "containers: valid", env: env("NONECS_NUM_CONTAINERS_DELETE_PER_CYCLE", "7"), check: containers, want: 7},
		{name: "pids: valid", env: env("ECS_TASK_PIDS_LIMIT", "100"), check: pids, want: 100},
		{name: "pids: maximum", env: env("ECS_TASK_PIDS_LIMIT", "4194304"), check: pids, want: 4194304},
		{name: "pids: above maximum", env: env("ECS_TASK_PIDS_LIMIT", "4194305"), check: pids, want: 0,
			warning: "must be an integer in 1-4194304"},
		{name: "pids: negative", env: env("ECS_TASK_PIDS_LIMIT", "-1"), check: pids, want: 0, warning: "1-4194304"},
		{name: "pids: not an integer", env: env("ECS_TASK_PIDS_LIMIT", "lots"), check: pids, want: 0, warning: "not an integer"},
		{name: "pids: without task cgroups", env: env("ECS_TASK_PIDS_LIMIT", "100", "ECS_ENABLE_TASK_CPU_MEM_LIMIT", "false"), check: pids, want: 100,
			warning: "has no effect while task cgroups are off"},
		{name: "reserved memory: valid", env: env("ECS_RESERVED_MEMORY", "32"), check: mem, want: uint16(32)},
		{name: "reserved memory: too big", env: env("ECS_RESERVED_MEMORY", "70000"), check: mem, want: uint16(0),
			warning: "not an integer in 0-65535"},
		{name: "rps: valid", env: env("ECS_TASK_METADATA_RPS_LIMIT", "100,150"), check: rps, want: [2]int{100, 150}},
		{name: "rps: spaces", env: env("ECS_TASK_METADATA_RPS_LIMIT", " 100 , 150 "), check: rps, want: [2]int{100, 150}},
		{name: "rps: one number", env: env("ECS_TASK_METADATA_RPS_LIMIT", "100"), check: rps, want: [2]int{40, 60},
			warning: `ECS_TASK_METADATA_RPS_LIMIT="100": not "steady,burst"`},
		{name: "rps: not integers", env: env("ECS_TASK_METADATA_RPS_LIMIT", "a,b"), check: rps, want: [2]int{40, 60},
			warning: "not \"steady,burst\""},
		{name: "rps: zero resets both", env: env("ECS_TASK_METADATA_RPS_LIMIT", "0,100"), check: rps, want: [2]int{40, 60},
			warning: "both rates must be positive"},
		{name: "rps: JSON negative resets both", json: `{"TaskMetadataSteadyStateRate": 10, "TaskMetadataBurstRate": -1}`,
			check: rps, want: [2]int{40, 60}, warning: "both rates must be positive"},
		{name: "log size: float", env: env("ECS_LOG_MAX_FILE_SIZE_MB", "2.5"),
			check: func(c *Config) any { return c.LogMaxFileSizeMB }, want: 2.5},
		{name: "log size: not a number", env: env("ECS_LOG_MAX_FILE_SIZE_MB", "big"),
			check: func(c *Config) any { return c.LogMaxFileSizeMB }, want: 5.0, warning: "not a number"},
		{name: "log roll count: not an integer", env: env("ECS_LOG_MAX_ROLL_COUNT", "x"),
			check: func(c *Config) any { return c.LogMaxRollCount }, want: 24, warning: "not an integer"},
	})
}

func TestPortRules(t *testing.T) {
	ports := func(c *Config) any { return c.ReservedPorts }
	udp := func(c *Config) any { return c.ReservedPortsUDP }
	dyn := func(c *Config) any { return c.DynamicHostPortRange }
	kernel := WithPortRangeFile(writeFile(t, "ip_local_port_range", "32768\t60999\n"))
	runRules(t, []rule{
		{name: "reserved: valid", env: env("ECS_RESERVED_PORTS", "[22, 80, 5000, 8080]"), check: ports, want: []uint16{22, 80, 5000, 8080}},
		{name: "reserved: out of range", env: env("ECS_RESERVED_PORTS", "[70000]"), check: ports,
			want: []uint16{22, 2375, 2376, 51678, 51679}, warning: `ECS_RESERVED_PORTS="[70000]": not a JSON array of port numbers`},
		{name: "reserved: not JSON", env: env("ECS_RESERVED_PORTS", "22,80"), check: ports,
			want: []uint16{22, 2375, 2376, 51678, 51679}, warning: "not a JSON array"},
		{name: "reserved: prometheus appends 51680", env: env("ECS_ENABLE_PROMETHEUS_METRICS", "true"), check: ports,
			want: []uint16{22, 2375, 2376, 51678, 51679, 51680}},
		{name: "reserved: prometheus appends to custom list", env: env("ECS_ENABLE_PROMETHEUS_METRICS", "1", "ECS_RESERVED_PORTS", "[22]"),
			check: ports, want: []uint16{22, 51680}},
		{name: "reserved: prometheus does not duplicate", env: env("ECS_ENABLE_PROMETHEUS_METRICS", "1", "ECS_RESERVED_PORTS", "[51680]"),
			check: ports, want: []uint16{51680}},
		{name: "udp: valid", env: env("ECS_RESERVED_PORTS_UDP", "[53, 123]"), check: udp, want: []uint16{53, 123}},
		{name: "udp: invalid", env: env("ECS_RESERVED_PORTS_UDP", "[-1]"), check: udp, want: []uint16(nil), warning: "ECS_RESERVED_PORTS_UDP"},
		{name: "dynamic: fallback when the kernel file is unreadable", check: dyn, want: PortRange{49153, 65535}},
		{name: "dynamic: kernel range", opts: []Option{kernel}, check: dyn, want: PortRange{32768, 60999}},
		{name: "dynamic: env", env: env("ECS_DYNAMIC_HOST_PORT_RANGE", "100-200"), opts: []Option{kernel},
			check: dyn, want: PortRange{100, 200}},
		{name: "dynamic: reversed", env: env("ECS_DYNAMIC_HOST_PORT_RANGE", "200-100"), opts: []Option{kernel},
			check: dyn, want: PortRange{32768, 60999}, warning: `ECS_DYNAMIC_HOST_PORT_RANGE="200-100": not a port range start-end`},
		{name: "dynamic: garbage", env: env("ECS_DYNAMIC_HOST_PORT_RANGE", "lots"), check: dyn, want: PortRange{49153, 65535},
			warning: "not a port range"},
		{name: "dynamic: JSON", json: `{"DynamicHostPortRange": "1000-2000"}`, check: dyn, want: PortRange{1000, 2000}},
		{name: "dynamic: JSON invalid is a malformed file", json: `{"DynamicHostPortRange": "2000-1000"}`, errorMsg: "malformed JSON"},
	})
}

func TestFatalParseRules(t *testing.T) {
	runRules(t, []rule{
		{name: "logging drivers: valid", env: env("ECS_AVAILABLE_LOGGING_DRIVERS", `["awslogs","fluentd","gelf","json-file","journald","logentries","splunk","syslog","awsfirelens"]`),
			check: func(c *Config) any { return len(c.AvailableLoggingDrivers) }, want: 9},
		{name: "logging drivers: unknown is fatal", env: env("ECS_AVAILABLE_LOGGING_DRIVERS", `["json-file","bogus"]`),
			errorMsg: `ECS_AVAILABLE_LOGGING_DRIVERS="[\"json-file\",\"bogus\"]": unknown logging driver(s) bogus (known: `},
		{name: "logging drivers: unknown in JSON is fatal", json: `{"AvailableLoggingDrivers": ["nope"]}`,
			errorMsg: "AvailableLoggingDrivers in "},
		{name: "logging drivers: malformed warns", env: env("ECS_AVAILABLE_LOGGING_DRIVERS", `[json-file]`),
			check: func(c *Config) any { return c.AvailableLoggingDrivers }, want: []LoggingDriver{"json-file", "none"},
			warning: "not a JSON array of log driver names"},
		{name: "attributes: valid", env: env("ECS_INSTANCE_ATTRIBUTES", `{"stack": "prod"}`),
			check: func(c *Config) any { return c.InstanceAttributes }, want: map[string]string{"stack": "prod"}},
		{name: "attributes: invalid is fatal", env: env("ECS_INSTANCE_ATTRIBUTES", `{"stack": 1}`),
			errorMsg: `ECS_INSTANCE_ATTRIBUTES="{\"stack\": 1}": not a JSON object of string values`},
		{name: "tags: invalid is fatal", env: env("ECS_CONTAINER_INSTANCE_TAGS", `stack=prod`),
			errorMsg: "ECS_CONTAINER_INSTANCE_TAGS"},
		{name: "tags: valid", env: env("ECS_CONTAINER_INSTANCE_TAGS", `{"tag_key": "tag_val"}`),
			check: func(c *Config) any { return c.ContainerInstanceTags }, want: map[string]string{"tag_key": "tag_val"}},
		{name: "routes: valid", env: env("ECS_AWSVPC_ADDITIONAL_LOCAL_ROUTES", `["10.0.15.0/24", "fd00::/8"]`),
			check: func(c *Config) any { return c.AWSVPCAdditionalLocalRoutes },
			want:  []netip.Prefix{netip.MustParsePrefix("10.0.15.0/24"), netip.MustParsePrefix("fd00::/8")}},
		{name: "routes: invalid is fatal", env: env("ECS_AWSVPC_ADDITIONAL_LOCAL_ROUTES", `["10.0.15.0"]`),
			errorMsg: "not a JSON array of CIDR blocks"},
		{name: "pause labels: invalid warns", env: env("ECS_PAUSE_LABELS", `nope`),
			check: func(c *Config) any { return len(c.PauseContainerLabels) }, want: 0, warning: "ECS_PAUSE_LABELS"},
		{name: "log opts: invalid warns", env: env("ECS_LOG_OPTS", `[1]`),
			check: func(c *Config) any { return len(c.LogOpts) }, want: 0, warning: "ECS_LOG_OPTS"},
		{name: "volume plugin capabilities", env: env("ECS_VOLUME_PLUGIN_CAPABILITIES", `["efsAuth"]`),
			check: func(c *Config) any { return c.VolumePluginCapabilities }, want: []string{"efsAuth"}},
		{name: "EFS addresses: valid", env: env("ECSD_EFS_ADDRESSES", `{"fs-0123abcd": "10.0.1.25"}`),
			check: func(c *Config) any { return c.EFSAddresses }, want: map[string]string{"fs-0123abcd": "10.0.1.25"}},
		{name: "EFS addresses: a key that is no file system ID is fatal", env: env("ECSD_EFS_ADDRESSES", `{"fs-1;x": "10.0.1.25"}`),
			errorMsg: "keys must be EFS file system IDs"},
		{name: "EFS addresses: a host name is fatal", env: env("ECSD_EFS_ADDRESSES", `{"fs-0123abcd": "nfs.example"}`),
			errorMsg: "values must be IP addresses"},
		{name: "EFS CA file: relative is fatal", env: env("ECSD_EFS_CA_FILE", `ca.pem`), errorMsg: "must be an absolute path"},
		{name: "exclusion list is comma separated, untrimmed", env: env("ECS_EXCLUDE_UNTRACKED_IMAGE", "alpine:latest, busybox:1"),
			check: func(c *Config) any { return c.ImageCleanupExclusionList }, want: []string{"alpine:latest", " busybox:1"}},
	})
}

func TestAllErrorsAreCollected(t *testing.T) {
	_, w, err := load(t, env(
		"ECS_INSTANCE_ATTRIBUTES", "{",
		"ECS_CONTAINER_INSTANCE_TAGS", "[",
		"ECS_AWSVPC_ADDITIONAL_LOCAL_ROUTES", "x",
		"ECS_AVAILABLE_LOGGING_DRIVERS", `["x"]`,
		"ECS_CONTAINER_STOP_TIMEOUT", "abc",
	), RequireRegion(), WithAgentConfigFile(writeFile(t, "bad.json", "{")))
	if err == nil {
		t.Fatal("no error")
	}
	for _, key := range []string{"ECS_INSTANCE_ATTRIBUTES", "ECS_CONTAINER_INSTANCE_TAGS",
		"ECS_AWSVPC_ADDITIONAL_LOCAL_ROUTES", "ECS_AVAILABLE_LOGGING_DRIVERS", "AWS_DEFAULT_REGION",
		"ECS_AGENT_CONFIG_FILE_PATH"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error lacks %s:\n%v", key, err)
		}
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Errorf("error is not a FieldError: %T", err)
	}
	if !strings.Contains(warningsText(w), "ECS_CONTAINER_STOP_TIMEOUT") {
		t.Errorf("warnings are still returned with an error: %v", w)
	}
}

func TestBooleansAndCheckpoint(t *testing.T) {
	checkpoint := func(c *Config) any { return c.Checkpoint.Enabled() }
	runRules(t, []rule{
		{name: "checkpoint: default off", check: checkpoint, want: false},
		{name: "checkpoint: on with datadir", env: env("ECS_DATADIR", "/srv/ecs"), check: checkpoint, want: true},
		{name: "checkpoint: explicit false wins over datadir", env: env("ECS_DATADIR", "/srv/ecs", "ECS_CHECKPOINT", "false"),
			check: checkpoint, want: false},
		{name: "checkpoint: explicit true", env: env("ECS_CHECKPOINT", "true"), check: checkpoint, want: true},
		{name: "checkpoint: invalid is unset, datadir rule applies", env: env("ECS_CHECKPOINT", "yes", "ECS_DATADIR", "/d"),
			check: checkpoint, want: true, warning: `ECS_CHECKPOINT="yes": not a boolean`},
		{name: "checkpoint: datadir from JSON does not turn it on", json: `{"DataDir": "/d"}`, check: checkpoint, want: false},
		{name: "checkpoint: JSON true", json: `{"Checkpoint": true}`, check: checkpoint, want: true},
		{name: "bool: ParseBool spellings", env: env("ECS_DISABLE_PRIVILEGED", "T"),
			check: func(c *Config) any { return c.PrivilegedDisabled.Enabled() }, want: true},
		{name: "cpu mem limit: explicit true is distinguishable", env: env("ECS_ENABLE_TASK_CPU_MEM_LIMIT", "true"),
			check: func(c *Config) any { return c.TaskCPUMemLimit.Value }, want: ExplicitlyEnabled},
		{name: "cpu mem limit: default true but not set", check: func(c *Config) any { return c.TaskCPUMemLimit }, want: BooleanDefaultTrue{}},
		{name: "cpu mem limit: false", env: env("ECS_ENABLE_TASK_CPU_MEM_LIMIT", "0"),
			check: func(c *Config) any { return c.TaskCPUMemLimit.Enabled() }, want: false},
		{name: "eni trunking: off without task ENI", env: env("ECS_ENABLE_HIGH_DENSITY_ENI", "true"),
			check: func(c *Config) any { return c.ENITrunkingEnabled.Enabled() }, want: false},
		{name: "eni trunking: default on with task ENI", env: env("ECS_ENABLE_TASK_ENI", "true"),
			check: func(c *Config) any { return c.ENITrunkingEnabled.Enabled() }, want: true},
		{name: "ipv6 only: exclude binding defaults off", env: env("ECS_INSTANCE_IP_COMPATIBILITY", "IPv6"),
			check: func(c *Config) any { return c.ShouldExcludeIPv6PortBinding.Enabled() }, want: false},
		{name: "ip compatibility: invalid", env: env("ECS_INSTANCE_IP_COMPATIBILITY", "both"),
			check: func(c *Config) any { return c.InstanceIPCompatibility }, want: IPCompatibilityAuto, warning: "accepted: ipv4, ipv6"},
		{name: "localhost filter", env: env("ECS_SKIP_LOCALHOST_TRAFFIC_FILTER", "true", "ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS", "1"),
			check: func(c *Config) any {
				return [2]bool{c.SkipLocalhostTrafficFilter.Enabled(), c.AllowOffhostIntrospectionAccess.Enabled()}
			}, want: [2]bool{true, true}},
		{name: "task IMDS", env: env("ECSD_ALLOW_TASK_IMDS", "true"),
			check: func(c *Config) any { return c.AllowTaskIMDS.Enabled() }, want: true},
		{name: "credentials source check on by default", env: env(),
			check: func(c *Config) any { return c.TaskCredentialsSourceCheck.Enabled() }, want: true},
		{name: "credentials source check off", env: env("ECSD_TASK_CREDENTIALS_SOURCE_CHECK", "false"),
			check: func(c *Config) any { return c.TaskCredentialsSourceCheck.Enabled() }, want: false},
	})
}

func TestStringRules(t *testing.T) {
	runRules(t, []rule{
		{name: "cluster trimmed", env: env("ECS_CLUSTER", "  prod \t"), check: func(c *Config) any { return c.Cluster }, want: "prod"},
		{name: "blank cluster is default", env: env("ECS_CLUSTER", "   "), json: `{"Cluster": "  "}`,
			check: func(c *Config) any { return c.Cluster }, want: "default"},
		{name: "blank env cluster does not hide JSON", env: env("ECS_CLUSTER", "   "), json: `{"Cluster": "json"}`,
			check: func(c *Config) any { return c.Cluster }, want: "json"},
		{name: "deprecated ClusterArn", json: `{"ClusterArn": "arn:aws:ecs:us-west-2:1:cluster/x"}`,
			check: func(c *Config) any { return c.Cluster }, want: "arn:aws:ecs:us-west-2:1:cluster/x"},
		{name: "backend host gets https", env: env("ECS_BACKEND_HOST", " ecs.example.com "),
			check: func(c *Config) any { return c.APIEndpoint }, want: "https://ecs.example.com"},
		{name: "backend host keeps scheme", env: env("ECS_BACKEND_HOST", "http://127.0.0.1:8080"),
			check: func(c *Config) any { return c.APIEndpoint }, want: "http://127.0.0.1:8080"},
		{name: "region trimmed", env: env("AWS_DEFAULT_REGION", " us-west-2 "),
			check: func(c *Config) any { return c.AWSRegion }, want: "us-west-2"},
		{name: "nvidia runtime trimmed", env: env("ECS_NVIDIA_RUNTIME", " nv "),
			check: func(c *Config) any { return c.NvidiaRuntime }, want: "nv"},
		{name: "datadir not trimmed", env: env("ECS_DATADIR", "/d "), check: func(c *Config) any { return c.DataDir }, want: "/d "},
		{name: "proxy lower-case", env: env("https_proxy", "http://p:3128"), check: func(c *Config) any { return c.HTTPSProxy }, want: ProxyURL("http://p:3128")},
		{name: "pull behavior: case-insensitive", env: env("ECS_IMAGE_PULL_BEHAVIOR", "Always"),
			check: func(c *Config) any { return c.ImagePullBehavior }, want: ImagePullAlwaysBehavior},
		{name: "pull behavior: unknown is default", env: env("ECS_IMAGE_PULL_BEHAVIOR", "never"),
			check: func(c *Config) any { return c.ImagePullBehavior }, want: ImagePullDefaultBehavior,
			warning: "accepted: default, always, once, prefer-cached"},
		{name: "pull behavior: prefer-cached keeps cleanup on (unlike the reference)", env: env("ECS_IMAGE_PULL_BEHAVIOR", "prefer-cached"),
			check: func(c *Config) any { return c.ImageCleanupDisabled.Enabled() }, want: false},
		{name: "image GC thresholds: defaults", check: func(c *Config) any { return [2]int{c.ImageGCHighPercent, c.ImageGCLowPercent} },
			want: [2]int{85, 80}},
		{name: "image GC thresholds: valid", env: env("ECSD_IMAGE_GC_HIGH_PERCENT", "60", "ECSD_IMAGE_GC_LOW_PERCENT", "40"),
			check: func(c *Config) any { return [2]int{c.ImageGCHighPercent, c.ImageGCLowPercent} }, want: [2]int{60, 40}},
		{name: "image GC thresholds: 100 turns pressure cleanup off", env: env("ECSD_IMAGE_GC_HIGH_PERCENT", "100"),
			check: func(c *Config) any { return [2]int{c.ImageGCHighPercent, c.ImageGCLowPercent} }, want: [2]int{100, 80}},
		{name: "image GC thresholds: low not below high", env: env("ECSD_IMAGE_GC_HIGH_PERCENT", "70", "ECSD_IMAGE_GC_LOW_PERCENT", "70"),
			check: func(c *Config) any { return [2]int{c.ImageGCHighPercent, c.ImageGCLowPercent} }, want: [2]int{85, 80},
			warning: `ECSD_IMAGE_GC_HIGH_PERCENT="70 (ECSD_IMAGE_GC_LOW_PERCENT=70)": want 1 <= ECSD_IMAGE_GC_LOW_PERCENT < ECSD_IMAGE_GC_HIGH_PERCENT <= 100; using 85 and 80`},
		{name: "image GC thresholds: above 100", env: env("ECSD_IMAGE_GC_HIGH_PERCENT", "101"),
			check: func(c *Config) any { return [2]int{c.ImageGCHighPercent, c.ImageGCLowPercent} }, want: [2]int{85, 80},
			warning: "using 85 and 80"},
		{name: "image GC thresholds: not a number", env: env("ECSD_IMAGE_GC_LOW_PERCENT", "half"),
			check: func(c *Config) any { return c.ImageGCLowPercent }, want: 80, warning: "not an integer"},
		{name: "image GC pull wait: default", check: func(c *Config) any { return c.ImageGCPullWait }, want: 2 * time.Minute},
		{name: "image GC pull wait: 0 is the default", env: env("ECSD_IMAGE_GC_PULL_WAIT", "0s"),
			check: func(c *Config) any { return c.ImageGCPullWait }, want: 2 * time.Minute},
		{name: "image GC pull wait: negative never waits", env: env("ECSD_IMAGE_GC_PULL_WAIT", "-1s"),
			check: func(c *Config) any { return c.ImageGCPullWait }, want: time.Duration(0)},
		{name: "image GC pull wait: not a duration", env: env("ECSD_IMAGE_GC_PULL_WAIT", "soon"),
			check: func(c *Config) any { return c.ImageGCPullWait }, want: 2 * time.Minute, warning: "not a duration"},
		{name: "warm pools poll interval: default", check: func(c *Config) any { return c.WarmPoolsPollInterval }, want: time.Minute},
		{name: "warm pools poll interval: set", env: env("ECSD_WARM_POOLS_POLL_INTERVAL", "200ms"),
			check: func(c *Config) any { return c.WarmPoolsPollInterval }, want: 200 * time.Millisecond},
		{name: "warm pools poll interval: too short", env: env("ECSD_WARM_POOLS_POLL_INTERVAL", "10ms"),
			check: func(c *Config) any { return c.WarmPoolsPollInterval }, want: time.Minute, warning: "want at least 100ms"},
		{name: "warm pools poll interval: not a duration", env: env("ECSD_WARM_POOLS_POLL_INTERVAL", "often"),
			check: func(c *Config) any { return c.WarmPoolsPollInterval }, want: time.Minute, warning: "not a duration"},
		{name: "image cleanup interval override", env: env("ECSD_IMAGE_CLEANUP_INTERVAL", "2s", "ECS_IMAGE_CLEANUP_INTERVAL", "15m"),
			check: func(c *Config) any { return [2]time.Duration{c.ImageCleanupIntervalOverride, c.ImageCleanupInterval} },
			want:  [2]time.Duration{2 * time.Second, 15 * time.Minute}},
		{name: "image cleanup interval override: below 1s", env: env("ECSD_IMAGE_CLEANUP_INTERVAL", "10ms"),
			check: func(c *Config) any { return c.ImageCleanupIntervalOverride }, want: time.Duration(0),
			warning: `ECSD_IMAGE_CLEANUP_INTERVAL="10ms": below the minimum 1s; using ECS_IMAGE_CLEANUP_INTERVAL (30m)`},
		{name: "image minimum age: negative", env: env("ECS_IMAGE_MINIMUM_CLEANUP_AGE", "-1h"),
			check: func(c *Config) any { return c.MinimumImageDeletionAge }, want: time.Duration(0), warning: "must not be negative; using 0s"},
		{name: "pull behavior: JSON integer", json: `{"ImagePullBehavior": 2}`,
			check: func(c *Config) any { return c.ImagePullBehavior }, want: ImagePullOnceBehavior},
		{name: "propagate tags", env: env("ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM", "ec2_instance"),
			check: func(c *Config) any { return c.ContainerInstancePropagateTagsFrom }, want: ContainerInstancePropagateTagsFromEC2InstanceType},
		{name: "propagate tags: other is none", env: env("ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM", "asg"),
			check: func(c *Config) any { return c.ContainerInstancePropagateTagsFrom }, want: ContainerInstancePropagateTagsFromNoneType,
			warning: "using none"},
		{name: "log level case-insensitive", env: env("ECS_LOGLEVEL", "DEBUG"),
			check: func(c *Config) any { return [2]string{c.LogLevel, c.LogLevelOnInstance} }, want: [2]string{"debug", "debug"}},
		{name: "log level unknown", env: env("ECS_LOGLEVEL", "verbose"),
			check: func(c *Config) any { return c.LogLevel }, want: "info", warning: `ECS_LOGLEVEL="verbose": accepted: debug`},
		{name: "log level on instance none with a log driver", env: env("ECS_LOG_DRIVER", "awslogs"),
			check: func(c *Config) any { return c.LogLevelOnInstance }, want: "none"},
		{name: "log level on instance explicit", env: env("ECS_LOG_DRIVER", "awslogs", "ECS_LOGLEVEL_ON_INSTANCE", "warn"),
			check: func(c *Config) any { return c.LogLevelOnInstance }, want: "warn"},
		{name: "rollover: other values are hourly", env: env("ECS_LOG_ROLLOVER_TYPE", "daily"),
			check: func(c *Config) any { return c.LogRolloverType }, want: "hourly", warning: "using hourly"},
		{name: "rollover: none", env: env("ECS_LOG_ROLLOVER_TYPE", "none"),
			check: func(c *Config) any { return c.LogRolloverType }, want: "none"},
		{name: "output format", env: env("ECS_LOG_OUTPUT_FORMAT", "json"),
			check: func(c *Config) any { return c.LogOutputFormat }, want: "json"},
	})
}

func TestRegion(t *testing.T) {
	boom := errors.New("imds unreachable")
	fallback := func(r string, err error) Option {
		return WithRegionFallback(func(context.Context) (string, error) { return r, err })
	}
	region := func(c *Config) any { return c.AWSRegion }
	runRules(t, []rule{
		{name: "missing is fine without RequireRegion", check: region, want: ""},
		{name: "missing is fatal with RequireRegion", opts: []Option{RequireRegion()}, errorMsg: "AWS_DEFAULT_REGION"},
		{name: "fallback", opts: []Option{fallback(" eu-west-1\n", nil), RequireRegion()}, check: region, want: "eu-west-1"},
		{name: "env beats fallback", env: env("AWS_DEFAULT_REGION", "us-east-1"), opts: []Option{fallback("eu-west-1", nil)},
			check: region, want: "us-east-1"},
		{name: "JSON beats fallback", json: `{"AWSRegion": "ap-south-1"}`, opts: []Option{fallback("eu-west-1", nil)},
			check: region, want: "ap-south-1"},
		{name: "fallback error warns when not required", opts: []Option{fallback("", boom)}, check: region, want: "",
			warning: "imds unreachable"},
		{name: "external skips the fallback", env: env("ECS_EXTERNAL", "true"), opts: []Option{fallback("eu-west-1", nil), RequireRegion()},
			errorMsg: "ECS_EXTERNAL instances must set it explicitly"},
	})
	_, _, err := load(t, nil, fallback("", boom), RequireRegion())
	if !errors.Is(err, boom) {
		t.Fatalf("error does not wrap the fallback error: %v", err)
	}
}

func TestEngineAuth(t *testing.T) {
	const secret = "s3cr3t-hunter2"
	auth := func(c *Config) any { return c.EngineAuth }
	basic := "dXNlcjE6" + "czNjcjN0LWh1bnRlcjI=" // base64("user1:s3cr3t-hunter2")
	runRules(t, []rule{
		{name: "docker", env: env("ECS_ENGINE_AUTH_TYPE", " docker ",
			"ECS_ENGINE_AUTH_DATA", `{"https://my.registry.example":{"username":"u","password":"`+secret+`","email":"e@x"}}`),
			check: auth, want: map[string]RegistryAuth{"my.registry.example": {Username: "u", Password: secret, Email: "e@x"}}},
		{name: "dockercfg", env: env("ECS_ENGINE_AUTH_TYPE", "dockercfg",
			"ECS_ENGINE_AUTH_DATA", `{"http://reg:5000":{"auth":"`+basic+`","email":"e@x"}}`),
			check: auth, want: map[string]RegistryAuth{"reg:5000": {Username: "user1", Password: secret, Email: "e@x"}}},
		{name: "JSON file object", json: `{"EngineAuthType": "docker", "EngineAuthData": {"r": {"username": "u", "password": "p"}}}`,
			check: auth, want: map[string]RegistryAuth{"r": {Username: "u", Password: "p"}}},
		{name: "unknown type", env: env("ECS_ENGINE_AUTH_TYPE", "basic", "ECS_ENGINE_AUTH_DATA", `{"r":{}}`),
			check: auth, want: map[string]RegistryAuth(nil), warning: `ECS_ENGINE_AUTH_TYPE="basic": accepted: docker, dockercfg`},
		{name: "bad data", env: env("ECS_ENGINE_AUTH_TYPE", "docker", "ECS_ENGINE_AUTH_DATA", `{"r":"`+secret),
			check: auth, want: map[string]RegistryAuth(nil), warning: `ECS_ENGINE_AUTH_DATA="<redacted>": not a JSON object`},
		{name: "bad base64", env: env("ECS_ENGINE_AUTH_TYPE", "dockercfg", "ECS_ENGINE_AUTH_DATA", `{"r":{"auth":"`+secret+`"}}`),
			check: auth, want: map[string]RegistryAuth(nil), warning: "not base64"},
		{name: "data without type", env: env("ECS_ENGINE_AUTH_DATA", `{}`), check: auth, want: map[string]RegistryAuth(nil),
			warning: "set without ECS_ENGINE_AUTH_TYPE"},
	})
	// No warning may echo the secret.
	for _, e := range []map[string]string{
		env("ECS_ENGINE_AUTH_TYPE", "docker", "ECS_ENGINE_AUTH_DATA", `{"r":"`+secret),
		env("ECS_ENGINE_AUTH_TYPE", "dockercfg", "ECS_ENGINE_AUTH_DATA", `{"r":{"auth":"`+secret+`"}}`),
		env("ECS_ENGINE_AUTH_TYPE", "x", "ECS_ENGINE_AUTH_DATA", secret),
		env("AWS_SESSION_TOKEN", secret, "CREDENTIALS_FETCHER_SECRET_NAME_FOR_DOMAINLESS_GMSA", secret),
	} {
		_, w, _ := load(t, e)
		if text := warningsText(w); strings.Contains(text, secret) || strings.Contains(text, "hunter") {
			t.Errorf("secret leaked in warnings:\n%s", text)
		}
	}
}

func TestRedaction(t *testing.T) {
	const secret = "TOPSECRET-v4lue"
	c, _ := mustLoad(t, env(
		"ECS_ENGINE_AUTH_TYPE", "docker",
		"ECS_ENGINE_AUTH_DATA", `{"r":{"username":"u","password":"`+secret+`"}}`,
		"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY", secret,
		"AWS_SESSION_TOKEN", secret,
		"CREDENTIALS_FETCHER_SECRET_NAME_FOR_DOMAINLESS_GMSA", secret,
		"HTTP_PROXY", "http://user:"+secret+"@proxy:3128",
		"HTTPS_PROXY", "user:"+secret+"@proxy:3128",
	))
	if string(c.EngineAuth["r"].Password) != secret || string(c.AWSSecretAccessKey) != secret ||
		!strings.Contains(string(c.HTTPProxy), secret) {
		t.Fatal("secrets must still be usable")
	}
	jsonOut, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String":  c.String(),
		"%v":      fmt.Sprintf("%v", *c),
		"%+v":     fmt.Sprintf("%+v", *c),
		"%#v":     fmt.Sprintf("%#v", *c),
		"%s auth": fmt.Sprintf("%s %v %x", c.EngineAuth, c.EngineAuthData, c.AWSSessionToken),
		"json":    string(jsonOut),
	}
	for name, out := range outputs {
		if strings.Contains(out, secret) {
			t.Errorf("%s leaks the secret:\n%s", name, out)
		}
	}
	m := c.Redacted()
	for _, k := range []string{"ECS_ENGINE_AUTH_DATA", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "CREDENTIALS_FETCHER_SECRET_NAME_FOR_DOMAINLESS_GMSA"} {
		if m[k] != "<redacted>" {
			t.Errorf("%s = %q, want <redacted>", k, m[k])
		}
	}
	if m["HTTP_PROXY"] != "http://user:<redacted>@proxy:3128" || m["HTTPS_PROXY"] != "user:<redacted>@proxy:3128" {
		t.Errorf("proxies: %q %q", m["HTTP_PROXY"], m["HTTPS_PROXY"])
	}
	if m["AWS_ACCESS_KEY_ID"] != "AKIDEXAMPLE" {
		t.Errorf("access key id should be visible: %q", m["AWS_ACCESS_KEY_ID"])
	}
}

func TestStringFormat(t *testing.T) {
	c, _ := mustLoad(t, env("ECS_CLUSTER", "prod", "ECS_TASK_METADATA_RPS_LIMIT", "100,150", "ECS_LOGFILE", "a\nb"))
	s := c.String()
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if !slices.IsSorted(lines) {
		t.Error("lines are not sorted")
	}
	for _, want := range []string{
		"ECS_CLUSTER=prod", "ECS_TASK_METADATA_RPS_LIMIT=100,150", "ECS_CONTAINER_STOP_TIMEOUT=30s",
		"ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=3h", "ECS_RESERVED_PORTS=[22,2375,2376,51678,51679]",
		"ECS_DYNAMIC_HOST_PORT_RANGE=49153-65535", "ECS_ENABLE_TASK_CPU_MEM_LIMIT=true", `ECS_LOGFILE="a\nb"`,
		"ECS_INSTANCE_ATTRIBUTES={}", "ECSD_CONTAINERD_NAMESPACE=ecs",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("missing line %q in\n%s", want, s)
		}
	}
	for _, l := range lines {
		if !strings.Contains(l, "=") {
			t.Errorf("bad line %q", l)
		}
	}
	// Every line's value parses back through the environment layer to the same config.
	back, w := mustLoad(t, c.Redacted())
	if len(w) != 0 {
		t.Fatalf("round trip warnings:\n%s", warningsText(w))
	}
	back.ConfigFile, back.AgentConfigFilePath = c.ConfigFile, c.AgentConfigFilePath
	if back.String() != s {
		t.Errorf("round trip differs:\n%s\nvs\n%s", back.String(), s)
	}
}

func TestJSONFile(t *testing.T) {
	t.Run("malformed is fatal", func(t *testing.T) {
		_, _, err := load(t, nil, WithAgentConfigFile(writeFile(t, "a.json", `{"Cluster": `)))
		if err == nil || !strings.Contains(err.Error(), "malformed JSON") || !strings.Contains(err.Error(), "ECS_AGENT_CONFIG_FILE_PATH") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("wrong type is fatal", func(t *testing.T) {
		_, _, err := load(t, nil, WithAgentConfigFile(writeFile(t, "a.json", `{"DockerStopTimeout": "30s"}`)))
		if err == nil || !strings.Contains(err.Error(), "nanoseconds") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("empty is fine", func(t *testing.T) {
		mustLoad(t, nil, WithAgentConfigFile(writeFile(t, "a.json", " \n")))
	})
	t.Run("missing is fine", func(t *testing.T) {
		mustLoad(t, env("ECS_AGENT_CONFIG_FILE_PATH", filepath.Join(t.TempDir(), "none.json")))
	})
	t.Run("a directory is a read error", func(t *testing.T) {
		_, _, err := load(t, nil, WithAgentConfigFile(t.TempDir()))
		if err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("unknown keys warn", func(t *testing.T) {
		_, w := mustLoad(t, nil, WithAgentConfigFile(writeFile(t, "a.json", `{"Clustr": "x", "cluster": "y"}`)))
		if text := warningsText(w); !strings.Contains(text, `unknown key "Clustr"`) || strings.Contains(text, `"cluster"`) {
			t.Fatalf("warnings:\n%s", text)
		}
	})
	t.Run("booleans and null", func(t *testing.T) {
		c, _ := mustLoad(t, nil, WithAgentConfigFile(writeFile(t, "a.json",
			`{"TaskCPUMemLimit": false, "PrivilegedDisabled": null, "UpdatesEnabled": true}`)))
		if c.TaskCPUMemLimit.Enabled() || c.PrivilegedDisabled.Value != NotSet || !c.UpdatesEnabled.Enabled() {
			t.Fatalf("got %v %v %v", c.TaskCPUMemLimit, c.PrivilegedDisabled, c.UpdatesEnabled)
		}
	})
}

func TestTypes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want PortRange
		ok   bool
	}{
		{"100-200", PortRange{100, 200}, true},
		{" 1 - 65535 ", PortRange{1, 65535}, true},
		{"5-5", PortRange{5, 5}, true},
		{"0-10", PortRange{}, false},
		{"10", PortRange{}, false},
		{"1-65536", PortRange{}, false},
	} {
		got, err := ParsePortRange(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePortRange(%q) = %v, %v", tc.in, got, err)
		}
	}
	var s Sensitive = "pw"
	if fmt.Sprintf("%v|%s|%q|%#v|%d", s, s, s, s, s) != "<redacted>|<redacted>|<redacted>|<redacted>|<redacted>" {
		t.Errorf("Sensitive formats as %v", fmt.Sprintf("%#v", s))
	}
	var b BooleanDefaultTrue
	if err := json.Unmarshal([]byte(`"false"`), &b); err != nil || b.Enabled() {
		t.Errorf("lenient string bool: %v %v", b, err)
	}
	if err := json.Unmarshal([]byte(`3`), &b); err == nil {
		t.Error("3 accepted as a boolean")
	}
}
