package controllers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/metadatafile"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/fake"
)

// unitSetup is what the create reconciler of a containerConfig test is built from.
type unitSetup struct {
	o Options
	d Deps
}

// unitConfigSettings are options for containerConfig that touch nothing outside dataDir:
// no task cgroups, no network layer.
func unitConfigSettings(t *testing.T) unitSetup {
	t.Helper()
	o := unitOptions(t)
	o.Create.TaskCgroups = false
	return unitSetup{o: o}
}

// unitConfig resolves c of task (with its siblings) the way the create step does.
func unitConfig(t *testing.T, s unitSetup, task *api.Task, c *api.Container, in containerInputs, siblings ...*api.Container) (runtime.ContainerConfig, error) {
	t.Helper()
	sib := unitSiblings(append([]*api.Container{c}, siblings...)...)
	scope := &containerScope{task: task, c: c, siblings: sib}
	return unitCreate(t, s.o, s.d).containerConfig(context.Background(), scope, api.ContainerRuntimeID(task, c), in)
}

func unitEnvMap(env []string) map[string]string {
	out := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

// TestContainerConfigEnvironment covers where a variable's value comes from: environment
// files, then the definition, then secrets, then the agent; and the region default.
func TestContainerConfigEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mut    func(*api.Task, *api.Container)
		in     containerInputs
		region string
		want   map[string]string // variables that must have these values
		absent []string
		defEnv []string
	}{
		{
			name: "the definition's environment",
			mut:  func(_ *api.Task, c *api.Container) { c.Spec.Environment = map[string]string{"MODE": "prod"} },
			want: map[string]string{"MODE": "prod"},
		},
		{
			name: "the definition wins over an environment file",
			mut:  func(_ *api.Task, c *api.Container) { c.Spec.Environment = map[string]string{"MODE": "prod"} },
			in:   containerInputs{files: []map[string]string{{"MODE": "dev", "LEVEL": "3"}}},
			want: map[string]string{"MODE": "prod", "LEVEL": "3"},
		},
		{
			name: "of two environment files the first that sets a variable wins",
			in:   containerInputs{files: []map[string]string{{"A": "first"}, {"A": "second", "B": "second"}}},
			want: map[string]string{"A": "first", "B": "second"},
		},
		{
			name: "a secret wins over the definition",
			mut: func(_ *api.Task, c *api.Container) {
				c.Spec.Environment = map[string]string{"DB_PASSWORD": "placeholder"}
			},
			in:   containerInputs{secrets: map[string]string{"DB_PASSWORD": "from-ssm"}},
			want: map[string]string{"DB_PASSWORD": "from-ssm"},
		},
		{
			name: "the agent's endpoint URIs cannot be overridden by the definition",
			mut: func(_ *api.Task, c *api.Container) {
				c.Spec.EndpointID = "ep-123"
				c.Spec.Environment = map[string]string{"ECS_CONTAINER_METADATA_URI_V4": "http://evil/"}
			},
			want: map[string]string{
				"ECS_CONTAINER_METADATA_URI":    "http://169.254.170.2/v3/ep-123",
				"ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/ep-123",
				"ECS_AGENT_URI":                 "http://169.254.170.2/api/ep-123",
			},
		},
		{
			name:   "no endpoint ID: no endpoint URIs",
			absent: []string{"ECS_CONTAINER_METADATA_URI", "ECS_CONTAINER_METADATA_URI_V4", "ECS_AGENT_URI"},
		},
		{
			name: "a task role gives the credentials URI",
			mut: func(task *api.Task, c *api.Container) {
				task.Spec.RoleCredentialsID = "cred-1"
				c.Spec.Environment = map[string]string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/elsewhere"}
			},
			want: map[string]string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/cred-1"},
		},
		{
			name:   "no task role: no credentials URI",
			absent: []string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"},
		},
		{
			// The runtime applies DefaultEnv only when neither the image nor Env sets a
			// region: the agent's region is a default, never in Env.
			name:   "the agent's region is a default, not an override",
			region: "eu-west-1",
			mut:    func(_ *api.Task, c *api.Container) { c.Spec.Environment = map[string]string{"AWS_REGION": "us-east-2"} },
			want:   map[string]string{"AWS_REGION": "us-east-2"},
			absent: []string{"AWS_DEFAULT_REGION"},
			defEnv: []string{"AWS_DEFAULT_REGION=eu-west-1", "AWS_REGION=eu-west-1"},
		},
		{
			name:   "no agent region: no default",
			absent: []string{"AWS_REGION", "AWS_DEFAULT_REGION"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := unitTask("app")
			c := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning)
			if tc.mut != nil {
				tc.mut(task, c)
			}
			s := unitConfigSettings(t)
			s.o.Create.Region = tc.region
			cfg, err := unitConfig(t, s, task, c, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.IsSorted(cfg.Env) {
				t.Errorf("env %v is not sorted: the runtime config would differ between identical creates", cfg.Env)
			}
			env := unitEnvMap(cfg.Env)
			for k, v := range tc.want {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf("%s = %q (set %v), want %q", k, got, ok, v)
				}
			}
			for _, k := range tc.absent {
				if v, ok := env[k]; ok {
					t.Errorf("%s = %q, want it unset", k, v)
				}
			}
			if !slices.Equal(cfg.DefaultEnv, tc.defEnv) {
				t.Errorf("DefaultEnv %v, want %v", cfg.DefaultEnv, tc.defEnv)
			}
		})
	}
}

// TestEnvironmentMergesInOrder checks environment() alone: every source, lowest first.
func TestEnvironmentMergesInOrder(t *testing.T) {
	spec := api.ContainerSpec{Environment: map[string]string{"A": "def", "B": "def"}}
	in := containerInputs{files: []map[string]string{{"A": "file", "B": "file", "C": "file", "D": "file"}}, secrets: map[string]string{"B": "secret", "D": "secret"}}
	got := environment(spec, in, map[string]string{"D": "agent"})
	want := []string{"A=def", "B=secret", "C=file", "D=agent"}
	if !slices.Equal(got, want) {
		t.Fatalf("environment = %v, want %v", got, want)
	}
	if got := environment(api.ContainerSpec{}, containerInputs{}, map[string]string{"X": "agent"}); !slices.Equal(got, []string{"X=agent"}) {
		t.Fatalf("environment with only the agent's variables = %v", got)
	}
}

// TestContainerConfigDefinition covers how the definition's fields reach the runtime.
func TestContainerConfigDefinition(t *testing.T) {
	task := unitTask("app")
	c := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, func(c *api.Container) {
		c.Spec.Image = "registry.example.com/app:1"
		c.Spec.EntryPoint = []string{"/bin/app"}
		c.Spec.Command = []string{"--serve"}
		c.Spec.User = "1000:1000"
		c.Spec.WorkingDir = "/srv"
		c.Spec.Hostname = "web"
		c.Spec.ReadonlyRootFS = true
		c.Spec.Sysctls = map[string]string{"net.core.somaxconn": "1024"}
		c.Spec.Labels = map[string]string{"team": "blue"}
		c.Spec.Memory = 512
		c.Spec.MemoryReservation = 256
		c.Spec.CPU = 256
		c.Spec.Ulimits = []api.Ulimit{{Name: "nofile", Soft: 1024, Hard: 4096}}
		c.Spec.LinuxParameters = &api.LinuxParameters{
			CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"MKNOD"}, InitProcessEnabled: true, SharedMemorySize: 128,
			Devices: []api.Device{{HostPath: "/dev/fuse", ContainerPath: "/dev/fuse", Permissions: []string{"r", "w", "m"}}},
			Tmpfs:   []api.Tmpfs{{ContainerPath: "/scratch", Size: 64, MountOptions: []string{"noexec"}}},
		}
	})
	s := unitConfigSettings(t)
	s.o.Create.Cluster = "prod"
	s.o.Create.AgentVersion = "9.9.9"
	cfg, err := unitConfig(t, s, task, c, containerInputs{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		what      string
		got, want any
	}{
		{"runtime ID", cfg.ID, api.ContainerRuntimeID(task, c)},
		{"image", cfg.Image, "registry.example.com/app:1"},
		{"user", cfg.User, "1000:1000"},
		{"working dir", cfg.WorkingDir, "/srv"},
		{"read-only root", cfg.ReadonlyRootFS, true},
		{"init", cfg.Init, true},
		{"memory limit (MiB→bytes)", cfg.MemoryLimit, int64(512 << 20)},
		{"memory reservation (MiB→bytes)", cfg.MemoryReservation, int64(256 << 20)},
		{"cpu shares", cfg.CPUShares, uint64(256)},
		{"shm size (MiB→bytes)", cfg.ShmSize, int64(128 << 20)},
		{"sysctl", cfg.Sysctls["net.core.somaxconn"], "1024"},
		{"log path", cfg.LogPath, api.ContainerLogPath(s.o.DataDir, task.Name, "app")},
		{"privileged", cfg.Privileged, false},
		{"label team", cfg.Labels["team"], "blue"},
		{"label task ARN", cfg.Labels[api.LabelTaskARN], task.Spec.ARN},
		{"label container", cfg.Labels[api.LabelContainerName], "app"},
		{"label cluster", cfg.Labels[api.LabelCluster], "prod"},
		{"label agent version", cfg.Labels[api.LabelAgentVersion], "9.9.9"},
	} {
		if f.got != f.want {
			t.Errorf("%s = %v, want %v", f.what, f.got, f.want)
		}
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/bin/app"}) || !slices.Equal(cfg.Command, []string{"--serve"}) {
		t.Errorf("entrypoint %v command %v", cfg.Entrypoint, cfg.Command)
	}
	if !slices.Equal(cfg.CapAdd, []string{"NET_ADMIN"}) || !slices.Equal(cfg.CapDrop, []string{"MKNOD"}) {
		t.Errorf("capabilities +%v -%v", cfg.CapAdd, cfg.CapDrop)
	}
	if want := []runtime.Ulimit{{Name: "nofile", Soft: 1024, Hard: 4096}}; !slices.Equal(cfg.Ulimits, want) {
		t.Errorf("ulimits %v, want %v", cfg.Ulimits, want)
	}
	if want := []runtime.Device{{HostPath: "/dev/fuse", ContainerPath: "/dev/fuse", Permissions: "rwm"}}; !slices.Equal(cfg.Devices, want) {
		t.Errorf("devices %v, want %v", cfg.Devices, want)
	}
	i := slices.IndexFunc(cfg.Mounts, func(m runtime.Mount) bool { return m.Destination == "/scratch" })
	if i < 0 || cfg.Mounts[i].Type != "tmpfs" || !slices.Equal(cfg.Mounts[i].Options, []string{"size=64m", "noexec"}) {
		t.Errorf("tmpfs mount missing or wrong in %+v", cfg.Mounts)
	}
	if !cfg.PrivateNetwork {
		t.Error("a bridge container without a network layer is not isolated")
	}
	if cfg.Logging.Discard || cfg.Logging.LoggerArgs == nil {
		t.Errorf("default log driver json-file: logging %+v", cfg.Logging)
	}
}

// TestContainerConfigCPUShares: Docker and the reference agent raise cpu 0 or 1 to the
// kernel's minimum of 2 shares.
func TestContainerConfigCPUShares(t *testing.T) {
	for _, tc := range []struct {
		cpu  int64
		want uint64
	}{{0, 2}, {1, 2}, {2, 2}, {10, 10}, {1024, 1024}} {
		c := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, func(c *api.Container) { c.Spec.CPU = tc.cpu })
		cfg, err := unitConfig(t, unitConfigSettings(t), unitTask("app"), c, containerInputs{})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.CPUShares != tc.want {
			t.Errorf("cpu %d: %d shares, want %d", tc.cpu, cfg.CPUShares, tc.want)
		}
	}
}

// TestContainerConfigRefusals: definitions this host will not run as asked stop the
// container with a CannotCreateContainerError saying why.
func TestContainerConfigRefusals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings func(*unitSetup)
		mut      func(*api.Task, *api.Container)
		want     string
	}{
		{"privileged with ECS_DISABLE_PRIVILEGED", func(s *unitSetup) { s.o.Create.DisablePrivileged = true },
			func(_ *api.Task, c *api.Container) { c.Spec.Privileged = true },
			"privileged containers are disabled on this instance (ECS_DISABLE_PRIVILEGED)"},
		{"a negative ulimit", nil,
			func(_ *api.Task, c *api.Container) {
				c.Spec.Ulimits = []api.Ulimit{{Name: "nofile", Soft: -1, Hard: 10}}
			},
			"ulimit nofile: negative value"},
		{"an unknown log driver", nil,
			func(_ *api.Task, c *api.Container) { c.Spec.LogConfig = &api.LogConfig{Driver: "splunk"} },
			`log driver "splunk" is not supported`},
		{"awslogs without the agent's credentials socket", func(s *unitSetup) { s.o.Create.AWSLogsUnavailable = "no region configured" },
			func(_ *api.Task, c *api.Container) {
				c.Spec.LogConfig = &api.LogConfig{Driver: "awslogs", Options: map[string]string{"awslogs-group": "g"}}
			},
			"awslogs is not available on this instance: no region configured"},
		{"an AppArmor profile on a host without AppArmor", nil,
			func(_ *api.Task, c *api.Container) {
				c.Spec.SecurityOptions = &api.SecurityOptions{AppArmorProfile: "docker-default"}
			},
			"AppArmor is not enabled on this host"},
		{"a mount point of an unknown volume", nil,
			func(_ *api.Task, c *api.Container) {
				c.Spec.MountPoints = []api.MountPoint{{SourceVolume: "ghost", ContainerPath: "/data"}}
			},
			`mount point /data: no volume "ghost" in the task`},
		{"an EFS volume without a file system", nil,
			func(task *api.Task, c *api.Container) {
				task.Spec.Volumes = []api.Volume{{Name: "v", Type: "efs"}}
				c.Spec.MountPoints = []api.MountPoint{{SourceVolume: "v", ContainerPath: "/data"}}
			},
			`volume v: no EFS file system`},
		{"an FSx volume", nil,
			func(task *api.Task, c *api.Container) {
				task.Spec.Volumes = []api.Volume{{Name: "v", Type: "fsxWindowsFileServer"}}
				c.Spec.MountPoints = []api.MountPoint{{SourceVolume: "v", ContainerPath: "/data"}}
			},
			`volume v: type "fsxWindowsFileServer" is not supported`},
		{"volumesFrom a container not in the task", nil,
			func(_ *api.Task, c *api.Container) { c.Spec.VolumesFrom = []api.VolumeFrom{{SourceContainer: "ghost"}} },
			`volumesFrom: no container "ghost" in the task`},
		{"links in network mode host", nil,
			func(task *api.Task, c *api.Container) { task.Spec.NetworkMode = "host"; c.Spec.Links = []string{"db"} },
			"links are not supported in network mode host"},
		{"an unknown network mode", nil,
			func(task *api.Task, _ *api.Container) { task.Spec.NetworkMode = "nat" },
			`network mode "nat" is not supported`},
		{"port mappings without the network layer", nil,
			func(_ *api.Task, c *api.Container) { c.Spec.PortMappings = []api.PortMapping{{ContainerPort: 80}} },
			`port mappings in network mode "bridge" need the network layer`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := unitTask("app")
			c := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning)
			tc.mut(task, c)
			s := unitConfigSettings(t)
			if tc.settings != nil {
				tc.settings(&s)
			}
			_, err := unitConfig(t, s, task, c, containerInputs{})
			if !errors.Is(err, errInvalidDefinition) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a definition error saying %q", err, tc.want)
			}
		})
	}
}

func TestContainerConfigPrivilegedAllowedByDefault(t *testing.T) {
	c := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, func(c *api.Container) { c.Spec.Privileged = true })
	cfg, err := unitConfig(t, unitConfigSettings(t), unitTask("app"), c, containerInputs{})
	if err != nil || !cfg.Privileged {
		t.Fatalf("privileged = %v, err %v; want a privileged container", cfg.Privileged, err)
	}
}

// TestContainerConfigMounts covers mount points resolved against the task's volumes and
// volumesFrom.
func TestContainerConfigMounts(t *testing.T) {
	s := unitConfigSettings(t)
	hostDir := t.TempDir()
	task := unitTask("app", "data")
	task.Spec.Volumes = []api.Volume{
		{Name: "host", Type: "host", HostSourcePath: hostDir},
		{Name: "scratch"}, // task-scoped, agent-managed
		{Name: "cache", Type: "docker", Scope: "task"}, // a task-scoped docker volume
		{Name: "shared-ro", Type: "host", HostSourcePath: hostDir},
	}
	data := unitContainer("data", api.ContainerStatusCreated, api.ContainerStatusRunning, func(c *api.Container) {
		c.Spec.MountPoints = []api.MountPoint{
			{SourceVolume: "cache", ContainerPath: "/cache"},
			{SourceVolume: "shared-ro", ContainerPath: "/ro", ReadOnly: true},
		}
	})
	for _, tc := range []struct {
		name string
		mut  func(*api.Container)
		want []runtime.Mount
	}{
		{
			name: "a host volume binds its source path",
			mut: func(c *api.Container) {
				c.Spec.MountPoints = []api.MountPoint{{SourceVolume: "host", ContainerPath: "/host"}}
			},
			want: []runtime.Mount{{Type: "bind", Source: hostDir, Destination: "/host", Options: []string{"rbind", "rw"}}},
		},
		{
			name: "a read-only mount point",
			mut: func(c *api.Container) {
				c.Spec.MountPoints = []api.MountPoint{{SourceVolume: "host", ContainerPath: "/host", ReadOnly: true}}
			},
			want: []runtime.Mount{{Type: "bind", Source: hostDir, Destination: "/host", Options: []string{"rbind", "ro"}}},
		},
		{
			name: "a volume without a source is a directory of the task",
			mut: func(c *api.Container) {
				c.Spec.MountPoints = []api.MountPoint{{SourceVolume: "scratch", ContainerPath: "/scratch"}}
			},
			want: []runtime.Mount{{Type: "bind", Source: api.TaskVolumePath(s.o.DataDir, unitTaskName, "scratch"), Destination: "/scratch", Options: []string{"rbind", "rw"}}},
		},
		{
			name: "volumesFrom mounts the source's volumes at the same paths, read-only ones stay read-only",
			mut:  func(c *api.Container) { c.Spec.VolumesFrom = []api.VolumeFrom{{SourceContainer: "data"}} },
			want: []runtime.Mount{
				{Type: "bind", Source: api.TaskVolumePath(s.o.DataDir, unitTaskName, "cache"), Destination: "/cache", Options: []string{"rbind", "rw"}},
				{Type: "bind", Source: hostDir, Destination: "/ro", Options: []string{"rbind", "ro"}},
			},
		},
		{
			name: "volumesFrom read-only makes every one of them read-only",
			mut: func(c *api.Container) {
				c.Spec.VolumesFrom = []api.VolumeFrom{{SourceContainer: "data", ReadOnly: true}}
			},
			want: []runtime.Mount{
				{Type: "bind", Source: api.TaskVolumePath(s.o.DataDir, unitTaskName, "cache"), Destination: "/cache", Options: []string{"rbind", "ro"}},
				{Type: "bind", Source: hostDir, Destination: "/ro", Options: []string{"rbind", "ro"}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, tc.mut)
			cfg, err := unitConfig(t, s, task, c, containerInputs{}, data)
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Mounts) != len(tc.want) {
				t.Fatalf("mounts %+v, want %+v", cfg.Mounts, tc.want)
			}
			for i, m := range cfg.Mounts {
				w := tc.want[i]
				if m.Type != w.Type || m.Source != w.Source || m.Destination != w.Destination || !slices.Equal(m.Options, w.Options) {
					t.Errorf("mount %d = %+v, want %+v", i, m, w)
				}
				if fi, err := os.Stat(m.Source); err != nil || !fi.IsDir() {
					t.Errorf("mount source %s does not exist as a directory: %v", m.Source, err)
				}
			}
		})
	}
}

// TestContainerConfigNetworkModes: which namespace each network mode gives a container
// when no network layer is configured.
func TestContainerConfigNetworkModes(t *testing.T) {
	for _, tc := range []struct {
		mode      string
		private   bool
		hostNetNS string
		wantNetNS string
	}{
		{mode: "host", hostNetNS: "/run/netns/agent"},
		{mode: "none", private: true},
		{mode: "bridge", private: true},
		{mode: "", private: true}, // bridge is ECS's default on Linux
		{mode: "awsvpc", private: true},
	} {
		task := unitTask("app")
		task.Spec.NetworkMode = tc.mode
		s := unitConfigSettings(t)
		s.o.Network.HostNetNSPath = "/run/netns/agent"
		cfg, err := unitConfig(t, s, task, unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning), containerInputs{})
		if err != nil {
			t.Fatalf("mode %q: %v", tc.mode, err)
		}
		if cfg.PrivateNetwork != tc.private || cfg.HostNetNSPath != tc.hostNetNS || cfg.NetNSPath != tc.wantNetNS {
			t.Errorf("mode %q: private %v hostNetNS %q netns %q, want %v %q %q", tc.mode, cfg.PrivateNetwork, cfg.HostNetNSPath, cfg.NetNSPath, tc.private, tc.hostNetNS, tc.wantNetNS)
		}
	}
}

// TestContainerConfigTaskCgroup: every task gets its own cgroup under the root, with the
// task's limits, or the sum of its containers' shares when it has no CPU limit (what the
// cgroup files say is runtime/cgroups' business).
func TestContainerConfigTaskCgroup(t *testing.T) {
	for _, tc := range []struct {
		name    string
		taskCPU float64
		taskMem int64
		want    runtime.CgroupLimits
	}{
		{"task CPU and memory limits", 0.25, 1024,
			runtime.CgroupLimits{CPUQuota: 25 * time.Millisecond, Period: 100 * time.Millisecond, MemoryBytes: 1 << 30, PidsLimit: 100}},
		// Shares 2 (app, cpu 0, raised to the minimum) + 1024 (side).
		{"no task CPU: the sum of the containers' shares", 0, 0, runtime.CgroupLimits{Period: 100 * time.Millisecond, CPUShares: 1026}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cg := &fake.Cgroups{}
			s := unitConfigSettings(t)
			s.o.Create.TaskCgroups = true
			s.o.Create.CgroupCPUPeriod = 100 * time.Millisecond
			s.o.Create.TaskPidsLimit = int(tc.want.PidsLimit) // ECS_TASK_PIDS_LIMIT
			s.d.Cgroups = cg
			task := unitTask("app", "side")
			task.Spec.CPU, task.Spec.Memory = tc.taskCPU, tc.taskMem
			side := unitContainer("side", api.ContainerStatusPulled, api.ContainerStatusRunning, func(c *api.Container) { c.Spec.CPU = 1024 })
			cfg, err := unitConfig(t, s, task, unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning), containerInputs{}, side)
			if err != nil {
				t.Fatal(err)
			}
			if want := "/ecs/" + unitTaskName; cfg.CgroupParent != want {
				t.Errorf("cgroup parent %q, want %q (tools read the container ID from /ecs/<task>/<id>)", cfg.CgroupParent, want)
			}
			if got, ok := cg.Limits(unitTaskName); !ok || got != tc.want {
				t.Errorf("task cgroup limits %+v (made %v), want %+v", got, ok, tc.want)
			}
		})
	}
}

// TestContainerConfigPropagatesTaskMemoryOnCgroupV2 covers
// ECS_PROPAGATE_TASK_MEMORY_LIMIT_CGROUPV2 as the reference agent applies it: only on a
// cgroup v2 host, only to a container without a memory limit, only when the task has one.
func TestContainerConfigPropagatesTaskMemoryOnCgroupV2(t *testing.T) {
	for _, tc := range []struct {
		name            string
		v2, propagate   bool
		ctrMem, taskMem int64
		wantLimitInMiB  int64
	}{
		{name: "v2, on, container without a limit: the task's", v2: true, propagate: true, taskMem: 512, wantLimitInMiB: 512},
		{name: "v2, on, container with its own limit: its own", v2: true, propagate: true, ctrMem: 128, taskMem: 512, wantLimitInMiB: 128},
		{name: "v2, on, task without a limit: none", v2: true, propagate: true},
		{name: "v2, off: none", v2: true, taskMem: 512},
		{name: "v1 host, on: none (the containers' cgroups show the task limit there)", propagate: true, taskMem: 512},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := unitConfigSettings(t)
			s.o.Create.CgroupV2, s.o.Create.PropagateTaskMemoryV2 = tc.v2, tc.propagate
			task := unitTask("app")
			task.Spec.Memory = tc.taskMem
			c := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, func(c *api.Container) { c.Spec.Memory = tc.ctrMem })
			cfg, err := unitConfig(t, s, task, c, containerInputs{})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MemoryLimit != tc.wantLimitInMiB<<20 {
				t.Errorf("container memory limit %d, want %d MiB", cfg.MemoryLimit, tc.wantLimitInMiB)
			}
		})
	}
}

func TestContainerConfigWithoutTaskCgroupsStaysUnderTheRoot(t *testing.T) {
	cfg, err := unitConfig(t, unitConfigSettings(t), unitTask("app"), unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning), containerInputs{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CgroupParent != "/ecs" {
		t.Fatalf("cgroup parent %q, want the root /ecs", cfg.CgroupParent)
	}
}

func TestContainerConfigLogDriverNone(t *testing.T) {
	c := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, func(c *api.Container) { c.Spec.LogConfig = &api.LogConfig{Driver: "none"} })
	cfg, err := unitConfig(t, unitConfigSettings(t), unitTask("app"), c, containerInputs{})
	if err != nil || !cfg.Logging.Discard {
		t.Fatalf("logging %+v, err %v; want output discarded", cfg.Logging, err)
	}
}

// TestLogDriverEnv: what the log driver learns about the container and the agent; only
// secrets aimed at the log driver are its secret options.
func TestLogDriverEnv(t *testing.T) {
	s := unitConfigSettings(t)
	s.o.Create.Region = "eu-west-1"
	s.o.Create.CloudWatchLogsEndpoint = "http://127.0.0.1:4566"
	s.o.Create.LogCredentialsSocket = "/run/ecsd/logcreds.sock"
	task := unitTask("app")
	c := unitContainer("app", "", "", func(c *api.Container) {
		c.Spec.Secrets = []api.SecretRef{
			{Name: "DB_PASSWORD", Target: api.SecretTargetContainer},
			{Name: "awslogs-group", Target: api.SecretTargetLogDriver},
			{Name: "awslogs-endpoint", Target: api.SecretTargetLogDriver},
		}
	})
	env := unitCreate(t, s.o, s.d).logDriverEnv(task, c, "rid")
	if env.TaskARN != task.Spec.ARN || env.TaskID != unitTaskName || env.Container != "app" || env.RuntimeID != "rid" ||
		env.Region != "eu-west-1" || env.Endpoint != "http://127.0.0.1:4566" || env.CredentialsSocket != "/run/ecsd/logcreds.sock" {
		t.Errorf("log driver env %+v", env)
	}
	if want := []string{"awslogs-group", "awslogs-endpoint"}; !slices.Equal(env.SecretOptions, want) {
		t.Errorf("secret options %v, want %v", env.SecretOptions, want)
	}
	if got := logSecretOptions(nil); got != nil {
		t.Errorf("no secrets: %v", got)
	}
}

// TestContainerConfigMetadataFile covers ECS_ENABLE_CONTAINER_METADATA: the file exists
// before the container, mounted read-only, and the container is told where.
func TestContainerConfigMetadataFile(t *testing.T) {
	s := unitConfigSettings(t)
	s.o.Metadata.Enabled = true
	c := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, func(c *api.Container) { c.Spec.EndpointID = "ep-9" })
	cfg, err := unitConfig(t, s, unitTask("app"), c, containerInputs{})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := metadatafile.Dir(s.o.DataDir, unitTaskName, "app")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(cfg.Mounts, func(m runtime.Mount) bool { return m.Source == dir })
	if i < 0 || cfg.Mounts[i].Destination != "/opt/ecs/metadata/ep-9" || !slices.Contains(cfg.Mounts[i].Options, "ro") {
		t.Fatalf("metadata mount missing or writable: %+v", cfg.Mounts)
	}
	if got := unitEnvMap(cfg.Env)[metadatafile.EnvVar]; got != "/opt/ecs/metadata/ep-9/"+metadatafile.FileName {
		t.Errorf("%s = %q", metadatafile.EnvVar, got)
	}
	b, err := os.ReadFile(filepath.Join(dir, metadatafile.FileName))
	if err != nil {
		t.Fatalf("the file is not there before the container: %v", err)
	}
	if strings.Contains(string(b), metadatafile.StatusReady) {
		t.Errorf("the first file already says READY: %s", b)
	}
}
