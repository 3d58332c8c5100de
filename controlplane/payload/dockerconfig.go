package payload

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// The backend puts many task-definition settings only in container.dockerConfig, as Docker
// Engine API JSON: a container.Config in "config" and a container.HostConfig in
// "hostConfig". The reference agent builds its own Config/HostConfig from the first-class
// members and then json.Unmarshals the backend's strings on top, so the backend wins for
// every key it sends. ecsd parses the same JSON with the same decoder (encoding/json:
// keys match field names case-insensitively, unknown keys are ignored) into the typed
// ContainerSpec fields, member by member, keeping "backend wins".
//
// Keys fall in three groups:
//   - mapped: turned into ContainerSpec fields (see dockerContainerConfig and
//     dockerHostConfig for the list);
//   - ignored: set by the agent from the task (NetworkMode, IpcMode, PidMode), Windows-only,
//     or without effect on a detached container (Attach*, StdinOnce, ExposedPorts, Image,
//     AutoRemove, ConsoleSize, SecurityOpt, ...);
//   - refused: anything ecsd cannot honour that changes how the container runs (swap and
//     CPU quota limits, GPUs, tty, extra mounts, a custom runtime, ...). A non-zero value
//     there fails the task with ErrUnsupported rather than running it differently.

// strSlice is Docker's strslice.StrSlice: a JSON string or array of strings.
type strSlice []string

func (s *strSlice) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = strSlice{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// dockerContainerConfig is the part of Docker's container.Config ecsd reads.
type dockerContainerConfig struct {
	// Mapped.
	Hostname    string             `json:"Hostname"`
	User        string             `json:"User"`
	Env         []string           `json:"Env"`
	Cmd         *strSlice          `json:"Cmd"`
	Entrypoint  *strSlice          `json:"Entrypoint"`
	Healthcheck *dockerHealthcheck `json:"Healthcheck"`
	WorkingDir  string             `json:"WorkingDir"`
	Labels      map[string]string  `json:"Labels"`
	StopTimeout *int64             `json:"StopTimeout"`
	// Refused when set.
	Domainname      string              `json:"Domainname"`
	Tty             bool                `json:"Tty"`
	OpenStdin       bool                `json:"OpenStdin"`
	Volumes         map[string]struct{} `json:"Volumes"`
	NetworkDisabled bool                `json:"NetworkDisabled"`
	MacAddress      string              `json:"MacAddress"`
	StopSignal      string              `json:"StopSignal"`
}

// dockerHealthcheck is Docker's HealthConfig; durations are nanoseconds.
type dockerHealthcheck struct {
	Test        []string `json:"Test"`
	Interval    int64    `json:"Interval"`
	Timeout     int64    `json:"Timeout"`
	StartPeriod int64    `json:"StartPeriod"`
	Retries     int64    `json:"Retries"`
}

// dockerHostConfig is the part of Docker's container.HostConfig (with its embedded
// Resources) ecsd reads.
type dockerHostConfig struct {
	// Mapped.
	LogConfig         *dockerLogConfig  `json:"LogConfig"`
	CapAdd            *strSlice         `json:"CapAdd"`
	CapDrop           *strSlice         `json:"CapDrop"`
	DNS               []string          `json:"Dns"`
	DNSSearch         []string          `json:"DnsSearch"`
	ExtraHosts        []string          `json:"ExtraHosts"`
	Privileged        *bool             `json:"Privileged"`
	ReadonlyRootfs    *bool             `json:"ReadonlyRootfs"`
	Tmpfs             map[string]string `json:"Tmpfs"`
	ShmSize           int64             `json:"ShmSize"`
	Sysctls           map[string]string `json:"Sysctls"`
	CPUShares         int64             `json:"CpuShares"`
	Memory            int64             `json:"Memory"`
	MemoryReservation int64             `json:"MemoryReservation"`
	Devices           *[]dockerDevice   `json:"Devices"`
	Ulimits           []dockerUlimit    `json:"Ulimits"`
	Init              *bool             `json:"Init"`
	// ECS's dockerSecurityOptions; see securityOptions.
	SecurityOpt []string `json:"SecurityOpt"`
	// Refused when set: the agent builds these from first-class members itself.
	Binds        []string                   `json:"Binds"`
	PortBindings map[string]json.RawMessage `json:"PortBindings"`
	Links        []string                   `json:"Links"`
	VolumesFrom  []string                   `json:"VolumesFrom"`
	Mounts       []json.RawMessage          `json:"Mounts"`
	// Refused when set: no equivalent in ContainerSpec.
	RestartPolicy        *dockerRestartPolicy `json:"RestartPolicy"`
	VolumeDriver         string               `json:"VolumeDriver"`
	DNSOptions           []string             `json:"DnsOptions"`
	GroupAdd             []string             `json:"GroupAdd"`
	UTSMode              string               `json:"UTSMode"`
	UsernsMode           string               `json:"UsernsMode"`
	OomScoreAdj          int64                `json:"OomScoreAdj"`
	PublishAllPorts      bool                 `json:"PublishAllPorts"`
	StorageOpt           map[string]string    `json:"StorageOpt"`
	Runtime              string               `json:"Runtime"`
	MaskedPaths          []string             `json:"MaskedPaths"`
	ReadonlyPaths        []string             `json:"ReadonlyPaths"`
	CgroupParent         string               `json:"CgroupParent"`
	NanoCPUs             int64                `json:"NanoCpus"`
	CPUPeriod            int64                `json:"CpuPeriod"`
	CPUQuota             int64                `json:"CpuQuota"`
	CPURealtimePeriod    int64                `json:"CpuRealtimePeriod"`
	CPURealtimeRuntime   int64                `json:"CpuRealtimeRuntime"`
	CpusetCpus           string               `json:"CpusetCpus"`
	CpusetMems           string               `json:"CpusetMems"`
	BlkioWeight          int64                `json:"BlkioWeight"`
	BlkioWeightDevice    []json.RawMessage    `json:"BlkioWeightDevice"`
	BlkioDeviceReadBps   []json.RawMessage    `json:"BlkioDeviceReadBps"`
	BlkioDeviceWriteBps  []json.RawMessage    `json:"BlkioDeviceWriteBps"`
	BlkioDeviceReadIOps  []json.RawMessage    `json:"BlkioDeviceReadIOps"`
	BlkioDeviceWriteIOps []json.RawMessage    `json:"BlkioDeviceWriteIOps"`
	DeviceCgroupRules    []string             `json:"DeviceCgroupRules"`
	DeviceRequests       []json.RawMessage    `json:"DeviceRequests"`
	KernelMemory         int64                `json:"KernelMemory"`
	KernelMemoryTCP      int64                `json:"KernelMemoryTCP"`
	MemorySwap           int64                `json:"MemorySwap"`
	MemorySwappiness     *int64               `json:"MemorySwappiness"`
	OomKillDisable       *bool                `json:"OomKillDisable"`
	PidsLimit            *int64               `json:"PidsLimit"`
}

type dockerLogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

type dockerDevice struct {
	PathOnHost        string `json:"PathOnHost"`
	PathInContainer   string `json:"PathInContainer"`
	CgroupPermissions string `json:"CgroupPermissions"`
}

type dockerUlimit struct {
	Name string `json:"Name"`
	Hard int64  `json:"Hard"`
	Soft int64  `json:"Soft"`
}

type dockerRestartPolicy struct {
	Name              string `json:"Name"`
	MaximumRetryCount int64  `json:"MaximumRetryCount"`
}

const mib = 1 << 20

// applyDockerConfig parses both blobs and applies them over s.
func applyDockerConfig(s *v1alpha1.ContainerSpec, dc *DockerConfig) error {
	if dc == nil {
		return nil
	}
	if !dc.Config.empty() {
		var cfg dockerContainerConfig
		if err := json.Unmarshal([]byte(*dc.Config), &cfg); err != nil {
			return fmt.Errorf("dockerConfig.config: %w: %w", ErrInvalidJSON, err)
		}
		if err := applyContainerConfig(s, &cfg); err != nil {
			return fmt.Errorf("dockerConfig.config: %w", err)
		}
	}
	if !dc.HostConfig.empty() {
		var hc dockerHostConfig
		if err := json.Unmarshal([]byte(*dc.HostConfig), &hc); err != nil {
			return fmt.Errorf("dockerConfig.hostConfig: %w: %w", ErrInvalidJSON, err)
		}
		if err := applyHostConfig(s, &hc); err != nil {
			return fmt.Errorf("dockerConfig.hostConfig: %w", err)
		}
	}
	return nil
}

// refuse returns ErrUnsupported naming every set key, or nil.
func refuse(set map[string]bool) error {
	var keys []string
	for k, on := range set {
		if on {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	return fmt.Errorf("%s: %w", strings.Join(keys, ", "), ErrUnsupported)
}

func applyContainerConfig(s *v1alpha1.ContainerSpec, c *dockerContainerConfig) error {
	if err := refuse(map[string]bool{
		"Domainname":      c.Domainname != "",
		"Tty":             c.Tty,
		"OpenStdin":       c.OpenStdin,
		"Volumes":         len(c.Volumes) > 0,
		"NetworkDisabled": c.NetworkDisabled,
		"MacAddress":      c.MacAddress != "",
		"StopSignal":      c.StopSignal != "",
	}); err != nil {
		return err
	}
	if c.Hostname != "" {
		s.Hostname = c.Hostname
	}
	if c.User != "" {
		s.User = c.User
	}
	if c.WorkingDir != "" {
		s.WorkingDir = c.WorkingDir
	}
	if c.Cmd != nil {
		s.Command = copySlice([]string(*c.Cmd))
	}
	if c.Entrypoint != nil {
		s.EntryPoint = copySlice([]string(*c.Entrypoint))
	}
	if len(c.Labels) > 0 {
		if s.Labels == nil {
			s.Labels = make(map[string]string, len(c.Labels))
		}
		for k, v := range c.Labels {
			s.Labels[k] = v
		}
	}
	for i, kv := range c.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("Env[%d]: %w (want KEY=VALUE)", i, ErrInvalidValue)
		}
		if err := checkEnvName(k); err != nil {
			return fmt.Errorf("Env[%d]: %w", i, err)
		}
		if s.Environment == nil {
			s.Environment = make(map[string]string, len(c.Env))
		}
		s.Environment[k] = v
	}
	if c.StopTimeout != nil {
		if *c.StopTimeout < 0 {
			return fmt.Errorf("StopTimeout: %w %d (want >= 0)", ErrInvalidValue, *c.StopTimeout)
		}
		s.StopTimeout = *c.StopTimeout
	}
	if h := c.Healthcheck; h != nil {
		hc, err := healthCheck(h)
		if err != nil {
			return fmt.Errorf("Healthcheck: %w", err)
		}
		s.HealthCheck = hc
	}
	return nil
}

// healthCheck converts Docker's health check. An empty Test means "inherit the image's"
// in Docker and is kept as such; ["NONE"] disables the check.
func healthCheck(h *dockerHealthcheck) (*v1alpha1.HealthCheck, error) {
	for _, d := range []struct {
		name string
		v    int64
	}{{"Interval", h.Interval}, {"Timeout", h.Timeout}, {"StartPeriod", h.StartPeriod}} {
		if d.v < 0 {
			return nil, fmt.Errorf("%s: %w %d (want >= 0 nanoseconds)", d.name, ErrInvalidValue, d.v)
		}
	}
	if h.Retries < 0 || h.Retries > math.MaxInt32 {
		return nil, fmt.Errorf("Retries: %w %d", ErrInvalidValue, h.Retries)
	}
	if len(h.Test) > 0 {
		switch h.Test[0] {
		case "NONE", "CMD", "CMD-SHELL":
		default:
			return nil, fmt.Errorf("Test: %w %q (want NONE, CMD or CMD-SHELL first)", ErrInvalidValue, h.Test[0])
		}
	}
	return &v1alpha1.HealthCheck{
		Test:        copySlice(h.Test),
		Interval:    metav1.Duration{Duration: time.Duration(h.Interval)},
		Timeout:     metav1.Duration{Duration: time.Duration(h.Timeout)},
		StartPeriod: metav1.Duration{Duration: time.Duration(h.StartPeriod)},
		Retries:     int32(h.Retries),
	}, nil
}

func applyHostConfig(s *v1alpha1.ContainerSpec, h *dockerHostConfig) error {
	restart := h.RestartPolicy != nil && h.RestartPolicy.Name != "" && h.RestartPolicy.Name != "no"
	if err := refuse(map[string]bool{
		"Binds":                len(h.Binds) > 0,
		"PortBindings":         len(h.PortBindings) > 0,
		"Links":                len(h.Links) > 0,
		"VolumesFrom":          len(h.VolumesFrom) > 0,
		"Mounts":               len(h.Mounts) > 0,
		"RestartPolicy":        restart,
		"VolumeDriver":         h.VolumeDriver != "",
		"DnsOptions":           len(h.DNSOptions) > 0,
		"GroupAdd":             len(h.GroupAdd) > 0,
		"UTSMode":              h.UTSMode != "",
		"UsernsMode":           h.UsernsMode != "",
		"OomScoreAdj":          h.OomScoreAdj != 0,
		"PublishAllPorts":      h.PublishAllPorts,
		"StorageOpt":           len(h.StorageOpt) > 0,
		"Runtime":              h.Runtime != "",
		"MaskedPaths":          len(h.MaskedPaths) > 0,
		"ReadonlyPaths":        len(h.ReadonlyPaths) > 0,
		"CgroupParent":         h.CgroupParent != "",
		"NanoCpus":             h.NanoCPUs != 0,
		"CpuPeriod":            h.CPUPeriod != 0,
		"CpuQuota":             h.CPUQuota != 0,
		"CpuRealtimePeriod":    h.CPURealtimePeriod != 0,
		"CpuRealtimeRuntime":   h.CPURealtimeRuntime != 0,
		"CpusetCpus":           h.CpusetCpus != "",
		"CpusetMems":           h.CpusetMems != "",
		"BlkioWeight":          h.BlkioWeight != 0,
		"BlkioWeightDevice":    len(h.BlkioWeightDevice) > 0,
		"BlkioDeviceReadBps":   len(h.BlkioDeviceReadBps) > 0,
		"BlkioDeviceWriteBps":  len(h.BlkioDeviceWriteBps) > 0,
		"BlkioDeviceReadIOps":  len(h.BlkioDeviceReadIOps) > 0,
		"BlkioDeviceWriteIOps": len(h.BlkioDeviceWriteIOps) > 0,
		"DeviceCgroupRules":    len(h.DeviceCgroupRules) > 0,
		"DeviceRequests":       len(h.DeviceRequests) > 0,
		"KernelMemory":         h.KernelMemory != 0,
		"KernelMemoryTCP":      h.KernelMemoryTCP != 0,
		"MemorySwap":           h.MemorySwap != 0,
		// -1 is Docker's "inherit", the same as unset.
		"MemorySwappiness": h.MemorySwappiness != nil && *h.MemorySwappiness != -1,
		"OomKillDisable":   h.OomKillDisable != nil && *h.OomKillDisable,
		// 0 and -1 both mean unlimited.
		"PidsLimit": h.PidsLimit != nil && *h.PidsLimit > 0,
	}); err != nil {
		return err
	}

	if h.Privileged != nil {
		s.Privileged = *h.Privileged
	}
	if h.SecurityOpt != nil {
		so, err := securityOptions(h.SecurityOpt)
		if err != nil {
			return err
		}
		s.SecurityOptions = so
	}
	if h.ReadonlyRootfs != nil {
		s.ReadonlyRootFS = *h.ReadonlyRootfs
	}
	if h.DNS != nil {
		s.DNSServers = copySlice(h.DNS)
	}
	if h.DNSSearch != nil {
		s.DNSSearch = copySlice(h.DNSSearch)
	}
	if h.ExtraHosts != nil {
		for i, eh := range h.ExtraHosts {
			// Docker's "host:ip" (the IP may itself contain colons) or newer "host=ip".
			sep := ":"
			if strings.Contains(eh, "=") {
				sep = "="
			}
			if host, ip, ok := strings.Cut(eh, sep); !ok || host == "" || ip == "" {
				return fmt.Errorf("ExtraHosts[%d]: %w %q (want host:ip)", i, ErrInvalidValue, eh)
			}
		}
		s.ExtraHosts = copySlice(h.ExtraHosts)
	}
	if len(h.Sysctls) > 0 {
		s.Sysctls = copyMap(h.Sysctls)
	}
	// Zero means "not set" in Docker for these limits; the first-class value stays.
	for _, l := range []struct {
		name string
		v    int64
	}{{"CpuShares", h.CPUShares}, {"Memory", h.Memory}, {"MemoryReservation", h.MemoryReservation}, {"ShmSize", h.ShmSize}} {
		if l.v < 0 {
			return fmt.Errorf("%s: %w %d (want >= 0)", l.name, ErrInvalidValue, l.v)
		}
	}
	if h.CPUShares > 0 {
		s.CPU = h.CPUShares
	}
	if h.Memory > 0 {
		s.Memory = ceilMiB(h.Memory)
	}
	if h.MemoryReservation > 0 {
		s.MemoryReservation = ceilMiB(h.MemoryReservation)
	}
	if h.LogConfig != nil && (h.LogConfig.Type != "" || len(h.LogConfig.Config) > 0) {
		if h.LogConfig.Type == "" {
			return fmt.Errorf("LogConfig.Type: %w", ErrMissing)
		}
		s.LogConfig = &v1alpha1.LogConfig{Driver: h.LogConfig.Type, Options: copyMap(h.LogConfig.Config)}
	}
	for i, u := range h.Ulimits {
		if u.Name == "" {
			return fmt.Errorf("Ulimits[%d].Name: %w", i, ErrMissing)
		}
		if u.Hard >= 0 && u.Soft > u.Hard {
			return fmt.Errorf("Ulimits[%d]: %w: soft limit %d above hard limit %d", i, ErrInvalidValue, u.Soft, u.Hard)
		}
		s.Ulimits = append(s.Ulimits, v1alpha1.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}

	lp := s.LinuxParameters
	if lp == nil {
		lp = &v1alpha1.LinuxParameters{}
	}
	if h.CapAdd != nil {
		lp.CapAdd = copySlice([]string(*h.CapAdd))
	}
	if h.CapDrop != nil {
		lp.CapDrop = copySlice([]string(*h.CapDrop))
	}
	if h.Init != nil {
		lp.InitProcessEnabled = *h.Init
	}
	if h.ShmSize > 0 {
		lp.SharedMemorySize = ceilMiB(h.ShmSize)
	}
	if h.Devices != nil {
		lp.Devices = nil
		for i, d := range *h.Devices {
			dev, err := device(d)
			if err != nil {
				return fmt.Errorf("Devices[%d]: %w", i, err)
			}
			lp.Devices = append(lp.Devices, dev)
		}
	}
	if len(h.Tmpfs) > 0 {
		paths := make([]string, 0, len(h.Tmpfs))
		for p := range h.Tmpfs {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		lp.Tmpfs = nil
		for _, p := range paths {
			t, err := tmpfs(p, h.Tmpfs[p])
			if err != nil {
				return fmt.Errorf("Tmpfs[%q]: %w", p, err)
			}
			lp.Tmpfs = append(lp.Tmpfs, t)
		}
	}
	s.LinuxParameters = lp
	return nil
}

// ceilMiB converts bytes to MiB, rounding up so a limit is never tightened.
func ceilMiB(b int64) int64 {
	return b/mib + min(b%mib, 1)
}

// device converts a Docker device mapping; CgroupPermissions "rwm" become read, write,
// mknod (empty means Docker's default, all three).
func device(d dockerDevice) (v1alpha1.Device, error) {
	if d.PathOnHost == "" {
		return v1alpha1.Device{}, fmt.Errorf("PathOnHost: %w", ErrMissing)
	}
	out := v1alpha1.Device{HostPath: d.PathOnHost, ContainerPath: d.PathInContainer}
	seen := map[rune]bool{}
	for _, r := range d.CgroupPermissions {
		if seen[r] {
			return out, fmt.Errorf("CgroupPermissions: %w %q", ErrInvalidValue, d.CgroupPermissions)
		}
		seen[r] = true
		switch r {
		case 'r':
			out.Permissions = append(out.Permissions, "read")
		case 'w':
			out.Permissions = append(out.Permissions, "write")
		case 'm':
			out.Permissions = append(out.Permissions, "mknod")
		default:
			return out, fmt.Errorf("CgroupPermissions: %w %q (want letters of rwm)", ErrInvalidValue, d.CgroupPermissions)
		}
	}
	return out, nil
}

// tmpfs converts one Docker tmpfs entry (path → comma-separated mount options). "size="
// becomes Size in MiB; the other options are kept in order.
func tmpfs(path, opts string) (v1alpha1.Tmpfs, error) {
	if !strings.HasPrefix(path, "/") {
		return v1alpha1.Tmpfs{}, fmt.Errorf("%w: path %q (want an absolute path)", ErrInvalidValue, path)
	}
	out := v1alpha1.Tmpfs{ContainerPath: path}
	for _, o := range strings.Split(opts, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if v, ok := strings.CutPrefix(o, "size="); ok {
			n, err := parseSize(v)
			if err != nil {
				return out, err
			}
			out.Size = ceilMiB(n)
			continue
		}
		out.MountOptions = append(out.MountOptions, o)
	}
	return out, nil
}

// parseSize parses a tmpfs size the way the kernel does: a byte count with an optional
// k, m, g or t suffix (binary multiples). Percentages of RAM have no MiB equivalent.
func parseSize(v string) (int64, error) {
	if strings.HasSuffix(v, "%") {
		return 0, fmt.Errorf("size %q: %w (percentage of memory)", v, ErrUnsupported)
	}
	shift := 0
	if n := len(v); n > 0 {
		switch v[n-1] {
		case 'k', 'K':
			shift = 10
		case 'm', 'M':
			shift = 20
		case 'g', 'G':
			shift = 30
		case 't', 'T':
			shift = 40
		}
		if shift > 0 {
			v = v[:n-1]
		}
	}
	if v == "" {
		return 0, fmt.Errorf("size: %w (empty)", ErrInvalidValue)
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' || n > (math.MaxInt64-9)/10 {
			return 0, fmt.Errorf("size: %w %q", ErrInvalidValue, v)
		}
		n = n*10 + int64(c-'0')
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("size: %w %q (too large)", ErrInvalidValue, v)
	}
	return n << shift, nil
}
