package metadata

// PortResponse is one port of a container. All four keys are omitempty on the wire; HostIp
// is only filled by task metadata v4.
type PortResponse struct {
	ContainerPort uint16 `json:"ContainerPort,omitempty"`
	Protocol      string `json:"Protocol,omitempty"`
	HostPort      uint16 `json:"HostPort,omitempty"`
	HostIP        string `json:"HostIp,omitempty"`
}

// VolumeResponse is one volume mounted into a container.
type VolumeResponse struct {
	DockerName  string `json:"DockerName,omitempty"`
	Source      string `json:"Source,omitempty"`
	Destination string `json:"Destination,omitempty"`
}

// Network is a container's network. The first three keys are the v1/v2/v3 shape; the rest
// are the network interface properties only task metadata v4 adds for awsvpc tasks, so one
// type serves every version: older versions simply never fill them.
type Network struct {
	NetworkMode   string   `json:"NetworkMode,omitempty"`
	IPv4Addresses []string `json:"IPv4Addresses,omitempty"`
	IPv6Addresses []string `json:"IPv6Addresses,omitempty"`

	AttachmentIndex          *int     `json:"AttachmentIndex,omitempty"`
	MACAddress               string   `json:"MACAddress,omitempty"`
	IPv4SubnetCIDRBlock      string   `json:"IPv4SubnetCIDRBlock,omitempty"`
	IPv6SubnetCIDRBlock      string   `json:"IPv6SubnetCIDRBlock,omitempty"`
	DomainNameServers        []string `json:"DomainNameServers,omitempty"`
	DomainNameSearchList     []string `json:"DomainNameSearchList,omitempty"`
	PrivateDNSName           string   `json:"PrivateDNSName,omitempty"`
	SubnetGatewayIPv4Address string   `json:"SubnetGatewayIpv4Address,omitempty"`
	SubnetGatewayIPv6Address string   `json:"SubnetGatewayIpv6Address,omitempty"`
}
