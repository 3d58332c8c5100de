package controllers

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/runtime/fake"
)

// unitNetwork gives a container a bridge network status with ID n1, not yet released.
func unitNetwork(c *api.Container) {
	c.Status.Network = &api.NetworkStatus{ID: "n1", NetNSPath: "/run/fake/netns/n1", IPv4Address: "10.88.0.2"}
}

// TestReleaseReconciler: a stopped bridge container gives its network back once (Docker
// frees a stopped container's ports and address at once, not at task cleanup), and a
// failed teardown is retried rather than marked released.
func TestReleaseReconciler(t *testing.T) {
	released := func(c *api.Container) { c.Status.Network.ReleasedAt = unitAgo(time.Minute) }
	for _, tc := range []struct {
		name         string
		c            *api.Container
		teardownErr  error
		wantTeardown bool
		wantErr      bool
		// wantReleasedAt: the status then says the network is released, at the clock's time
		// when this reconcile released it.
		wantReleasedAt *time.Time
	}{
		{name: "a running container keeps its network",
			c: unitContainer("app", api.ContainerStatusRunning, api.ContainerStatusRunning, unitNetwork)},
		{name: "a stopped container without a network of its own has nothing to release",
			c: unitContainer("app", api.ContainerStatusStopped, api.ContainerStatusStopped)},
		{name: "a stopped container's network is torn down and marked released",
			c:            unitContainer("app", api.ContainerStatusStopped, api.ContainerStatusStopped, unitNetwork),
			wantTeardown: true, wantReleasedAt: ptrTo(testutil.Epoch())},
		{name: "a network released before is not torn down again",
			c: unitContainer("app", api.ContainerStatusStopped, api.ContainerStatusStopped, unitNetwork, released)},
		{name: "a failed teardown is an error and leaves the network unreleased (retried)",
			c:           unitContainer("app", api.ContainerStatusStopped, api.ContainerStatusStopped, unitNetwork),
			teardownErr: errors.New("cni: plugin bridge failed"), wantTeardown: true, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := testutil.Store(t, tc.c)
			net := fake.NewNetwork()
			net.TeardownErr = tc.teardownErr
			r := &ReleaseReconciler{Client: st.DirectClient(), Network: net, Clock: testutil.Clock()}
			res, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(tc.c)})
			if (err != nil) != tc.wantErr || res != (reconcile.Result{}) {
				t.Fatalf("Reconcile = %+v, %v; want an error: %v", res, err, tc.wantErr)
			}
			if got := slices.Contains(net.Calls, "teardown n1"); got != tc.wantTeardown {
				t.Errorf("network calls %v; want a teardown of n1: %v", net.Calls, tc.wantTeardown)
			}
			got := &api.Container{}
			if err := st.DirectClient().Get(ctx, client.ObjectKeyFromObject(tc.c), got); err != nil {
				t.Fatal(err)
			}
			if tc.wantReleasedAt != nil {
				if got.Status.Network.ReleasedAt == nil || !got.Status.Network.ReleasedAt.Time.Equal(*tc.wantReleasedAt) {
					t.Errorf("releasedAt = %v, want %v", got.Status.Network.ReleasedAt, *tc.wantReleasedAt)
				}
			} else if got.Status.Network != nil && tc.c.Status.Network.ReleasedAt == nil && got.Status.Network.ReleasedAt != nil {
				t.Errorf("released at %v, want still held", got.Status.Network.ReleasedAt)
			}
		})
	}
}

// TestReleaseReconcilerGone: a container deleted meanwhile is no error.
func TestReleaseReconcilerGone(t *testing.T) {
	st := testutil.Store(t)
	r := &ReleaseReconciler{Client: st.DirectClient(), Network: fake.NewNetwork(), Clock: testutil.Clock()}
	req := reconcile.Request{NamespacedName: clientKey(api.ContainerName(unitTaskName, "app"))}
	if res, err := r.Reconcile(context.Background(), req); err != nil || res != (reconcile.Result{}) {
		t.Fatalf("Reconcile of a deleted container = %+v, %v", res, err)
	}
}

func ptrTo[T any](v T) *T { return &v }
