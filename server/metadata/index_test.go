package metadata

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/store"
)

func TestIndexExtractors(t *testing.T) {
	released := &metav1.Time{}
	for _, tc := range []struct {
		name    string
		extract client.IndexerFunc
		obj     client.Object
		want    []string
	}{
		{"endpoint ID", ContainerEndpointID, &api.Container{Spec: api.ContainerSpec{EndpointID: "ep-1"}}, []string{"ep-1"}},
		{"no endpoint ID", ContainerEndpointID, &api.Container{}, nil},
		{"endpoint ID of a task", ContainerEndpointID, &api.Task{}, nil},
		{"awsvpc task: ENI and leg", TaskAddresses, &api.Task{Status: api.TaskStatus{Network: &api.NetworkStatus{
			IPv4Address: "10.0.1.5", EndpointIPv4Address: "169.254.172.3"}}}, []string{"10.0.1.5", "169.254.172.3"}},
		{"IPv4-mapped address is stored as IPv4", TaskAddresses, &api.Task{Status: api.TaskStatus{Network: &api.NetworkStatus{
			IPv4Address: "::ffff:10.0.1.5"}}}, []string{"10.0.1.5"}},
		{"released task network", TaskAddresses, &api.Task{Status: api.TaskStatus{Network: &api.NetworkStatus{
			IPv4Address: "10.0.1.5", ReleasedAt: released}}}, nil},
		{"task without network", TaskAddresses, &api.Task{}, nil},
		{"unparseable address", TaskAddresses, &api.Task{Status: api.TaskStatus{Network: &api.NetworkStatus{IPv4Address: "x"}}}, nil},
		{"bridge container", ContainerAddresses, &api.Container{Status: api.ContainerStatus{Network: &api.NetworkStatus{IPv4Address: "172.17.0.3"}}}, []string{"172.17.0.3"}},
		{"released container network", ContainerAddresses, &api.Container{Status: api.ContainerStatus{Network: &api.NetworkStatus{
			IPv4Address: "172.17.0.3", ReleasedAt: released}}}, nil},
		{"container without network", ContainerAddresses, &api.Container{}, nil},
		{"role and execution credentials", TaskCredentialsIDs, &api.Task{Spec: api.TaskSpec{RoleCredentialsID: "r", ExecutionCredentialsID: "x"}}, []string{"r", "x"}},
		{"execution credentials only", TaskCredentialsIDs, &api.Task{Spec: api.TaskSpec{ExecutionCredentialsID: "x"}}, []string{"x"}},
		{"no credentials", TaskCredentialsIDs, &api.Task{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.extract(tc.obj); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// The lookups give the same answers through the cache's indexes and, without them, by
// scanning the store.
func TestLookupsWithAndWithoutIndexes(t *testing.T) {
	scheme := k8sruntime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.New(ctx, scheme)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: api.Namespace} }
	for _, o := range []client.Object{
		&api.Task{ObjectMeta: meta("vpc"), Status: api.TaskStatus{Network: &api.NetworkStatus{IPv4Address: "10.0.1.5", EndpointIPv4Address: "169.254.172.3"}}},
		&api.Task{ObjectMeta: meta("role"), Spec: api.TaskSpec{RoleCredentialsID: "cred-r", ExecutionCredentialsID: "cred-x"}},
		&api.Task{ObjectMeta: meta("old"), Status: api.TaskStatus{Network: &api.NetworkStatus{IPv4Address: "10.0.1.6", ReleasedAt: &metav1.Time{}}}},
		&api.Container{ObjectMeta: meta("br-app"), Spec: api.ContainerSpec{TaskName: "br", EndpointID: "ep-app"},
			Status: api.ContainerStatus{Network: &api.NetworkStatus{IPv4Address: "172.17.0.3"}}},
		&api.Container{ObjectMeta: meta("vpc-web"), Spec: api.ContainerSpec{TaskName: "vpc", EndpointID: "ep-web"}},
	} {
		if err := st.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := IndexFields(ctx, st.Cache()); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = st.Cache().Start(ctx) }()
	defer func() { cancel(); <-done }()
	if !st.Cache().WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	for name, r := range map[string]client.Reader{"indexed": st.Client(), "scan": st} {
		t.Run(name, func(t *testing.T) {
			for id, want := range map[string]string{"ep-app": "br-app", "ep-web": "vpc-web"} {
				if c, err := ContainerByEndpointID(ctx, r, id); err != nil || c.Name != want {
					t.Errorf("ContainerByEndpointID(%s) = %v, %v; want %s", id, c, err, want)
				}
			}
			if c, err := ContainerByEndpointID(ctx, r, "ep-none"); err == nil {
				t.Errorf("unknown endpoint ID found %s", c.Name)
			}
			for addr, want := range map[string]string{"10.0.1.5": "vpc", "169.254.172.3": "vpc", "::ffff:10.0.1.5": "vpc", "10.0.1.6": "", "172.17.0.3": ""} {
				ts, err := TasksByAddress(ctx, r, netip.MustParseAddr(addr))
				var got string
				if len(ts) > 0 {
					got = ts[0].Name
				}
				if err != nil || len(ts) > 1 || got != want {
					t.Errorf("TasksByAddress(%s) = %d tasks (%q), %v; want %q", addr, len(ts), got, err, want)
				}
			}
			if cs, err := ContainersByAddress(ctx, r, netip.MustParseAddr("172.17.0.3")); err != nil || len(cs) != 1 || cs[0].Name != "br-app" {
				t.Errorf("ContainersByAddress = %v, %v; want br-app", cs, err)
			}
			for id, want := range map[string]string{"cred-r": "role", "cred-x": "role", "cred-none": "", "": ""} {
				ts, err := TasksByCredentialsID(ctx, r, id)
				var got string
				if len(ts) > 0 {
					got = ts[0].Name
				}
				if err != nil || len(ts) > 1 || got != want {
					t.Errorf("TasksByCredentialsID(%q) = %d tasks (%q), %v; want %q", id, len(ts), got, err, want)
				}
			}
		})
	}
}
