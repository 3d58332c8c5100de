package controllers

import (
	"context"
	"errors"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/runtime/fake"
)

// TestTaskNetworkReconciler: an awsvpc task's namespace (and so its ENI) is given back only
// once every container stopped, exactly once, and its attachment is then DETACHED.
func TestTaskNetworkReconciler(t *testing.T) {
	const eni = "eni-attachment-1"
	for _, tc := range []struct {
		name         string
		noNetwork    bool
		released     bool
		sidecar      api.ContainerState
		teardownErr  error
		wantTeardown bool
		wantErr      bool
	}{
		{name: "a task without a network of its own has nothing to release",
			noNetwork: true, sidecar: api.ContainerStatusStopped},
		{name: "a container still running keeps the task's network",
			sidecar: api.ContainerStatusRunning},
		{name: "every container stopped: torn down, released, ENI detached",
			sidecar: api.ContainerStatusStopped, wantTeardown: true},
		{name: "a network released before is not torn down again",
			released: true, sidecar: api.ContainerStatusStopped},
		{name: "a failed teardown is an error and leaves the ENI attached (retried)",
			sidecar: api.ContainerStatusStopped, teardownErr: errors.New("cni: plugin failed"),
			wantTeardown: true, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			task := unitTask("app", "sidecar")
			task.Spec.ENIs = []string{eni}
			task.Status.KnownStatus = api.TaskStatusStopped
			if !tc.noNetwork {
				task.Status.Network = &api.NetworkStatus{ID: "task-net", NetNSPath: "/run/fake/netns/task-net"}
				if tc.released {
					task.Status.Network.ReleasedAt = unitAgo(1)
				}
			}
			att := &api.Attachment{ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: eni},
				Status: api.AttachmentStatus{Status: api.AttachmentAttached}}
			st := testutil.Store(t, task, att,
				unitContainer("app", api.ContainerStatusStopped, api.ContainerStatusStopped),
				unitContainer("sidecar", tc.sidecar, api.ContainerStatusStopped))
			net := fake.NewNetwork()
			net.TeardownErr = tc.teardownErr
			r := &TaskNetworkReconciler{Client: st.DirectClient(), Network: net, Clock: testutil.Clock()}
			_, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(task)})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Reconcile error %v, want an error: %v", err, tc.wantErr)
			}
			if got := slices.Contains(net.Calls, "teardown task-net"); got != tc.wantTeardown {
				t.Errorf("network calls %v; want a teardown: %v", net.Calls, tc.wantTeardown)
			}
			gotTask, gotAtt := &api.Task{}, &api.Attachment{}
			if err := st.DirectClient().Get(ctx, client.ObjectKeyFromObject(task), gotTask); err != nil {
				t.Fatal(err)
			}
			if err := st.DirectClient().Get(ctx, client.ObjectKeyFromObject(att), gotAtt); err != nil {
				t.Fatal(err)
			}
			freed := tc.wantTeardown && !tc.wantErr
			if freed != (gotAtt.Status.Status == api.AttachmentDetached) {
				t.Errorf("attachment %q after the reconcile; want detached: %v", gotAtt.Status.Status, freed)
			}
			if freed && !gotTask.Status.Network.ReleasedAt.Time.Equal(testutil.Epoch()) {
				t.Errorf("task network released at %v, want the clock's time", gotTask.Status.Network.ReleasedAt)
			}
			if !freed && !tc.noNetwork && !tc.released && gotTask.Status.Network.ReleasedAt != nil {
				t.Errorf("task network marked released at %v, want still held", gotTask.Status.Network.ReleasedAt)
			}
		})
	}
}
