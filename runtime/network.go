package runtime

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// Network sets up and tears down the network namespaces of bridge and awsvpc tasks;
// runtime/cni's Manager implements it over the CNI plugins, runtime/fake in memory. Setup
// and Teardown are idempotent per ID, so the controllers can call them again after a crash
// without remembering anything.
type Network interface {
	Setup(ctx context.Context, req NetworkRequest) (*NetworkResult, error)
	Teardown(ctx context.Context, id string) error
	// IDs lists every ID that has network state, for the orphan sweep.
	IDs() ([]string, error)
	// Lookup returns the recorded network of id, set up before the agent lost its record of
	// it (adoption); ok is false when there is none.
	Lookup(id string) (res *NetworkResult, ok bool, err error)
}

// Network modes a NetworkRequest asks for.
const (
	NetworkBridge = "bridge"
	NetworkNone   = "none"
	NetworkAWSVPC = "awsvpc"
	NetworkHost   = "host"
)

// DefaultBridgeSubnet is the bridge network when none is configured; its first address is
// the gateway.
const DefaultBridgeSubnet = "172.17.0.0/16"

// EndpointsIfName is the interface of an awsvpc task's leg to the agent's endpoints; it
// carries no task traffic, so metrics leave it out, as the reference agent counts the ENI
// alone.
const EndpointsIfName = "ecs-eth1"

// EndpointsAddress is where tasks reach the agent's endpoints (task metadata, credentials).
const EndpointsAddress = "169.254.170.2"

// Errors a Network maps its failures onto, checked with errors.Is. All of them are the
// task definition's (or the instance's) fault: retrying the same request cannot help.
var (
	// ErrPortAllocated: a requested static host port is held by another task or by a host
	// process. The wrapping error names the port and protocol.
	ErrPortAllocated = errors.New("port is already allocated")
	// ErrPortReserved: a requested static host port is in ECS_RESERVED_PORTS(_UDP).
	ErrPortReserved = errors.New("port is reserved")
	// ErrNoFreePorts: the dynamic range has no free port (or no free block for a range).
	ErrNoFreePorts = errors.New("no free host port in the dynamic range")
	// ErrENINotFound: no interface with the ENI's MAC appeared in the host namespace in time.
	ErrENINotFound = errors.New("ENI not found")
	// ErrInvalidNetworkRequest: the request is malformed (unknown mode, bad port, bad ID...).
	ErrInvalidNetworkRequest = errors.New("invalid network request")
)

// NetworkRequest asks for the network of one ID.
type NetworkRequest struct {
	// ID is stable across agent restarts: a container's object name in bridge mode, the task
	// name in awsvpc mode. It names the namespace and every piece of network state.
	ID string
	// Mode is NetworkBridge, NetworkNone, NetworkAWSVPC or NetworkHost.
	Mode string
	// Ports to publish (bridge mode only).
	Ports []PortMapping
	// ENI is required in awsvpc mode.
	ENI *ENI
}

// PortMapping publishes a container port (or range) on the host.
type PortMapping struct {
	ContainerPort uint16
	// HostPort 0 means a dynamic port from the configured dynamic range.
	HostPort uint16
	// ContainerPortRange "a-b" publishes a range on an equal-sized, contiguous dynamic host
	// range (ContainerPort and HostPort must then be 0).
	ContainerPortRange string
	// Protocol is "tcp" (default) or "udp".
	Protocol string
}

// ENI describes the elastic network interface of an awsvpc task.
type ENI struct {
	// MAC identifies the interface in the host namespace.
	MAC string
	// IPv4 are the addresses in CIDR form, e.g. "10.0.0.5/24"; the first is primary.
	IPv4 []string
	// Gateway is the subnet gateway, used as the default route.
	Gateway string
	// Routes are extra destinations (CIDR) routed via Gateway.
	Routes []string
	// DNSServers, DNSSearch are returned in NetworkResult.DNS for the task's resolv.conf.
	DNSServers, DNSSearch []string
	// WaitTimeout bounds the wait for the interface to appear; zero is the network layer's
	// default.
	WaitTimeout time.Duration
}

// NetworkResult is the network of one ID. Its JSON form is what runtime/cni keeps on disk,
// so field names and tags are part of the state format.
type NetworkResult struct {
	// NetNSPath is the namespace the containers join ("" in host mode).
	NetNSPath string
	// IPv4 is the primary address and Gateway its gateway (zero in none and host mode).
	IPv4    netip.Addr
	Gateway netip.Addr
	// Bindings are the published ports, one per requested mapping (bridge mode).
	Bindings []PortBinding
	// Interface is the ENI's name in the host namespace before it was moved (awsvpc).
	Interface string
	// DNS is what the task's resolv.conf should hold (awsvpc: from the ENI).
	DNS DNS
	// EndpointsIPv4 is an awsvpc task's address on the endpoints bridge: the source address
	// of its requests to EndpointsAddress.
	EndpointsIPv4 netip.Addr `json:",omitzero"`
}

// DNS settings for resolv.conf.
type DNS struct {
	Servers []string `json:",omitempty"`
	Search  []string `json:",omitempty"`
}

// PortBinding is a published port as reported to ECS (NetworkBinding).
type PortBinding struct {
	HostIP             string
	ContainerPort      uint16 `json:",omitempty"`
	HostPort           uint16 `json:",omitempty"`
	ContainerPortRange string `json:",omitempty"`
	HostPortRange      string `json:",omitempty"`
	Protocol           string
}
