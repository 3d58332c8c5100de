package metadata

import (
	"context"
	"fmt"
	"net/netip"

	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// Field indexes the endpoints look objects up by. Every task metadata, credentials and agent
// API request names its caller by one of these keys, so without them each request lists
// every object on the host. IndexFields registers them on the informer cache; a reader
// without them (the store itself, a test's reader) still answers, by a full scan.
const (
	// EndpointIDField indexes Containers by Spec.EndpointID, the ID in their v3/v4 and
	// agent API URIs.
	EndpointIDField = "spec.endpointId"
	// TaskAddressField indexes Tasks by the addresses of their live task network: an awsvpc
	// task's ENI address and its endpoints leg's address, which is what its requests to
	// 169.254.170.2 come from.
	TaskAddressField = "status.network.addresses"
	// ContainerAddressField indexes Containers by the address of their own live network,
	// which is what a bridge container's requests come from.
	ContainerAddressField = "status.network.ipv4Address"
	// CredentialsIDField indexes Tasks by their role and execution role credentials IDs,
	// so a credentials request for an ID whose credentials are not held (after a restart,
	// before ACS sends them again) can still tell a known ID from an unknown one.
	CredentialsIDField = "spec.credentialsIds"
)

// IndexFields registers the endpoints' field indexes on fi, the store's informer cache,
// before it starts (the agent does it when it builds the endpoints). Until an index exists
// the lookups fall back to a scan, so an ordering mistake costs time, never answers.
func IndexFields(ctx context.Context, fi client.FieldIndexer) error {
	for _, ix := range []struct {
		obj     client.Object
		field   string
		extract client.IndexerFunc
	}{
		{&api.Container{}, EndpointIDField, ContainerEndpointID},
		{&api.Task{}, TaskAddressField, TaskAddresses},
		{&api.Container{}, ContainerAddressField, ContainerAddresses},
		{&api.Task{}, CredentialsIDField, TaskCredentialsIDs},
	} {
		if err := fi.IndexField(ctx, ix.obj, ix.field, ix.extract); err != nil {
			return fmt.Errorf("index %s: %w", ix.field, err)
		}
	}
	return nil
}

// ContainerEndpointID is EndpointIDField's extractor.
func ContainerEndpointID(o client.Object) []string {
	c, ok := o.(*api.Container)
	if !ok || c.Spec.EndpointID == "" {
		return nil
	}
	return []string{c.Spec.EndpointID}
}

// TaskCredentialsIDs is CredentialsIDField's extractor.
func TaskCredentialsIDs(o client.Object) []string {
	t, ok := o.(*api.Task)
	if !ok {
		return nil
	}
	var out []string
	for _, id := range []string{t.Spec.RoleCredentialsID, t.Spec.ExecutionCredentialsID} {
		if id != "" && (len(out) == 0 || out[0] != id) {
			out = append(out, id)
		}
	}
	return out
}

// TaskAddresses is TaskAddressField's extractor. A released network is left out: its
// address may already belong to another task.
func TaskAddresses(o client.Object) []string {
	t, ok := o.(*api.Task)
	if !ok {
		return nil
	}
	n := t.Status.Network
	if n == nil || n.ReleasedAt != nil {
		return nil
	}
	out := make([]string, 0, 2)
	for _, a := range []string{n.IPv4Address, n.EndpointIPv4Address} {
		if k, ok := AddressKey(a); ok && (len(out) == 0 || out[0] != k) {
			out = append(out, k)
		}
	}
	return out
}

// ContainerAddresses is ContainerAddressField's extractor; a released network is left out.
func ContainerAddresses(o client.Object) []string {
	c, ok := o.(*api.Container)
	if !ok {
		return nil
	}
	n := c.Status.Network
	if n == nil || n.ReleasedAt != nil {
		return nil
	}
	if k, ok := AddressKey(n.IPv4Address); ok {
		return []string{k}
	}
	return nil
}

// AddressKey is the canonical form of a stored address as the address indexes hold it, so
// that a request's source address (IPv4, or IPv4-mapped IPv6 on a dual-stack socket)
// finds it whatever way it was written.
func AddressKey(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", false
	}
	return a.Unmap().String(), true
}
