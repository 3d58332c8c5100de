package fake

import (
	"context"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"sync"

	"github.com/ecsd/ecsd/runtime"
)

// Network is an in-memory runtime.Network. Setup hands out addresses from 10.88.0.0/16 and
// host ports from 49153 upwards, and is idempotent per ID like the real one. SetupErr and
// TeardownErr, when set, fail every call; Calls records what was asked.
type Network struct {
	mu          sync.Mutex
	nets        map[string]*runtime.NetworkResult
	next        uint16
	SetupErr    error
	TeardownErr error
	Calls       []string
}

var _ runtime.Network = (*Network)(nil)

// NewNetwork returns an empty Network.
func NewNetwork() *Network { return &Network{nets: map[string]*runtime.NetworkResult{}} }

// Setup records the request and returns the ID's network, making it on first use.
func (n *Network) Setup(_ context.Context, req runtime.NetworkRequest) (*runtime.NetworkResult, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.Calls = append(n.Calls, "setup "+req.ID)
	if n.SetupErr != nil {
		return nil, n.SetupErr
	}
	if req.ID == "" {
		return nil, fmt.Errorf("empty ID: %w", runtime.ErrInvalidNetworkRequest)
	}
	if res, ok := n.nets[req.ID]; ok {
		return copyResult(res), nil
	}
	n.next++
	res := &runtime.NetworkResult{
		NetNSPath: path.Join("/run/fake/netns", req.ID),
		IPv4:      netip.AddrFrom4([4]byte{10, 88, byte(n.next >> 8), byte(n.next)}),
		Gateway:   netip.AddrFrom4([4]byte{10, 88, 0, 1}),
	}
	for _, p := range req.Ports {
		host := p.HostPort
		if host == 0 {
			host = 49152 + n.next
		}
		res.Bindings = append(res.Bindings, runtime.PortBinding{HostIP: "0.0.0.0", ContainerPort: p.ContainerPort,
			HostPort: host, ContainerPortRange: p.ContainerPortRange, Protocol: p.Protocol})
	}
	if req.ENI != nil {
		res.Interface = "eth" + fmt.Sprint(n.next)
		res.DNS = runtime.DNS{Servers: req.ENI.DNSServers, Search: req.ENI.DNSSearch}
	}
	n.nets[req.ID] = res
	return copyResult(res), nil
}

// Teardown forgets the ID's network; an unknown ID is success.
func (n *Network) Teardown(_ context.Context, id string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.Calls = append(n.Calls, "teardown "+id)
	if n.TeardownErr != nil {
		return n.TeardownErr
	}
	delete(n.nets, id)
	return nil
}

// IDs lists the IDs with a network, sorted.
func (n *Network) IDs() ([]string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ids := make([]string, 0, len(n.nets))
	for id := range n.nets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// Lookup returns the ID's network.
func (n *Network) Lookup(id string) (*runtime.NetworkResult, bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	res, ok := n.nets[id]
	if !ok {
		return nil, false, nil
	}
	return copyResult(res), true, nil
}

func copyResult(r *runtime.NetworkResult) *runtime.NetworkResult {
	c := *r
	c.Bindings = slices.Clone(r.Bindings)
	return &c
}

// Called reports whether call ("setup ID" or "teardown ID") was made; unlike reading Calls,
// it is safe while the engine is still calling.
func (n *Network) Called(call string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Contains(n.Calls, call)
}
