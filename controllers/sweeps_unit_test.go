package controllers

import (
	"context"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/fake"
)

// TestNetworkSweep: which network state the sweep tears down. A network belongs to a bridge
// container (ID = container name) or an awsvpc task (ID = task name); it is kept while its
// owner runs or still has to release it, and torn down when no live object accounts for it.
func TestNetworkSweep(t *testing.T) {
	netOf := func(id string, released bool) *api.NetworkStatus {
		n := &api.NetworkStatus{ID: id}
		if released {
			n.ReleasedAt = unitAgo(1)
		}
		return n
	}
	container := func(name string, known api.ContainerState, n *api.NetworkStatus) client.Object {
		return &api.Container{ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: name},
			Status: api.ContainerStatus{KnownStatus: known, Network: n}}
	}
	task := func(name string, known api.TaskState, n *api.NetworkStatus) client.Object {
		return &api.Task{ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: name},
			Status: api.TaskStatus{KnownStatus: known, Network: n}}
	}
	objs := []client.Object{
		// Kept: the owner runs (its setup may still be writing its status), or it stopped
		// and its release is still due.
		container("keep-ctr-running", api.ContainerStatusRunning, nil),
		container("keep-ctr-unreleased", api.ContainerStatusStopped, netOf("keep-ctr-unreleased", false)),
		task("keep-task-running", api.TaskStatusRunning, nil),
		task("keep-task-unreleased", api.TaskStatusStopped, netOf("keep-task-unreleased", false)),
		// Swept: the owner stopped and released it (a teardown lost half-way), or stopped
		// without a network status (a crash between setup and the status write).
		container("sweep-ctr-released", api.ContainerStatusStopped, netOf("sweep-ctr-released", true)),
		container("sweep-ctr-no-status", api.ContainerStatusStopped, nil),
		task("sweep-task-released", api.TaskStatusStopped, netOf("sweep-task-released", true)),
	}
	ids := []string{"keep-ctr-running", "keep-ctr-unreleased", "keep-task-running", "keep-task-unreleased",
		"sweep-ctr-released", "sweep-ctr-no-status", "sweep-task-released", "sweep-nobody"}
	ctx := context.Background()
	net := fake.NewNetwork()
	for _, id := range ids {
		if _, err := net.Setup(ctx, runtime.NetworkRequest{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	st := testutil.Store(t, objs...)
	NetworkSweep{Client: st.DirectClient(), Network: net, Log: testutil.Logger(t)}.Sweep(ctx)

	left, err := net.IDs()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, id := range ids {
		if strings.HasPrefix(id, "keep-") {
			want = append(want, id)
		}
	}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("networks left %v, want %v", left, want)
	}

	// A second pass finds nothing more to do: the sweep is idempotent.
	before := len(net.Calls)
	NetworkSweep{Client: st.DirectClient(), Network: net, Log: testutil.Logger(t)}.Sweep(ctx)
	for _, c := range net.Calls[before:] {
		t.Errorf("second sweep called %q", c)
	}
}
