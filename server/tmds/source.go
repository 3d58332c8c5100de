package tmds

import (
	"context"
	"fmt"
	"net/netip"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
// guessing could answer one task's request with another task's data. Both address indexes
// are asked, since an awsvpc task's address is on the Task and a bridge container's on the
// Container; the hits are checked again against the objects they came with.
func (h *handler) taskByAddr(ctx context.Context, ip netip.Addr) (name, arn string, err error) {
	tasks, err := metadata.TasksByAddress(ctx, h.o.Reader, ip)
	if err != nil {
		return "", "", err
	}
	owners := map[string]string{} // task name → ARN, "" while only a container named it
	for i := range tasks {
		if taskOwnsAddr(&tasks[i], nil, ip) {
			owners[tasks[i].Name] = tasks[i].Spec.ARN
		}
	}
	cs, err := metadata.ContainersByAddress(ctx, h.o.Reader, ip)
	if err != nil {
		return "", "", err
	}
	for i := range cs {
		if n := cs[i].Status.Network; n != nil && n.ReleasedAt == nil && sameAddr(n.IPv4Address, ip) {
			if _, ok := owners[cs[i].Spec.TaskName]; !ok {
				owners[cs[i].Spec.TaskName] = ""
			}
		}
	}
	if len(owners) != 1 {
		return "", "", fmt.Errorf("address %s: %w", ip, metadata.ErrNotFound)
	}
	for n, a := range owners {
		name, arn = n, a
	}
	if arn == "" {
		// A container's task is read for its ARN; a container whose task is gone (cleanup
		// under way) names nobody.
		t := &api.Task{}
		err := h.o.Reader.Get(ctx, client.ObjectKey{Namespace: api.Namespace, Name: name}, t)
		switch {
		case apierrors.IsNotFound(err):
			return "", "", fmt.Errorf("address %s: task %s: %w", ip, name, metadata.ErrNotFound)
		case err != nil:
			return "", "", fmt.Errorf("get task %s: %w", name, err)
		}
		arn = t.Spec.ARN
	}
	return name, arn, nil
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
