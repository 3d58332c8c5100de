package metadata

import (
	"net/netip"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// Time converts a stored timestamp to the UTC time the endpoints serialise (RFC 3339 with
// nanoseconds); nil or zero becomes nil so that omitempty drops the key.
func Time(t *metav1.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// ImageID is the container's image ID as a "sha256:…" string: the image config's digest,
// as Docker's image ID is, recorded at pull time.
func ImageID(c *api.Container) string {
	if c.Status.ImageID != "" {
		return c.Status.ImageID
	}
	return c.Status.ImageDigest // objects recorded before the config digest was
}

// protocol defaults an empty protocol to tcp, as ECS does.
func protocol(p string) string {
	if p == "" {
		return "tcp"
	}
	return p
}

// PortOptions says which variant of the port list to build.
type PortOptions struct {
	// DefinitionFallback shows the task definition's port mappings while no binding is known
	// yet (introspection v1 only).
	DefinitionFallback bool
	// HostIP fills HostIp from the binding (task metadata v4 only).
	HostIP bool
}

// Ports are the container's known host port bindings. In awsvpc mode the host port is the
// container port, because the ENI is the container's own interface.
func Ports(t *api.Task, c *api.Container, o PortOptions) []PortResponse {
	awsvpc := IsAWSVPC(t)
	var out []PortResponse
	for _, b := range c.Status.NetworkBindings {
		p := PortResponse{ContainerPort: uint16(b.ContainerPort), Protocol: protocol(b.Protocol), HostPort: uint16(b.HostPort)}
		if awsvpc {
			p.HostPort = p.ContainerPort
		}
		if o.HostIP {
			p.HostIP = b.BindIP
		}
		out = append(out, p)
	}
	if len(out) > 0 || !o.DefinitionFallback {
		return out
	}
	for _, m := range c.Spec.PortMappings {
		p := PortResponse{ContainerPort: uint16(m.ContainerPort), Protocol: protocol(m.Protocol), HostPort: uint16(m.HostPort)}
		if awsvpc {
			p.HostPort = p.ContainerPort
		}
		out = append(out, p)
	}
	return out
}

// Volumes are the task volumes mounted into the container (its own mount points and those
// of volumesFrom), resolved the way the create controller resolves them. dataDir is
// ECS_DATADIR; without it, agent-managed volumes show no Source. Only a created container
// has mounts.
func Volumes(t *api.Task, c *api.Container, siblings []*api.Container, dataDir string) []VolumeResponse {
	if !Created(c) {
		return nil
	}
	var out []VolumeResponse
	add := func(mps []api.MountPoint) {
		for _, mp := range mps {
			vol := findVolume(t, mp.SourceVolume)
			if vol == nil {
				continue
			}
			v := VolumeResponse{Source: volumeSource(t, vol, dataDir), Destination: mp.ContainerPath}
			if vol.Type == "docker" {
				v.DockerName = vol.Name
			}
			out = append(out, v)
		}
	}
	add(c.Spec.MountPoints)
	for _, vf := range c.Spec.VolumesFrom {
		for _, s := range siblings {
			if s.Spec.Name == vf.SourceContainer {
				add(s.Spec.MountPoints)
			}
		}
	}
	return out
}

func findVolume(t *api.Task, name string) *api.Volume {
	for i := range t.Spec.Volumes {
		if t.Spec.Volumes[i].Name == name {
			return &t.Spec.Volumes[i]
		}
	}
	return nil
}

// volumeSource mirrors controllers' mount resolution (api.VolumeSource): a host path when
// given, a shared volume's directory, else a directory under the task's data directory.
func volumeSource(t *api.Task, v *api.Volume, dataDir string) string {
	if v.HostSourcePath == "" && dataDir == "" {
		return ""
	}
	return api.VolumeSource(dataDir, t.Name, v)
}

// RestartCount is present only for a container with a restart policy enabled, as in the
// reference agent, and then even when zero.
func RestartCount(c *api.Container) *int {
	if c.Spec.RestartPolicy == nil || !c.Spec.RestartPolicy.Enabled {
		return nil
	}
	n := int(c.Status.RestartCount)
	return &n
}

// AWSVPCNetwork is the network entry of an awsvpc task's containers: the primary ENI's
// addresses, and with v4 the interface properties. It falls back to the address the network
// controller recorded when the Attachment object is not available.
func AWSVPCNetwork(v *TaskView, v4 bool) Network {
	n := Network{NetworkMode: NetworkModeAWSVPC}
	if eni := v.ENI; eni != nil {
		n.IPv4Addresses = eni.Spec.IPv4Addresses
		n.IPv6Addresses = eni.Spec.IPv6Addresses
	} else if tn := v.Task.Status.Network; tn != nil && tn.IPv4Address != "" {
		n.IPv4Addresses = []string{tn.IPv4Address}
	}
	if !v4 {
		return n
	}
	idx := 0
	n.AttachmentIndex = &idx
	if eni := v.ENI; eni != nil {
		n.MACAddress = eni.Spec.MACAddress
		n.IPv4SubnetCIDRBlock = ipv4SubnetCIDR(eni.Spec.SubnetGatewayIPv4)
		n.IPv6SubnetCIDRBlock = ipv6SubnetCIDR(eni.Spec.IPv6Addresses)
		n.DomainNameServers = eni.Spec.DomainNameServers
		n.DomainNameSearchList = eni.Spec.DomainName
		n.PrivateDNSName = eni.Spec.PrivateDNSName
		n.SubnetGatewayIPv4Address = eni.Spec.SubnetGatewayIPv4
	}
	return n
}

// ipv4SubnetCIDR turns ACS's "<gateway>/<prefix>" into the subnet's CIDR block.
func ipv4SubnetCIDR(gw string) string {
	p, err := netip.ParsePrefix(gw)
	if err != nil {
		return ""
	}
	return p.Masked().String()
}

// ipv6SubnetCIDR is the /64 of the first IPv6 address: VPC IPv6 subnets are always /64.
func ipv6SubnetCIDR(addrs []string) string {
	if len(addrs) == 0 {
		return ""
	}
	a, err := netip.ParseAddr(addrs[0])
	if err != nil || !a.Is6() {
		return ""
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ""
	}
	return p.String()
}

// RuntimeNetworks is the network list of a non-awsvpc container, shaped like the reference
// agent's view of `docker inspect`: one entry named after the network mode, with the
// container's address or "" when it has none of its own (host, none, not set up yet).
func RuntimeNetworks(t *api.Task, c *api.Container) []Network {
	ip := ""
	if n := c.Status.Network; n != nil && n.ReleasedAt == nil {
		ip = n.IPv4Address
	}
	return []Network{{NetworkMode: t.NetworkMode(), IPv4Addresses: []string{ip}}}
}
