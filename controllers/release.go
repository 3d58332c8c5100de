package controllers

import (
	"context"
	"fmt"

	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// needsRelease: a bridge container that stopped still holds its namespace, address and
// host ports.
func needsRelease(c *api.Container) bool {
	return c.Status.KnownStatus == api.ContainerStatusStopped && c.Status.Network != nil && c.Status.Network.ReleasedAt == nil
}

// ReleaseReconciler returns a stopped bridge container's host ports and address, as Docker
// does when a container stops, and removes its namespace.
type ReleaseReconciler struct {
	Client  client.Client
	Network runtime.Network
	Clock   clock.PassiveClock
}

// Reconcile releases one stopped container's network.
func (r *ReleaseReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	c := &api.Container{}
	if err := r.Client.Get(ctx, req.NamespacedName, c); err != nil || !needsRelease(c) {
		return reconcile.Result{}, client404(err)
	}
	if err := r.Network.Teardown(ctx, c.Status.Network.ID); err != nil {
		return reconcile.Result{}, fmt.Errorf("release network of %s: %w", c.Name, err)
	}
	_, err := updateStatus(ctx, r.Client, c, func(c *api.Container) bool {
		if !needsRelease(c) {
			return false
		}
		c.Status.Network.ReleasedAt = metaTime(r.Clock.Now())
		return true
	})
	return reconcile.Result{}, err
}
