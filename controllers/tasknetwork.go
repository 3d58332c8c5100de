package controllers

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// TaskNetworkReconciler tears down an awsvpc task's namespace once every container stopped:
// the ENI goes back to the host and its attachment is marked DETACHED.
type TaskNetworkReconciler struct {
	Client  client.Client
	Network runtime.Network
	Clock   clock.PassiveClock
}

// Reconcile releases one stopped task's network.
func (r *TaskNetworkReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	t := &api.Task{}
	if err := r.Client.Get(ctx, req.NamespacedName, t); err != nil {
		return reconcile.Result{}, client404(err)
	}
	n := t.Status.Network
	if n == nil || n.ReleasedAt != nil || r.Network == nil {
		return reconcile.Result{}, nil
	}
	sib, err := siblings(ctx, r.Client, t)
	if err != nil {
		return reconcile.Result{}, err
	}
	for _, c := range sib {
		if c.Status.KnownStatus != api.ContainerStatusStopped {
			return reconcile.Result{}, nil
		}
	}
	if err := r.Network.Teardown(ctx, n.ID); err != nil {
		return reconcile.Result{}, fmt.Errorf("release network of task %s: %w", t.Name, err)
	}
	for _, name := range t.Spec.ENIs {
		att := &api.Attachment{ObjectMeta: metav1.ObjectMeta{Namespace: t.Namespace, Name: name}}
		if err := setAttachment(ctx, r.Client, att, api.AttachmentDetached, ""); err != nil {
			return reconcile.Result{}, err
		}
	}
	_, err = updateStatus(ctx, r.Client, t, func(t *api.Task) bool {
		if t.Status.Network == nil || t.Status.Network.ReleasedAt != nil {
			return false
		}
		t.Status.Network.ReleasedAt = metaTime(r.Clock.Now())
		return true
	})
	return reconcile.Result{}, err
}
