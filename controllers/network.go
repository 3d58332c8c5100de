package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/etcfiles"
	"github.com/ecsd/ecsd/runtime"
)

// Network modes as ECS names them. An empty mode is bridge, ECS's default on Linux.
const (
	modeBridge = api.NetworkModeBridge
	modeHost   = api.NetworkModeHost
	modeNone   = api.NetworkModeNone
	modeAWSVPC = api.NetworkModeAWSVPC
)

// errENIPending: an awsvpc task's ENI has not appeared on the host yet.
var errENIPending = errors.New("ENI not attached yet")

// eniRecheck is how often a container waiting for its task's ENI looks again.
const eniRecheck = 250 * time.Millisecond

// errNetworkPending: an awsvpc task's namespace is being set up by a sibling; the container
// comes back when the task's status changes.
var errNetworkPending = errors.New("task network not ready")

// ensureNetwork gives a container about to be created the network its task asks for and
// records it in Status before anything uses it, so a crash right after leaves state the
// release phase or the orphan sweep can find. It returns the container as written.
func (r *CreateReconciler) ensureNetwork(ctx context.Context, s *containerScope) (*api.Container, error) {
	if r.Network == nil {
		return s.c, nil
	}
	switch s.task.NetworkMode() {
	case modeBridge:
		return r.ensureBridge(ctx, s)
	case modeAWSVPC:
		if !r.NetworkOptions.AWSVPCEnabled {
			return nil, fmt.Errorf("%w: network mode awsvpc needs ECS_ENABLE_TASK_ENI=true on this instance", errInvalidDefinition)
		}
		return s.c, r.ensureTaskENI(ctx, s)
	}
	return s.c, nil
}

// ensureBridge sets up the container's own namespace on the agent's bridge with its port
// mappings and writes the result, host port bindings included, to the container's status.
func (r *CreateReconciler) ensureBridge(ctx context.Context, s *containerScope) (*api.Container, error) {
	c := s.c
	req := runtime.NetworkRequest{ID: c.Name, Mode: runtime.NetworkBridge}
	for _, pm := range c.Spec.PortMappings {
		if pm.ContainerPort < 0 || pm.ContainerPort > 65535 || pm.HostPort < 0 || pm.HostPort > 65535 {
			return nil, fmt.Errorf("%w: port mapping %d:%d is out of range", errInvalidDefinition, pm.HostPort, pm.ContainerPort)
		}
		req.Ports = append(req.Ports, runtime.PortMapping{
			ContainerPort:      uint16(pm.ContainerPort),
			HostPort:           uint16(pm.HostPort),
			ContainerPortRange: pm.ContainerPortRange,
			Protocol:           strings.ToLower(pm.Protocol),
		})
	}
	res, err := r.Network.Setup(ctx, req)
	if err != nil {
		return nil, networkError(err)
	}
	return updateStatus(ctx, r.Client, c, func(c *api.Container) bool {
		if c.Status.Network != nil && c.Status.Network.ReleasedAt == nil && c.Status.Network.NetNSPath == res.NetNSPath {
			return false
		}
		c.Status.Network = networkStatus(runtime.NetworkBridge, req.ID, res, r.NetworkOptions.bridgeSubnet())
		c.Status.NetworkBindings = bindings(res.Bindings)
		return true
	})
}

// ensureTaskENI sets up an awsvpc task's namespace with its ENI, once for all its
// containers: whichever container gets here first does it, the others find it done (the
// network layer serialises calls for one ID). The ENI's attachment is marked ATTACHED,
// which the report controller tells ECS.
func (r *CreateReconciler) ensureTaskENI(ctx context.Context, s *containerScope) error {
	t := s.task
	if n := t.Status.Network; n != nil && n.ReleasedAt == nil {
		return nil
	}
	if len(t.Spec.ENIs) == 0 {
		return fmt.Errorf("%w: awsvpc task without an elastic network interface", errInvalidDefinition)
	}
	att := &api.Attachment{}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: t.Namespace, Name: t.Spec.ENIs[0]}, att); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%w: attachment %s of the task is unknown", errInvalidDefinition, t.Spec.ENIs[0])
		}
		return err
	}
	eni := &runtime.ENI{
		MAC:         att.Spec.MACAddress,
		DNSServers:  att.Spec.DomainNameServers,
		DNSSearch:   att.Spec.DomainName,
		Routes:      r.NetworkOptions.AWSVPCAdditionalRoutes,
		WaitTimeout: r.NetworkOptions.ENIWaitTimeout,
	}
	gw, prefix, err := splitGateway(att.Spec.SubnetGatewayIPv4)
	if err != nil {
		return fmt.Errorf("%w: %v", errInvalidDefinition, err)
	}
	eni.Gateway = gw
	for _, a := range att.Spec.IPv4Addresses {
		eni.IPv4 = append(eni.IPv4, fmt.Sprintf("%s/%d", a, prefix))
	}
	// Wait for the ENI without holding a worker: other tasks' containers must not queue
	// behind an ENI that EC2 has not attached yet.
	deadline := att.CreationTimestamp.Add(eni.WaitTimeout)
	if att.Spec.ExpiresAt != nil {
		deadline = att.Spec.ExpiresAt.Time
	}
	attached, err := r.HostFS.InterfaceWithMAC(eni.MAC)
	if err != nil {
		return err
	}
	if !attached {
		if r.Clock.Now().Before(deadline) {
			return errENIPending
		}
		return fmt.Errorf("%w: %w: no interface with MAC %s appeared by %s", errInvalidDefinition, runtime.ErrENINotFound, eni.MAC, deadline.UTC().Format(time.RFC3339))
	}
	eni.WaitTimeout = 10 * time.Second
	res, err := r.Network.Setup(ctx, runtime.NetworkRequest{ID: t.Name, Mode: runtime.NetworkAWSVPC, ENI: eni})
	if err != nil {
		return networkError(err)
	}
	subnet := ""
	if p, err := netip.ParsePrefix(fmt.Sprintf("%s/%d", gw, prefix)); err == nil {
		subnet = p.Masked().String()
	}
	if _, err := updateStatus(ctx, r.Client, t, func(t *api.Task) bool {
		if n := t.Status.Network; n != nil && n.ReleasedAt == nil {
			return false
		}
		t.Status.Network = networkStatus(runtime.NetworkAWSVPC, t.Name, res, subnet)
		return true
	}); err != nil {
		return err
	}
	return setAttachment(ctx, r.Client, att, api.AttachmentAttached, res.Interface)
}

// splitGateway parses ACS's subnetGatewayIpv4Address, "<gateway>/<prefix length>".
func splitGateway(s string) (string, int, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return "", 0, fmt.Errorf("subnet gateway %q: %w", s, err)
	}
	return p.Addr().String(), p.Bits(), nil
}

// networkError turns a failed setup into the container's create error: port conflicts and
// bad requests are the definition's fault and stop the task with a clear reason; anything
// else is reported the same way, since a half-set-up network is undone by the network
// layer and the reference agent stops such a task too.
func networkError(err error) error {
	switch {
	case errors.Is(err, runtime.ErrPortAllocated), errors.Is(err, runtime.ErrPortReserved),
		errors.Is(err, runtime.ErrNoFreePorts), errors.Is(err, runtime.ErrInvalidNetworkRequest),
		errors.Is(err, runtime.ErrENINotFound):
		return fmt.Errorf("%w: %v", errInvalidDefinition, err)
	}
	return fmt.Errorf("network setup: %w", err)
}

func networkStatus(mode, id string, res *runtime.NetworkResult, subnet string) *api.NetworkStatus {
	n := &api.NetworkStatus{Mode: mode, ID: id, NetNSPath: res.NetNSPath, InterfaceName: res.Interface, IPv4SubnetCIDR: subnet}
	if res.IPv4.IsValid() {
		n.IPv4Address = res.IPv4.String()
	}
	if res.Gateway.IsValid() {
		n.IPv4Gateway = res.Gateway.String()
	}
	if res.EndpointsIPv4.IsValid() {
		n.EndpointIPv4Address = res.EndpointsIPv4.String()
	}
	return n
}

func bindings(in []runtime.PortBinding) []api.NetworkBinding {
	out := make([]api.NetworkBinding, 0, len(in))
	for _, b := range in {
		out = append(out, api.NetworkBinding{
			BindIP:             b.HostIP,
			ContainerPort:      int32(b.ContainerPort),
			HostPort:           int32(b.HostPort),
			ContainerPortRange: b.ContainerPortRange,
			HostPortRange:      b.HostPortRange,
			Protocol:           b.Protocol,
		})
	}
	return out
}

// joinNetwork points cfg at the namespace its network mode gives it and writes the
// container's /etc/hostname, /etc/hosts and /etc/resolv.conf for that network.
func (r *CreateReconciler) joinNetwork(s *containerScope, cfg *runtime.ContainerConfig) error {
	c, t := s.c, s.task
	mode := t.NetworkMode()
	switch mode {
	case modeHost:
		if len(c.Spec.Links) > 0 {
			return fmt.Errorf("%w: links are not supported in network mode host", errInvalidDefinition)
		}
		cfg.HostNetNSPath = r.NetworkOptions.HostNetNSPath
		return nil
	case modeNone:
		cfg.PrivateNetwork = true
		return nil
	case modeBridge, modeAWSVPC:
	default:
		return fmt.Errorf("%w: network mode %q is not supported", errInvalidDefinition, t.Spec.NetworkMode)
	}
	if r.Network == nil {
		// No network layer (engine tests, benchmarks): isolated rather than silently on the
		// host's network.
		cfg.PrivateNetwork = true
		if len(c.Spec.PortMappings) > 0 {
			return fmt.Errorf("%w: port mappings in network mode %q need the network layer, which is not configured", errInvalidDefinition, mode)
		}
		return nil
	}
	var n *api.NetworkStatus
	// The directory is named by the runtime ID, as Docker keeps these files in
	// /var/lib/docker/containers/<id>/: the bind mounts' source shows in the container's
	// /proc/self/mountinfo, where tools look for the ID on cgroup v2 (whose private
	// cgroup namespace leaves /proc/self/cgroup reading "0::/").
	dir := filepath.Join(taskDir(r.DataDir, t.Name), "containers", cfg.ID)
	in := etcfiles.FilesInput{Hostname: cfg.Hostname, ExtraHosts: c.Spec.ExtraHosts}
	if mode == modeBridge {
		n = c.Status.Network
		if in.Hostname == "" {
			in.Hostname = shortID(cfg.ID)
		}
		for _, l := range c.Spec.Links {
			name, alias, _ := strings.Cut(l, ":")
			if alias == "" {
				alias = name
			}
			target, ok := s.siblings[name]
			if !ok || target.Status.Network == nil {
				return fmt.Errorf("%w: link to %q: no such running container in the task", errInvalidDefinition, name)
			}
			ip, err := netip.ParseAddr(target.Status.Network.IPv4Address)
			if err != nil {
				return fmt.Errorf("%w: link to %q: container has no address", errInvalidDefinition, name)
			}
			in.Links = append(in.Links, etcfiles.Link{Alias: alias, IP: ip})
		}
	} else {
		n = t.Status.Network
		if len(c.Spec.Links) > 0 {
			return fmt.Errorf("%w: links are not supported in network mode awsvpc", errInvalidDefinition)
		}
		if att := r.taskENI(t); att != nil {
			// The ENI's private DNS name is an awsvpc task's hostname on ECS.
			if in.Hostname == "" {
				in.Hostname = att.Spec.PrivateDNSName
			}
			in.DNS = etcfiles.DNS{Servers: att.Spec.DomainNameServers, Search: att.Spec.DomainName}
		}
	}
	if n == nil || n.ReleasedAt != nil || n.NetNSPath == "" {
		return errNetworkPending
	}
	if ip, err := netip.ParseAddr(n.IPv4Address); err == nil {
		in.IPv4 = ip
	}
	if len(c.Spec.DNSServers) > 0 {
		in.DNS.Servers = c.Spec.DNSServers
	}
	if len(c.Spec.DNSSearch) > 0 {
		in.DNS.Search = c.Spec.DNSSearch
	}
	in.HostResolvConf, _ = os.ReadFile(r.hostResolvConf())
	files, err := etcfiles.BuildFiles(in)
	if err != nil {
		return fmt.Errorf("%w: %v", errInvalidDefinition, err)
	}
	if err := files.WriteTo(dir); err != nil {
		return fmt.Errorf("network files: %w", err)
	}
	names := []string{"hosts", "resolv.conf"}
	if files.Hostname != nil { // WriteTo writes no hostname file without a hostname
		names = append(names, "hostname")
	}
	for _, name := range names {
		cfg.Mounts = append(cfg.Mounts, runtime.Mount{Type: "bind", Source: filepath.Join(dir, name), Destination: "/etc/" + name, Options: []string{"rbind", "rw"}})
	}
	cfg.Hostname = in.Hostname
	cfg.NetNSPath = n.NetNSPath
	return nil
}

// shortID is Docker's default hostname for a container with its own network: the first 12
// characters of its ID.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// taskENI is an awsvpc task's ENI attachment from the cache, or nil.
func (r *CreateReconciler) taskENI(t *api.Task) *api.Attachment {
	if len(t.Spec.ENIs) == 0 {
		return nil
	}
	att := &api.Attachment{}
	if err := r.Cached.Get(context.Background(), types.NamespacedName{Namespace: t.Namespace, Name: t.Spec.ENIs[0]}, att); err != nil {
		return nil
	}
	return att
}

func (r *CreateReconciler) hostResolvConf() string {
	if r.NetworkOptions.HostResolvConf != "" {
		return r.NetworkOptions.HostResolvConf
	}
	return "/etc/resolv.conf"
}

// freshTask re-reads a task whose status a step may just have written.
func freshTask(ctx context.Context, cl client.Client, t *api.Task) (*api.Task, error) {
	nt := &api.Task{}
	if err := cl.Get(ctx, types.NamespacedName{Namespace: t.Namespace, Name: t.Name}, nt); err != nil {
		return nil, err
	}
	return nt, nil
}
