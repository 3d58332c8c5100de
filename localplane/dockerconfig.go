package localplane

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ecsd/ecsd/controlplane/payload"
)

// ECS does not send most container settings as ACS members: it encodes them as Docker
// Engine API JSON, a container.Config in dockerConfig.config and a container.HostConfig
// in dockerConfig.hostConfig, which the agent decodes over the configuration it builds
// (see controlplane/payload/dockerconfig.go for the reading side). This file writes
// those documents from a container definition, key by key as Docker names them.

// dockerAPIVersion is the Docker API level ECS stamps on the documents.
const dockerAPIVersion = "1.17"

// ECS's health check defaults, in seconds.
const (
	defaultHealthInterval = 30
	defaultHealthTimeout  = 5
	defaultHealthRetries  = 3
)

type dockerConfigDoc struct {
	Hostname        string             `json:"Hostname,omitempty"`
	User            string             `json:"User,omitempty"`
	WorkingDir      string             `json:"WorkingDir,omitempty"`
	Labels          map[string]string  `json:"Labels,omitempty"`
	Healthcheck     *dockerHealthcheck `json:"Healthcheck,omitempty"`
	NetworkDisabled bool               `json:"NetworkDisabled,omitempty"`
	OpenStdin       bool               `json:"OpenStdin,omitempty"`
	Tty             bool               `json:"Tty,omitempty"`
}

// dockerHealthcheck durations are nanoseconds, as in Docker's HealthConfig.
type dockerHealthcheck struct {
	Test        []string `json:"Test"`
	Interval    int64    `json:"Interval"`
	Timeout     int64    `json:"Timeout"`
	StartPeriod int64    `json:"StartPeriod"`
	Retries     int32    `json:"Retries"`
}

type dockerHostConfigDoc struct {
	CapAdd            []string          `json:"CapAdd"`
	CapDrop           []string          `json:"CapDrop"`
	Privileged        bool              `json:"Privileged,omitempty"`
	ReadonlyRootfs    bool              `json:"ReadonlyRootfs,omitempty"`
	DNS               []string          `json:"Dns,omitempty"`
	DNSSearch         []string          `json:"DnsSearch,omitempty"`
	ExtraHosts        []string          `json:"ExtraHosts,omitempty"`
	SecurityOpt       []string          `json:"SecurityOpt,omitempty"`
	Ulimits           []dockerUlimit    `json:"Ulimits,omitempty"`
	LogConfig         *dockerLogConfig  `json:"LogConfig,omitempty"`
	Sysctls           map[string]string `json:"Sysctls,omitempty"`
	MemoryReservation int64             `json:"MemoryReservation,omitempty"`
	Devices           []dockerDevice    `json:"Devices,omitempty"`
	Init              *bool             `json:"Init,omitempty"`
	ShmSize           int64             `json:"ShmSize,omitempty"`
	Tmpfs             map[string]string `json:"Tmpfs,omitempty"`
	MemorySwap        int64             `json:"MemorySwap,omitempty"`
	MemorySwappiness  *int64            `json:"MemorySwappiness,omitempty"`
}

type dockerUlimit struct {
	Name string `json:"Name"`
	Soft int64  `json:"Soft"`
	Hard int64  `json:"Hard"`
}

type dockerLogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config,omitempty"`
}

type dockerDevice struct {
	PathOnHost        string `json:"PathOnHost"`
	PathInContainer   string `json:"PathInContainer,omitempty"`
	CgroupPermissions string `json:"CgroupPermissions,omitempty"`
}

const mib = 1 << 20

// dockerConfig builds a container's dockerConfig from its definition (overrides already
// applied).
func dockerConfig(c *containerDefinition) (*payload.DockerConfig, error) {
	cfg := dockerConfigDoc{
		Hostname:        c.Hostname,
		User:            c.User,
		WorkingDir:      c.WorkingDirectory,
		Labels:          c.DockerLabels,
		NetworkDisabled: deref(c.DisableNetworking),
		OpenStdin:       deref(c.Interactive),
		Tty:             deref(c.PseudoTerminal),
	}
	if hc := c.HealthCheck; hc != nil {
		cfg.Healthcheck = &dockerHealthcheck{
			Test:        hc.Command,
			Interval:    seconds(hc.Interval, defaultHealthInterval),
			Timeout:     seconds(hc.Timeout, defaultHealthTimeout),
			StartPeriod: seconds(hc.StartPeriod, 0),
			Retries:     derefOr(hc.Retries, defaultHealthRetries),
		}
	}
	host := dockerHostConfigDoc{
		CapAdd:         []string{},
		CapDrop:        []string{},
		Privileged:     deref(c.Privileged),
		ReadonlyRootfs: deref(c.ReadonlyRootFilesystem),
		DNS:            c.DNSServers,
		DNSSearch:      c.DNSSearchDomains,
		SecurityOpt:    c.DockerSecurityOptions,
	}
	for _, h := range c.ExtraHosts {
		host.ExtraHosts = append(host.ExtraHosts, h.Hostname+":"+h.IPAddress)
	}
	for _, u := range c.Ulimits {
		host.Ulimits = append(host.Ulimits, dockerUlimit{Name: u.Name, Soft: int64(u.SoftLimit), Hard: int64(u.HardLimit)})
	}
	if lc := c.LogConfiguration; lc != nil {
		host.LogConfig = &dockerLogConfig{Type: lc.LogDriver, Config: lc.Options}
	}
	for _, sc := range c.SystemControls {
		if host.Sysctls == nil {
			host.Sysctls = map[string]string{}
		}
		host.Sysctls[sc.Namespace] = sc.Value
	}
	if c.MemoryReservation != nil {
		host.MemoryReservation = int64(*c.MemoryReservation) * mib
	}
	if lp := c.LinuxParameters; lp != nil {
		linuxHostConfig(&host, lp, c.Memory)
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	hostJSON, err := json.Marshal(host)
	if err != nil {
		return nil, err
	}
	return &payload.DockerConfig{
		Version:    payload.Ptr(dockerAPIVersion),
		Config:     payload.Ptr(payload.EmbeddedJSON(cfgJSON)),
		HostConfig: payload.Ptr(payload.EmbeddedJSON(hostJSON)),
	}, nil
}

// linuxHostConfig adds the linuxParameters to the host config.
func linuxHostConfig(host *dockerHostConfigDoc, lp *linuxParameters, memory *int32) {
	if caps := lp.Capabilities; caps != nil {
		host.CapAdd = append(host.CapAdd, caps.Add...)
		host.CapDrop = append(host.CapDrop, caps.Drop...)
	}
	for _, d := range lp.Devices {
		host.Devices = append(host.Devices, dockerDevice{PathOnHost: d.HostPath, PathInContainer: d.ContainerPath,
			CgroupPermissions: cgroupPermissions(d.Permissions)})
	}
	host.Init = lp.InitProcessEnabled
	if lp.SharedMemorySize != nil {
		host.ShmSize = int64(*lp.SharedMemorySize) * mib
	}
	for _, t := range lp.Tmpfs {
		if host.Tmpfs == nil {
			host.Tmpfs = map[string]string{}
		}
		opts := append([]string{"size=" + strconv.Itoa(int(t.Size)) + "m"}, t.MountOptions...)
		host.Tmpfs[t.ContainerPath] = strings.Join(opts, ",")
	}
	if lp.MaxSwap != nil && memory != nil {
		// Docker's MemorySwap is memory plus swap.
		host.MemorySwap = int64(*memory+*lp.MaxSwap) * mib
	}
	if lp.Swappiness != nil {
		host.MemorySwappiness = ptr(int64(*lp.Swappiness))
	}
}

// cgroupPermissions turns ["read","write","mknod"] into Docker's "rwm"; none means all.
func cgroupPermissions(perms []string) string {
	if len(perms) == 0 {
		return "rwm"
	}
	var out []string
	for _, p := range perms {
		switch p {
		case "read":
			out = append(out, "r")
		case "write":
			out = append(out, "w")
		case "mknod":
			out = append(out, "m")
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.Index("rwm", out[i]) < strings.Index("rwm", out[j]) })
	return strings.Join(out, "")
}

func seconds(v *int32, def int32) int64 {
	return int64(derefOr(v, def)) * int64(time.Second)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func derefOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
