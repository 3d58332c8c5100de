package tmds

import (
	"context"
	"fmt"
	"net/netip"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/server/metadata"
)

// sameAddr compares a stored address with a request's source address.
func sameAddr(stored string, ip netip.Addr) bool {
	if stored == "" {
		return false
	}
	a, err := netip.ParseAddr(stored)
	return err == nil && a.Unmap() == ip
}

// taskOwnsAddr reports whether ip is an address the task's containers send from: an awsvpc
// task's ENI address or its leg on the agent bridge, or a bridge container's own address.
// A released network no longer counts, because its address may already be someone else's.
func taskOwnsAddr(t *api.Task, cs []*api.Container, ip netip.Addr) bool {
	if n := t.Status.Network; n != nil && n.ReleasedAt == nil {
		if sameAddr(n.IPv4Address, ip) || sameAddr(n.EndpointIPv4Address, ip) {
			return true
		}
	}
	for _, c := range cs {
		if n := c.Status.Network; n != nil && n.ReleasedAt == nil && sameAddr(n.IPv4Address, ip) {
			return true
		}
	}
	return false
}

// taskByAddr returns the name and ARN of the one task that owns ip. No owner, or more than one (an
// address handed out again before the old network was marked released), is not found:
// guessing could answer one task's request with another task's data.
func (h *handler) taskByAddr(ctx context.Context, ip netip.Addr) (name, arn string, err error) {
	tasks, err := metadata.ListTasks(ctx, h.o.Reader)
	if err != nil {
		return "", "", err
	}
	arns := make(map[string]string, len(tasks))
	owners := map[string]struct{}{}
	for i := range tasks {
		arns[tasks[i].Name] = tasks[i].Spec.ARN
		if taskOwnsAddr(&tasks[i], nil, ip) {
			owners[tasks[i].Name] = struct{}{}
		}
	}
	cs, err := metadata.ListContainers(ctx, h.o.Reader)
	if err != nil {
		return "", "", err
	}
	for i := range cs {
		if n := cs[i].Status.Network; n != nil && n.ReleasedAt == nil && sameAddr(n.IPv4Address, ip) {
			owners[cs[i].Spec.TaskName] = struct{}{}
		}
	}
	if len(owners) == 1 {
		for name := range owners {
			if arn, ok := arns[name]; ok {
				return name, arn, nil
			}
		}
	}
	return "", "", fmt.Errorf("address %s: %w", ip, metadata.ErrNotFound)
}

// isLocal reports whether ip is the host itself: loopback or one of its own addresses.
func (h *handler) isLocal(ip netip.Addr) bool {
	if ip.IsLoopback() {
		return true
	}
	addrs, err := h.o.HostAddrs()
	if err != nil {
		h.log.Error(err, "list host addresses")
		return false
	}
	for _, a := range addrs {
		if a.Unmap() == ip {
			return true
		}
	}
	return false
}
