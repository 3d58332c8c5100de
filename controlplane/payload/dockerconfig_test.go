package payload

import (
	"reflect"
	"testing"
	"time"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// TestDockerConfigMapping covers every mapped dockerConfig key, and that the backend's
// value wins over the first-class one.
func TestDockerConfigMapping(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first func(c *Container) // first-class members set before dockerConfig
		dc    *DockerConfig
		check func(s v1alpha1.ContainerSpec) bool
	}{
		{"labels", nil, containerConfig(`{"Labels":{"a":"1","b":"2"}}`), func(s v1alpha1.ContainerSpec) bool {
			return reflect.DeepEqual(s.Labels, map[string]string{"a": "1", "b": "2"})
		}},
		{"lower-case keys match", nil, containerConfig(`{"labels":{"a":"1"},"user":"u"}`), func(s v1alpha1.ContainerSpec) bool {
			return s.Labels["a"] == "1" && s.User == "u"
		}},
		{"user workdir hostname", nil, containerConfig(`{"User":"1000:1000","WorkingDir":"/w","Hostname":"h"}`), func(s v1alpha1.ContainerSpec) bool {
			return s.User == "1000:1000" && s.WorkingDir == "/w" && s.Hostname == "h"
		}},
		{"env merged backend wins", func(c *Container) { c.Environment = map[string]string{"A": "first", "B": "b"} },
			containerConfig(`{"Env":["A=backend","C=x=y","D="]}`), func(s v1alpha1.ContainerSpec) bool {
				return reflect.DeepEqual(s.Environment, map[string]string{"A": "backend", "B": "b", "C": "x=y", "D": ""})
			}},
		{"env on empty environment", nil, containerConfig(`{"Env":["A=1"]}`), func(s v1alpha1.ContainerSpec) bool {
			return reflect.DeepEqual(s.Environment, map[string]string{"A": "1"})
		}},
		{"cmd and entrypoint arrays", func(c *Container) { c.Command, c.EntryPoint = []string{"first"}, []string{"first"} },
			containerConfig(`{"Cmd":["a","b"],"Entrypoint":["/e"]}`), func(s v1alpha1.ContainerSpec) bool {
				return reflect.DeepEqual(s.Command, []string{"a", "b"}) && reflect.DeepEqual(s.EntryPoint, []string{"/e"})
			}},
		{"cmd string", nil, containerConfig(`{"Cmd":"echo hi"}`), func(s v1alpha1.ContainerSpec) bool {
			return reflect.DeepEqual(s.Command, []string{"echo hi"})
		}},
		{"null cmd keeps first-class", func(c *Container) { c.Command = []string{"first"} }, containerConfig(`{"Cmd":null}`), func(s v1alpha1.ContainerSpec) bool {
			return reflect.DeepEqual(s.Command, []string{"first"})
		}},
		{"stop timeout", func(c *Container) { c.StopTimeout = 30 }, containerConfig(`{"StopTimeout":5}`), func(s v1alpha1.ContainerSpec) bool {
			return s.StopTimeout == 5
		}},
		{"healthcheck", nil, containerConfig(`{"Healthcheck":{"Test":["CMD","true"],"Interval":1000000000,"Timeout":2000000000,"StartPeriod":3000000000,"Retries":4}}`),
			func(s v1alpha1.ContainerSpec) bool {
				h := s.HealthCheck
				return h != nil && reflect.DeepEqual(h.Test, []string{"CMD", "true"}) && h.Interval.Duration == time.Second &&
					h.Timeout.Duration == 2*time.Second && h.StartPeriod.Duration == 3*time.Second && h.Retries == 4
			}},
		{"healthcheck NONE", nil, containerConfig(`{"Healthcheck":{"Test":["NONE"]}}`), func(s v1alpha1.ContainerSpec) bool {
			return s.HealthCheck != nil && reflect.DeepEqual(s.HealthCheck.Test, []string{"NONE"})
		}},
		{"empty config", nil, &DockerConfig{Config: Ptr(EmbeddedJSON("  ")), HostConfig: Ptr(EmbeddedJSON("null")), Version: Ptr("1.17")},
			func(s v1alpha1.ContainerSpec) bool { return s.Labels == nil && s.LinuxParameters == nil }},
		{"unknown keys ignored", nil, containerConfig(`{"AttachStdout":true,"ExposedPorts":{"80/tcp":{}},"Image":"other","Shell":["sh"],"Future":1}`),
			func(s v1alpha1.ContainerSpec) bool { return s.Image == "nginx:1.27" }},
		{"ulimits", nil, hostConfig(`{"Ulimits":[{"Name":"nofile","Soft":1024,"Hard":4096},{"Name":"core","Soft":-1,"Hard":-1}]}`),
			func(s v1alpha1.ContainerSpec) bool {
				return reflect.DeepEqual(s.Ulimits, []v1alpha1.Ulimit{{Name: "nofile", Soft: 1024, Hard: 4096}, {Name: "core", Soft: -1, Hard: -1}})
			}},
		{"readonly dns extra hosts sysctls", nil, hostConfig(`{"ReadonlyRootfs":true,"Dns":["1.1.1.1"],"DnsSearch":["a.b"],"ExtraHosts":["h:1.2.3.4","v6:::1","n=5.6.7.8"],"Sysctls":{"net.ipv4.ip_forward":"1"}}`),
			func(s v1alpha1.ContainerSpec) bool {
				return s.ReadonlyRootFS && reflect.DeepEqual(s.DNSServers, []string{"1.1.1.1"}) && reflect.DeepEqual(s.DNSSearch, []string{"a.b"}) &&
					reflect.DeepEqual(s.ExtraHosts, []string{"h:1.2.3.4", "v6:::1", "n=5.6.7.8"}) && s.Sysctls["net.ipv4.ip_forward"] == "1"
			}},
		{"privileged backend wins", func(c *Container) { c.Privileged = Ptr(true) }, hostConfig(`{"Privileged":false}`), func(s v1alpha1.ContainerSpec) bool {
			return !s.Privileged
		}},
		{"privileged from host config", nil, hostConfig(`{"Privileged":true}`), func(s v1alpha1.ContainerSpec) bool { return s.Privileged }},
		{"capabilities backend wins", func(c *Container) {
			c.LinuxParameters = &LinuxParameters{Capabilities: &KernelCapabilities{Add: []string{"SYS_ADMIN"}, Drop: []string{"NET_RAW"}}}
		}, hostConfig(`{"CapAdd":["NET_ADMIN"],"CapDrop":[]}`), func(s v1alpha1.ContainerSpec) bool {
			return reflect.DeepEqual(s.LinuxParameters.CapAdd, []string{"NET_ADMIN"}) && s.LinuxParameters.CapDrop == nil
		}},
		{"capabilities kept when absent", func(c *Container) {
			c.LinuxParameters = &LinuxParameters{Capabilities: &KernelCapabilities{Add: []string{"SYS_ADMIN"}}}
		}, hostConfig(`{"CapDrop":"ALL"}`), func(s v1alpha1.ContainerSpec) bool {
			return reflect.DeepEqual(s.LinuxParameters.CapAdd, []string{"SYS_ADMIN"}) && reflect.DeepEqual(s.LinuxParameters.CapDrop, []string{"ALL"})
		}},
		{"memory cpu in bytes and shares", func(c *Container) { c.CPU, c.Memory = 128, 256 },
			hostConfig(`{"CpuShares":512,"Memory":536870912,"MemoryReservation":100000000}`), func(s v1alpha1.ContainerSpec) bool {
				return s.CPU == 512 && s.Memory == 512 && s.MemoryReservation == 96 // 100 MB rounds up to 96 MiB
			}},
		{"zero limits keep first-class", func(c *Container) { c.CPU, c.Memory = 128, 256 },
			hostConfig(`{"CpuShares":0,"Memory":0,"MemorySwappiness":-1,"PidsLimit":0,"MemorySwap":0}`), func(s v1alpha1.ContainerSpec) bool {
				return s.CPU == 128 && s.Memory == 256
			}},
		{"shm init devices", func(c *Container) {
			c.LinuxParameters = &LinuxParameters{Devices: []Device{{HostPath: "/dev/old"}}, SharedMemorySize: Ptr(int64(8)), InitProcessEnabled: Ptr(true)}
		}, hostConfig(`{"ShmSize":67108864,"Init":false,"Devices":[{"PathOnHost":"/dev/fuse","PathInContainer":"/dev/fuse","CgroupPermissions":"rwm"},{"PathOnHost":"/dev/null"}]}`),
			func(s v1alpha1.ContainerSpec) bool {
				lp := s.LinuxParameters
				return lp != nil && lp.SharedMemorySize == 64 && !lp.InitProcessEnabled && reflect.DeepEqual(lp.Devices, []v1alpha1.Device{
					{HostPath: "/dev/fuse", ContainerPath: "/dev/fuse", Permissions: []string{"read", "write", "mknod"}},
					{HostPath: "/dev/null"},
				})
			}},
		{"tmpfs", nil, hostConfig(`{"Tmpfs":{"/tmp":"","/run":"size=65536k,noexec , nosuid","/big":"size=1g","/bytes":"size=1000"}}`),
			func(s v1alpha1.ContainerSpec) bool {
				return reflect.DeepEqual(s.LinuxParameters.Tmpfs, []v1alpha1.Tmpfs{
					{ContainerPath: "/big", Size: 1024},
					{ContainerPath: "/bytes", Size: 1},
					{ContainerPath: "/run", Size: 64, MountOptions: []string{"noexec", "nosuid"}},
					{ContainerPath: "/tmp"},
				})
			}},
		{"log config", nil, hostConfig(`{"LogConfig":{"Type":"json-file","Config":{"max-size":"10m"}}}`), func(s v1alpha1.ContainerSpec) bool {
			return reflect.DeepEqual(s.LogConfig, &v1alpha1.LogConfig{Driver: "json-file", Options: map[string]string{"max-size": "10m"}})
		}},
		{"empty log config", nil, hostConfig(`{"LogConfig":{"Type":"","Config":{}}}`), func(s v1alpha1.ContainerSpec) bool { return s.LogConfig == nil }},
		{"security options", nil, hostConfig(`{"SecurityOpt":["no-new-privileges","apparmor:x","label=type:svirt_t","label:level:s0:c1,c2","seccomp=unconfined"]}`),
			func(s v1alpha1.ContainerSpec) bool {
				return reflect.DeepEqual(s.SecurityOptions, &v1alpha1.SecurityOptions{
					NoNewPrivileges: true, AppArmorProfile: "x", SELinuxLabel: []string{"type:svirt_t", "level:s0:c1,c2"}, Seccomp: "unconfined",
				})
			}},
		{"no-new-privileges false wins last", nil, hostConfig(`{"SecurityOpt":["no-new-privileges:true","no-new-privileges=false","label:disable"]}`),
			func(s v1alpha1.ContainerSpec) bool {
				return reflect.DeepEqual(s.SecurityOptions, &v1alpha1.SecurityOptions{SELinuxLabel: []string{"disable"}})
			}},
		{"no security options", nil, hostConfig(`{"SecurityOpt":[]}`), func(s v1alpha1.ContainerSpec) bool { return s.SecurityOptions == nil }},
		{"tolerated keys", nil, hostConfig(`{"NetworkMode":"bridge","IpcMode":"host","PidMode":"host","AutoRemove":true,"Isolation":"default","RestartPolicy":{"Name":"no"},"OomKillDisable":false}`),
			func(s v1alpha1.ContainerSpec) bool { return true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := baseTask()
			if tc.first != nil {
				tc.first(&task.Containers[0])
			}
			task.Containers[0].DockerConfig = tc.dc
			_, cs := mustObjects(t, task)
			if !tc.check(cs[0].Spec) {
				t.Fatalf("unexpected spec %+v (linux %+v)", cs[0].Spec, cs[0].Spec.LinuxParameters)
			}
		})
	}
}

// TestDockerConfigRejects covers parse failures, bad values and refused keys.
func TestDockerConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dc       *DockerConfig
		sentinel error
		substr   string
	}{
		{"config not JSON", containerConfig(`{"Labels":`), ErrInvalidJSON, "container web: dockerConfig.config: invalid JSON: "},
		{"hostConfig not JSON", hostConfig(`nope`), ErrInvalidJSON, "container web: dockerConfig.hostConfig: invalid JSON: "},
		{"hostConfig array", hostConfig(`[1]`), ErrInvalidJSON, "dockerConfig.hostConfig: invalid JSON"},
		{"wrong type", hostConfig(`{"Memory":"1g"}`), ErrInvalidJSON, "dockerConfig.hostConfig: invalid JSON"},
		{"labels wrong type", containerConfig(`{"Labels":{"a":1}}`), ErrInvalidJSON, "dockerConfig.config: invalid JSON"},
		{"env without =", containerConfig(`{"Env":["A"]}`), ErrInvalidValue, "dockerConfig.config: Env[0]: invalid value"},
		{"env empty name", containerConfig(`{"Env":["=v"]}`), ErrInvalidValue, "Env[0]"},
		{"negative stop timeout", containerConfig(`{"StopTimeout":-1}`), ErrInvalidValue, "StopTimeout"},
		{"negative interval", containerConfig(`{"Healthcheck":{"Test":["CMD","x"],"Interval":-1}}`), ErrInvalidValue, "Healthcheck: Interval"},
		{"negative retries", containerConfig(`{"Healthcheck":{"Retries":-1}}`), ErrInvalidValue, "Healthcheck: Retries"},
		{"bad test kind", containerConfig(`{"Healthcheck":{"Test":["RUN","x"]}}`), ErrInvalidValue, "Healthcheck: Test"},
		{"refused config keys", containerConfig(`{"Tty":true,"OpenStdin":true,"NetworkDisabled":true,"StopSignal":"SIGINT","MacAddress":"x","Domainname":"d","Volumes":{"/v":{}}}`),
			ErrUnsupported, "dockerConfig.config: Domainname, MacAddress, NetworkDisabled, OpenStdin, StopSignal, Tty, Volumes: not supported by ecsd"},
		{"swap", hostConfig(`{"MemorySwap":-1}`), ErrUnsupported, "dockerConfig.hostConfig: MemorySwap: not supported"},
		{"swappiness", hostConfig(`{"MemorySwappiness":60}`), ErrUnsupported, "MemorySwappiness"},
		{"cpu quota", hostConfig(`{"CpuQuota":50000,"CpuPeriod":100000,"NanoCpus":1}`), ErrUnsupported, "CpuPeriod, CpuQuota, NanoCpus"},
		{"gpus", hostConfig(`{"DeviceRequests":[{"Driver":"nvidia"}],"Runtime":"nvidia"}`), ErrUnsupported, "DeviceRequests, Runtime"},
		{"pids limit", hostConfig(`{"PidsLimit":100}`), ErrUnsupported, "PidsLimit"},
		{"agent-built keys", hostConfig(`{"Binds":["/a:/b"],"PortBindings":{"80/tcp":[]},"Links":["x"],"VolumesFrom":["y"],"Mounts":[{}]}`),
			ErrUnsupported, "Binds, Links, Mounts, PortBindings, VolumesFrom"},
		{"docker restart policy", hostConfig(`{"RestartPolicy":{"Name":"always"}}`), ErrUnsupported, "RestartPolicy"},
		{"misc refused", hostConfig(`{"GroupAdd":["audio"],"UsernsMode":"host","UTSMode":"host","OomScoreAdj":500,"PublishAllPorts":true,"DnsOptions":["ndots:1"]}`),
			ErrUnsupported, "DnsOptions, GroupAdd, OomScoreAdj, PublishAllPorts, UTSMode, UsernsMode"},
		{"oom kill disable", hostConfig(`{"OomKillDisable":true}`), ErrUnsupported, "OomKillDisable"},
		{"negative memory", hostConfig(`{"Memory":-1}`), ErrInvalidValue, "Memory: invalid value -1"},
		{"negative shm", hostConfig(`{"ShmSize":-5}`), ErrInvalidValue, "ShmSize"},
		{"ulimit without name", hostConfig(`{"Ulimits":[{"Soft":1,"Hard":2}]}`), ErrMissing, "Ulimits[0].Name"},
		{"ulimit soft above hard", hostConfig(`{"Ulimits":[{"Name":"nofile","Soft":10,"Hard":2}]}`), ErrInvalidValue, "Ulimits[0]"},
		{"log options without driver", hostConfig(`{"LogConfig":{"Config":{"a":"b"}}}`), ErrMissing, "LogConfig.Type"},
		{"device without host path", hostConfig(`{"Devices":[{"PathInContainer":"/dev/x"}]}`), ErrMissing, "Devices[0]: PathOnHost"},
		{"device bad permissions", hostConfig(`{"Devices":[{"PathOnHost":"/dev/x","CgroupPermissions":"rx"}]}`), ErrInvalidValue, "CgroupPermissions"},
		{"device repeated permissions", hostConfig(`{"Devices":[{"PathOnHost":"/dev/x","CgroupPermissions":"rr"}]}`), ErrInvalidValue, "CgroupPermissions"},
		{"tmpfs relative", hostConfig(`{"Tmpfs":{"tmp":""}}`), ErrInvalidValue, `Tmpfs["tmp"]`},
		{"tmpfs percent", hostConfig(`{"Tmpfs":{"/t":"size=50%"}}`), ErrUnsupported, "percentage"},
		{"tmpfs bad size", hostConfig(`{"Tmpfs":{"/t":"size=lots"}}`), ErrInvalidValue, "size"},
		{"tmpfs empty size", hostConfig(`{"Tmpfs":{"/t":"size=m"}}`), ErrInvalidValue, "size"},
		{"tmpfs huge size", hostConfig(`{"Tmpfs":{"/t":"size=99999999999999t"}}`), ErrInvalidValue, "size"},
		{"extra host without ip", hostConfig(`{"ExtraHosts":["h"]}`), ErrInvalidValue, "ExtraHosts[0]"},
		{"security option unknown", hostConfig(`{"SecurityOpt":["no-new-privileges","systempaths=unconfined"]}`), ErrUnsupported, `dockerConfig.hostConfig: SecurityOpt[1] "systempaths=unconfined": security option "systempaths": not supported by ecsd`},
		{"security option bare word", hostConfig(`{"SecurityOpt":["privileged"]}`), ErrInvalidValue, `SecurityOpt[0] "privileged": invalid value`},
		{"seccomp profile", hostConfig(`{"SecurityOpt":["seccomp:/etc/profile.json"]}`), ErrUnsupported, "seccomp profile"},
		{"credentialspec", hostConfig(`{"SecurityOpt":["credentialspec:file://x.json"]}`), ErrUnsupported, "Windows"},
		{"nnp not bool", hostConfig(`{"SecurityOpt":["no-new-privileges:yes please"]}`), ErrInvalidValue, "true or false"},
		{"apparmor empty", hostConfig(`{"SecurityOpt":["apparmor:"]}`), ErrMissing, "apparmor profile"},
		{"label bad field", hostConfig(`{"SecurityOpt":["label:colour:red"]}`), ErrInvalidValue, `label field "colour"`},
		{"label no value", hostConfig(`{"SecurityOpt":["label:type:"]}`), ErrInvalidValue, "label:type:T"},
		{"inline non-object", &DockerConfig{HostConfig: Ptr(EmbeddedJSON(`"x"`))}, ErrInvalidJSON, "hostConfig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := baseTask()
			task.Containers[0].DockerConfig = tc.dc
			_, _, err := ToObjects(task, Options{})
			wantErr(t, err, tc.sentinel, tc.substr)
			wantErr(t, err, ErrInvalidTask, "")
		})
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1": 1, "1k": 1 << 10, "2K": 2 << 10, "64m": 64 << 20, "1g": 1 << 30, "1t": 1 << 40} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "k", "-1", "1.5m", "1x", "10%", "9223372036854775807k"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
	for b, want := range map[int64]int64{1: 1, mib: 1, mib + 1: 2, 512 * mib: 512} {
		if got := ceilMiB(b); got != want {
			t.Errorf("ceilMiB(%d) = %d, want %d", b, got, want)
		}
	}
}
