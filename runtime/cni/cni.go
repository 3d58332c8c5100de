//go:build linux

// Package cni sets up task and container networking over libcni and the standard CNI plugin
// binaries (Debian's containernetworking-plugins, v1.1.1 or later).
//
// Modes:
//
//   - bridge: one network namespace per container, attached to a Linux bridge by the bridge
//     plugin (gateway, IP masquerade, hairpin) with host-local IPAM, and published ports by the
//     portmap plugin. Host ports are allocated here, static or dynamic, and each one is held by
//     a socket bound on 0.0.0.0 in the host namespace while allocated, so no host process can
//     take it and a port a host process already uses is refused clearly.
//   - none: one namespace with only loopback up.
//   - awsvpc: one namespace per task; the ENI, found in the host namespace by MAC address, is
//     moved in by the host-device plugin and configured by static IPAM from the payload.
//   - host: nothing to do.
//
// State survives an agent crash or restart: namespaces are bind-mounted files under
// StateDir/netns, libcni caches every ADD under StateDir/cache (so a DEL needs only the ID),
// host-local keeps its leases under StateDir/ipam, and a small JSON record per ID under
// StateDir/ids is written before the ADD, so even an ADD interrupted half-way can be deleted.
// New rebuilds the host port bookkeeping from those records (and the libcni cache) and
// reopens the port-holding sockets; IDs lists everything that has state, so the agent can tear
// down orphans.
//
// Plugins are executed with the network namespace of the calling OS thread as their "host"
// namespace. Options.HostNetNS names a different one (tests run everything inside a throwaway
// namespace); every plugin call, port holder, interface lookup and iptables call then happens
// in that namespace.
//
// Known plugin limits respected here: the bridge plugin never deletes its bridge (left in
// place, shared by all containers); portmap's CHECK is broken on IPv4-only hosts in plugins
// 1.1.1, so CHECK is never called; the shared CNI-HOSTPORT-* chains are never flushed.
package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/internal/netns"
	"github.com/ecsd/ecsd/runtime"
)

// Errors callers check with errors.Is: the runtime package's, so the controllers need
// not import this package to tell them apart.
var (
	ErrPortAllocated  = runtime.ErrPortAllocated
	ErrPortReserved   = runtime.ErrPortReserved
	ErrNoFreePorts    = runtime.ErrNoFreePorts
	ErrENINotFound    = runtime.ErrENINotFound
	ErrInvalidRequest = runtime.ErrInvalidNetworkRequest
)

// Network modes.
const (
	ModeBridge = runtime.NetworkBridge
	ModeNone   = runtime.NetworkNone
	ModeAWSVPC = runtime.NetworkAWSVPC
	ModeHost   = runtime.NetworkHost
)

// Defaults applied by New to zero Options fields.
const (
	DefaultPluginDir    = "/usr/lib/cni"
	DefaultBridgeName   = "ecsd0"
	DefaultENIWait      = 30 * time.Second
	fallbackDynamicLow  = 49153
	fallbackDynamicHigh = 65535
)

// DefaultBridgeSubnet is the bridge network used when Options.BridgeSubnet is zero; its first
// address is the gateway.
const DefaultBridgeSubnet = runtime.DefaultBridgeSubnet

// IMDSAddress is the instance metadata service that tasks are kept from unless AllowIMDS.
const IMDSAddress = "169.254.169.254"

// containerIfName is the interface name inside every task namespace.
const containerIfName = "eth0"

// EndpointsIfName is runtime.EndpointsIfName, the awsvpc task's leg to the endpoints.
const EndpointsIfName = runtime.EndpointsIfName

// EndpointsAddress is where tasks reach the agent's endpoints (task metadata, credentials).
const EndpointsAddress = runtime.EndpointsAddress

// Defaults of the awsvpc endpoints bridge: the link-local range the reference agent's
// ecs-bridge uses, so nothing in a VPC collides with it.
const (
	DefaultEndpointsBridge = "ecsd-ep0"
	DefaultEndpointsSubnet = "169.254.172.0/22"
)

// Options configure a Manager. Zero values get the documented defaults.
type Options struct {
	// PluginDirs are searched for plugin binaries (ECS_CNI_PLUGINS_PATH); default /usr/lib/cni.
	PluginDirs []string
	// StateDir holds everything that must survive an agent restart: netns files (netns/),
	// the libcni cache (cache/), host-local leases (ipam/) and per-ID records (ids/). Required.
	StateDir string
	// HostNetNS is the path of the namespace treated as the host's; "" means the namespace of
	// the calling thread (the agent's own).
	HostNetNS string
	// BridgeName is the bridge for bridge mode; default "ecsd0".
	BridgeName string
	// BridgeSubnet is the bridge network; default 172.17.0.0/16, gateway at its first address.
	BridgeSubnet netip.Prefix
	// DynamicPorts is the inclusive host port range for dynamic mappings
	// (ECS_DYNAMIC_HOST_PORT_RANGE); zero reads the host's net.ipv4.ip_local_port_range,
	// falling back to 49153-65535, as the ECS agent does.
	DynamicPorts [2]uint16
	// ReservedTCP and ReservedUDP are never handed out, and static requests for them are
	// refused (ECS_RESERVED_PORTS, ECS_RESERVED_PORTS_UDP).
	ReservedTCP, ReservedUDP []uint16
	// EndpointsBridge and EndpointsSubnet carry awsvpc tasks' second leg, which routes only
	// EndpointsAddress to the host; defaults ecsd-ep0 and 169.254.172.0/22.
	EndpointsBridge string
	EndpointsSubnet netip.Prefix
	// AllowIMDS lets tasks reach 169.254.169.254. The zero value blocks it (the secure
	// default): bridge mode with a DROP rule for forwarded traffic from the bridge in the host
	// namespace, awsvpc and none with an unreachable route inside the task namespace.
	AllowIMDS bool
	// BlockAWSVPCIMDS blocks it for awsvpc tasks even with AllowIMDS (ECS_AWSVPC_BLOCK_IMDS).
	BlockAWSVPCIMDS bool
	// Logger receives structured logs; the zero value discards them.
	Logger logr.Logger
}

// The request and result types are the runtime package's (runtime.Network), which
// Manager implements; the names here keep this package's code and tests short.
type (
	Request     = runtime.NetworkRequest
	PortMapping = runtime.PortMapping
	ENI         = runtime.ENI
	Result      = runtime.NetworkResult
	DNS         = runtime.DNS
	Binding     = runtime.PortBinding
)

// Manager implements runtime.Network.
var _ runtime.Network = (*Manager)(nil)

// Manager sets up and tears down networks. It is safe for concurrent use; calls for the same
// ID are serialised.
type Manager struct {
	opts    Options
	log     logr.Logger
	cni     *libcni.CNIConfig
	dynamic [2]uint16

	mu      sync.Mutex // guards idLocks and ports
	idLocks map[string]*idLock
	ports   *portTable

	// hostportMu serialises port-publishing ADDs until one has succeeded: the portmap
	// plugin creates its shared CNI-HOSTPORT-* chains with a check-then-create that fails
	// ("File exists") when two ADDs race on a host that has none yet. Once they exist,
	// ADDs run in parallel (hostportReady).
	hostportMu    sync.Mutex
	hostportReady atomic.Bool
}

type idLock struct {
	ch   chan struct{}
	refs int
}

// New returns a Manager over opts.StateDir, rebuilding host port bookkeeping from the records
// left by earlier runs and reopening their port-holding sockets. ctx bounds start-up.
func New(ctx context.Context, opts Options) (*Manager, error) {
	if opts.StateDir == "" {
		return nil, fmt.Errorf("cni: StateDir is required")
	}
	if len(opts.PluginDirs) == 0 {
		opts.PluginDirs = []string{DefaultPluginDir}
	}
	if opts.BridgeName == "" {
		opts.BridgeName = DefaultBridgeName
	}
	if opts.EndpointsBridge == "" {
		opts.EndpointsBridge = DefaultEndpointsBridge
	}
	if !opts.EndpointsSubnet.IsValid() {
		opts.EndpointsSubnet = netip.MustParsePrefix(DefaultEndpointsSubnet)
	}
	if !opts.BridgeSubnet.IsValid() {
		opts.BridgeSubnet = netip.MustParsePrefix(DefaultBridgeSubnet)
	}
	opts.BridgeSubnet = opts.BridgeSubnet.Masked()
	if !opts.BridgeSubnet.Addr().Is4() || opts.BridgeSubnet.Bits() > 30 {
		return nil, fmt.Errorf("cni: bridge subnet %s: need an IPv4 network of at least /30", opts.BridgeSubnet)
	}
	for _, d := range []string{"netns", "cache", "ipam", "ids"} {
		if err := os.MkdirAll(filepath.Join(opts.StateDir, d), 0o700); err != nil {
			return nil, fmt.Errorf("cni: state dir: %w", err)
		}
	}
	m := &Manager{
		opts:    opts,
		log:     opts.Logger.WithName("cni"),
		idLocks: map[string]*idLock{},
	}
	m.cni = libcni.NewCNIConfigWithCacheDir(opts.PluginDirs, filepath.Join(opts.StateDir, "cache"), &invoke.DefaultExec{
		RawExec:       &invoke.RawExec{Stderr: logWriter{m.log}},
		PluginDecoder: version.PluginDecoder{},
	})

	m.dynamic = opts.DynamicPorts
	if m.dynamic == [2]uint16{} {
		m.dynamic = [2]uint16{fallbackDynamicLow, fallbackDynamicHigh}
		_ = m.inHost(func() error {
			if r, ok := kernelPortRange(); ok {
				m.dynamic = r
			}
			return nil
		})
	}
	if m.dynamic[0] == 0 || m.dynamic[0] > m.dynamic[1] {
		return nil, fmt.Errorf("cni: invalid dynamic port range %d-%d", m.dynamic[0], m.dynamic[1])
	}
	m.ports = newPortTable(m.dynamic, opts.ReservedTCP, opts.ReservedUDP)

	if err := m.restore(ctx); err != nil {
		m.Close()
		return nil, err
	}
	m.log.V(1).Info("manager ready", "stateDir", opts.StateDir, "dynamicPorts", fmt.Sprintf("%d-%d", m.dynamic[0], m.dynamic[1]))
	return m, nil
}

// restore re-reserves the host ports of every ID with state and reopens their holders.
func (m *Manager) restore(ctx context.Context) error {
	ids, err := m.IDs()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		var mappings []portMap
		rec, err := m.readRecord(id)
		if err != nil {
			m.log.Error(err, "unreadable network record; its ports are not reserved", "id", id)
		}
		if rec != nil {
			mappings = rec.PortMaps
		} else {
			mappings = m.cachedPortMaps(id)
		}
		if len(mappings) == 0 {
			continue
		}
		keys := make([]portKey, 0, len(mappings))
		for _, pm := range mappings {
			keys = append(keys, portKey{pm.Protocol, uint16(pm.HostPort)})
		}
		if err := m.inHost(func() error { return m.ports.claim(id, keys) }); err != nil {
			// The port stays booked for id (so it is not handed out twice); only the holder
			// could not be reopened, typically because a host process took the port while
			// the agent was down.
			m.log.Error(err, "could not reopen host port holder", "id", id)
		}
	}
	return nil
}

// Close releases the port-holding sockets without tearing anything down, as a process exit
// would. Use it when the agent stops; the next New reopens them.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ports.closeAll()
	return nil
}

// IDs returns every ID that has state: a record, a namespace file or a libcni cache entry of
// one of this package's networks. The agent tears down those it does not know after a crash.
func (m *Manager) IDs() ([]string, error) {
	set := map[string]bool{}
	entries, err := os.ReadDir(m.recordDir())
	if err != nil {
		return nil, fmt.Errorf("cni: list records: %w", err)
	}
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok && validID(id) {
			set[id] = true
		}
	}
	entries, err = os.ReadDir(m.netnsDir())
	if err != nil {
		return nil, fmt.Errorf("cni: list namespaces: %w", err)
	}
	for _, e := range entries {
		if validID(e.Name()) {
			set[e.Name()] = true
		}
	}
	atts, err := m.cni.GetCachedAttachments("")
	if err != nil {
		return nil, fmt.Errorf("cni: list libcni cache: %w", err)
	}
	for _, a := range atts {
		if ourNetwork(a.Network) {
			set[a.ContainerID] = true
		}
	}
	ids := make([]string, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// Setup creates the network of req.ID and returns it. It is idempotent: for an ID already set
// up in the same mode it returns the recorded result without calling any plugin. Leftovers of
// an earlier, unfinished Setup for the ID are torn down first. On failure everything the call
// created is undone.
func (m *Manager) Setup(ctx context.Context, req Request) (*Result, error) {
	if req.Mode == ModeHost {
		return &Result{}, nil
	}
	if err := validateRequest(&req); err != nil {
		return nil, err
	}
	unlock, err := m.lockID(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()

	rec, err := m.readRecord(req.ID)
	if err != nil {
		m.log.Error(err, "unreadable network record; tearing down", "id", req.ID)
	}
	if rec != nil && rec.Ready {
		if rec.Mode != req.Mode {
			return nil, fmt.Errorf("cni: %s is already set up in %s mode: %w", req.ID, rec.Mode, ErrInvalidRequest)
		}
		if ok, _ := netns.IsNetNS(rec.Result.NetNSPath); ok {
			res := rec.Result
			return &res, nil
		}
		m.log.Info("namespace of a set-up network is gone; setting up again", "id", req.ID)
	}
	if rec != nil || err != nil {
		if err := m.teardown(ctx, req.ID); err != nil {
			return nil, fmt.Errorf("cni: clean up earlier state of %s: %w", req.ID, err)
		}
	}

	start := time.Now()
	res, err := m.setup(ctx, req)
	if err != nil {
		// Undo with a fresh context: the caller's may be what just expired.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if terr := m.teardown(cctx, req.ID); terr != nil {
			m.log.Error(terr, "clean-up after failed setup", "id", req.ID)
		}
		return nil, err
	}
	m.log.Info("network set up", "id", req.ID, "mode", req.Mode, "ipv4", res.IPv4, "netns", res.NetNSPath,
		"bindings", len(res.Bindings), "duration", time.Since(start))
	return res, nil
}

// Lookup returns the network of id as its completed Setup recorded it, if its namespace still
// exists; ok is false when there is none. It changes nothing: it is how a restarted agent
// that lost its own record of a running container's network (a damaged checkpoint) finds it
// again, to report its bindings and release it later.
func (m *Manager) Lookup(id string) (res *Result, ok bool, err error) {
	if !validID(id) {
		return nil, false, fmt.Errorf("cni: id %q: %w", id, ErrInvalidRequest)
	}
	rec, err := m.readRecord(id)
	if err != nil || rec == nil || !rec.Ready {
		return nil, false, err
	}
	if rec.Result.NetNSPath != "" {
		if ok, _ := netns.IsNetNS(rec.Result.NetNSPath); !ok {
			return nil, false, nil
		}
	}
	r := rec.Result
	return &r, true, nil
}

// Teardown deletes the network of id: plugin DEL (from the libcni cache, or the record if the
// ADD never finished), release of host ports and IP, removal of the namespace. It needs no
// Request, so it works for orphans after a crash, and it is idempotent. In awsvpc mode the
// host-device DEL moves the ENI back to the host namespace.
func (m *Manager) Teardown(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("cni: id %q: %w", id, ErrInvalidRequest)
	}
	unlock, err := m.lockID(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	start := time.Now()
	if err := m.teardown(ctx, id); err != nil {
		return err
	}
	m.log.Info("network torn down", "id", id, "duration", time.Since(start))
	return nil
}

func (m *Manager) setup(ctx context.Context, req Request) (*Result, error) {
	nsPath := m.netnsPath(req.ID)
	rec := &record{ID: req.ID, Mode: req.Mode, NetNS: nsPath, IfName: containerIfName}
	res := Result{NetNSPath: nsPath}

	var conf []byte
	var err error
	capArgs := map[string]any{}
	switch req.Mode {
	case ModeBridge:
		conf, err = bridgeConfList(m.opts.BridgeName, m.opts.BridgeSubnet, filepath.Join(m.opts.StateDir, "ipam"))
		if err != nil {
			return nil, err
		}
		var maps []portMap
		maps, res.Bindings, err = m.allocatePorts(req.ID, req.Ports)
		if err != nil {
			return nil, err
		}
		rec.PortMaps = maps
		if len(maps) > 0 {
			capArgs["portMappings"] = maps
		}
	case ModeNone:
		conf = noneConfList()
	case ModeAWSVPC:
		name, err := m.waitForENI(ctx, req.ENI)
		if err != nil {
			return nil, err
		}
		res.Interface = name
		res.DNS = DNS{Servers: req.ENI.DNSServers, Search: req.ENI.DNSSearch}
		if conf, err = awsvpcConfList(req.ENI); err != nil {
			return nil, err
		}
		if rec.EndpointsConfList, err = endpointsConfList(m.opts.EndpointsBridge, m.opts.EndpointsSubnet, filepath.Join(m.opts.StateDir, "ipam")); err != nil {
			return nil, err
		}
	}
	rec.ConfList = conf
	rec.CapabilityArgs = capArgs
	// Written before anything is created, so a crash from here on leaves enough to undo it.
	if err := m.writeRecord(rec); err != nil {
		return nil, err
	}

	if _, err := netns.Create(m.netnsDir(), req.ID); err != nil {
		return nil, fmt.Errorf("cni: create namespace: %w", err)
	}
	list, err := libcni.ConfListFromBytes(conf)
	if err != nil {
		return nil, fmt.Errorf("cni: parse conflist: %w", err)
	}
	rt := &libcni.RuntimeConf{ContainerID: req.ID, NetNS: nsPath, IfName: containerIfName, CapabilityArgs: capArgs}
	var raw any
	if len(rec.PortMaps) > 0 && !m.hostportReady.Load() {
		m.hostportMu.Lock()
		defer m.hostportMu.Unlock()
	}
	if err := m.inHost(func() error {
		r, err := m.cni.AddNetworkList(ctx, list, rt)
		raw = r
		return err
	}); err != nil {
		return nil, fmt.Errorf("cni: add %s network: %w", req.Mode, err)
	}
	if len(rec.PortMaps) > 0 {
		m.hostportReady.Store(true)
	}
	if err := fillResult(&res, raw); err != nil {
		return nil, err
	}
	if len(rec.EndpointsConfList) > 0 {
		if res.EndpointsIPv4, err = m.addEndpointsLeg(ctx, req.ID, nsPath, rec.EndpointsConfList); err != nil {
			return nil, err
		}
	}

	if !m.opts.AllowIMDS || (req.Mode == ModeAWSVPC && m.opts.BlockAWSVPCIMDS) {
		if req.Mode == ModeBridge {
			if err := m.ensureBridgeIMDSRule(ctx); err != nil {
				return nil, err
			}
		} else if err := netns.Do(nsPath, func() error { return addUnreachableRoute(netip.MustParseAddr(IMDSAddress)) }); err != nil {
			return nil, fmt.Errorf("cni: block instance metadata in task namespace: %w", err)
		}
	}

	rec.Ready = true
	rec.Result = res
	if err := m.writeRecord(rec); err != nil {
		return nil, err
	}
	return &res, nil
}

func (m *Manager) teardown(ctx context.Context, id string) error {
	rec, recErr := m.readRecord(id)
	atts, err := m.cni.GetCachedAttachments(id)
	if err != nil {
		return fmt.Errorf("cni: read libcni cache: %w", err)
	}
	type del struct {
		conf []byte
		rt   *libcni.RuntimeConf
	}
	var dels []del
	for _, a := range atts {
		if !ourNetwork(a.Network) {
			continue
		}
		dels = append(dels, del{a.Config, &libcni.RuntimeConf{
			ContainerID: a.ContainerID, NetNS: a.NetNS, IfName: a.IfName,
			Args: a.CniArgs, CapabilityArgs: a.CapabilityArgs,
		}})
	}
	if rec != nil {
		// An ADD that did not finish left no cache entry, but its plugins may have acted
		// (a lease, a veth): DEL every recorded network the cache does not have.
		cached := map[string]bool{}
		for _, a := range atts {
			cached[a.Network] = true
		}
		for _, l := range []struct {
			conf   json.RawMessage
			name   string
			ifName string
			caps   map[string]any
		}{
			{rec.ConfList, "", rec.IfName, rec.CapabilityArgs},
			{rec.EndpointsConfList, netEndpoints, EndpointsIfName, nil},
		} {
			if len(l.conf) == 0 {
				continue
			}
			if l.name == "" {
				if list, err := libcni.ConfListFromBytes(l.conf); err == nil {
					l.name = list.Name
				}
			}
			if cached[l.name] {
				continue
			}
			dels = append(dels, del{l.conf, &libcni.RuntimeConf{
				ContainerID: id, NetNS: rec.NetNS, IfName: l.ifName, CapabilityArgs: l.caps,
			}})
		}
	}

	nsPath := m.netnsPath(id)
	for _, d := range dels {
		list, err := libcni.ConfListFromBytes(d.conf)
		if err != nil {
			return fmt.Errorf("cni: parse cached conflist of %s: %w", id, err)
		}
		// Plugins treat a missing namespace as "already gone" but fail on a path that is
		// not a namespace (a plain file left by a reboot).
		if d.rt.NetNS != "" {
			if ok, _ := netns.IsNetNS(d.rt.NetNS); !ok {
				if err := netns.Delete(d.rt.NetNS); err != nil {
					return fmt.Errorf("cni: %w", err)
				}
				d.rt.NetNS = ""
			}
		}
		if err := m.inHost(func() error { return m.cni.DelNetworkList(ctx, list, d.rt) }); err != nil {
			return fmt.Errorf("cni: delete %s network of %s: %w", list.Name, id, err)
		}
	}

	m.mu.Lock()
	m.ports.release(id)
	m.mu.Unlock()
	if err := netns.Delete(nsPath); err != nil {
		return fmt.Errorf("cni: %w", err)
	}
	if rec != nil || recErr != nil {
		if err := os.Remove(m.recordPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cni: remove record: %w", err)
		}
	}
	return nil
}

// waitForENI polls the host namespace for an interface with the ENI's MAC: ECS attaches the
// ENI asynchronously and the task payload can arrive before the kernel sees the device.
func (m *Manager) waitForENI(ctx context.Context, eni *ENI) (string, error) {
	mac, _ := net.ParseMAC(eni.MAC) // validated
	wait := eni.WaitTimeout
	if wait <= 0 {
		wait = DefaultENIWait
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var name string
		err := m.inHost(func() error {
			ifs, err := net.Interfaces()
			if err != nil {
				return err
			}
			for _, i := range ifs {
				if slices.Equal(i.HardwareAddr, mac) && i.Flags&net.FlagLoopback == 0 {
					name = i.Name
				}
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("cni: list interfaces: %w", err)
		}
		if name != "" {
			return name, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("cni: no interface with MAC %s after %s: %w", mac, wait, ErrENINotFound)
		case <-tick.C:
		}
	}
}

func (m *Manager) inHost(fn func() error) error {
	if m.opts.HostNetNS == "" {
		return fn()
	}
	return netns.Do(m.opts.HostNetNS, fn)
}

// lockID serialises operations on one ID, giving up when ctx ends.
func (m *Manager) lockID(ctx context.Context, id string) (func(), error) {
	m.mu.Lock()
	l := m.idLocks[id]
	if l == nil {
		l = &idLock{ch: make(chan struct{}, 1)}
		m.idLocks[id] = l
	}
	l.refs++
	m.mu.Unlock()
	done := func() {
		m.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(m.idLocks, id)
		}
		m.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}

func (m *Manager) netnsDir() string           { return filepath.Join(m.opts.StateDir, "netns") }
func (m *Manager) netnsPath(id string) string { return filepath.Join(m.netnsDir(), id) }

// idPattern is libcni's container ID rule; it also keeps IDs safe as file names.
var idPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)

func validID(id string) bool { return len(id) <= 200 && idPattern.MatchString(id) }

func validateRequest(req *Request) error {
	if !validID(req.ID) {
		return fmt.Errorf("cni: id %q: %w", req.ID, ErrInvalidRequest)
	}
	switch req.Mode {
	case ModeBridge:
	case ModeNone:
		if len(req.Ports) > 0 {
			return fmt.Errorf("cni: port mappings need bridge mode: %w", ErrInvalidRequest)
		}
	case ModeAWSVPC:
		if len(req.Ports) > 0 {
			return fmt.Errorf("cni: awsvpc tasks publish container ports directly on the ENI, not mappings: %w", ErrInvalidRequest)
		}
		if req.ENI == nil {
			return fmt.Errorf("cni: awsvpc needs an ENI: %w", ErrInvalidRequest)
		}
		if _, err := net.ParseMAC(req.ENI.MAC); err != nil {
			return fmt.Errorf("cni: ENI MAC %q: %w", req.ENI.MAC, ErrInvalidRequest)
		}
		if len(req.ENI.IPv4) == 0 {
			return fmt.Errorf("cni: ENI has no IPv4 address: %w", ErrInvalidRequest)
		}
	default:
		return fmt.Errorf("cni: mode %q: %w", req.Mode, ErrInvalidRequest)
	}
	return nil
}

// logWriter turns plugin stderr into log lines.
type logWriter struct{ log logr.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.V(1).Info("plugin stderr", "output", strings.TrimSpace(string(p)))
	return len(p), nil
}

// record is the per-ID file under StateDir/ids. It is written before the ADD, so a crash at
// any point leaves enough to run the DEL and to keep the host ports booked meanwhile.
type record struct {
	ID       string
	Mode     string
	NetNS    string
	IfName   string
	ConfList json.RawMessage
	// EndpointsConfList is an awsvpc task's endpoints leg, added after ConfList.
	EndpointsConfList json.RawMessage `json:",omitempty"`
	CapabilityArgs    map[string]any  `json:",omitempty"`
	PortMaps          []portMap       `json:",omitempty"`
	Ready             bool
	Result            Result
}

func (m *Manager) recordDir() string           { return filepath.Join(m.opts.StateDir, "ids") }
func (m *Manager) recordPath(id string) string { return filepath.Join(m.recordDir(), id+".json") }

// readRecord returns nil, nil when there is no record.
func (m *Manager) readRecord(id string) (*record, error) {
	b, err := os.ReadFile(m.recordPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cni: read record: %w", err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("cni: decode record %s: %w", id, err)
	}
	return &r, nil
}

// writeRecord replaces the record atomically (write, fsync, rename).
func (m *Manager) writeRecord(r *record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("cni: encode record: %w", err)
	}
	tmp, err := os.CreateTemp(m.recordDir(), "."+r.ID+".*")
	if err != nil {
		return fmt.Errorf("cni: write record: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), m.recordPath(r.ID))
	}
	if err != nil {
		return fmt.Errorf("cni: write record: %w", err)
	}
	return nil
}

// cachedPortMaps reads the port mappings of id from the libcni cache (used when its record is
// missing).
func (m *Manager) cachedPortMaps(id string) []portMap {
	atts, err := m.cni.GetCachedAttachments(id)
	if err != nil {
		return nil
	}
	var out []portMap
	for _, a := range atts {
		raw, ok := a.CapabilityArgs["portMappings"]
		if !ok || !ourNetwork(a.Network) {
			continue
		}
		b, _ := json.Marshal(raw)
		var pms []portMap
		if json.Unmarshal(b, &pms) == nil {
			out = append(out, pms...)
		}
	}
	return out
}

// addEndpointsLeg adds an awsvpc task's endpoints leg and returns its address.
func (m *Manager) addEndpointsLeg(ctx context.Context, id, nsPath string, conf []byte) (netip.Addr, error) {
	list, err := libcni.ConfListFromBytes(conf)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("cni: parse endpoints conflist: %w", err)
	}
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: nsPath, IfName: EndpointsIfName}
	var raw any
	if err := m.inHost(func() error {
		r, err := m.cni.AddNetworkList(ctx, list, rt)
		raw = r
		return err
	}); err != nil {
		return netip.Addr{}, fmt.Errorf("cni: add endpoints leg: %w", err)
	}
	var leg Result
	if err := fillResult(&leg, raw); err != nil {
		return netip.Addr{}, err
	}
	return leg.IPv4, nil
}
