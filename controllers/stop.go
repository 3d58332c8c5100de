package controllers

import (
	"context"
	"errors"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// needsStop: the container must stop and has not been seen stopped.
func needsStop(c *api.Container) bool {
	return desiredContainer(c) == api.ContainerStatusStopped && c.Status.KnownStatus.OrNone().Before(api.ContainerStatusStopped)
}

// stopRuntime is what the stop step needs of the runtime.
type stopRuntime interface {
	InspectContainer(ctx context.Context, id string) (runtime.ContainerState, error)
	Signal(ctx context.Context, id string, sig syscall.Signal) error
}

// StopReconciler owns → STOPPED. It never blocks on a container: it sends SIGTERM, records
// when, and comes back when the grace period ends to send SIGKILL, so one slow container
// never holds up any other task. Exit events bring it back early.
type StopReconciler struct {
	Client  client.Client
	Runtime stopRuntime
	Clock   clock.PassiveClock
	Options StopOptions
}

// stopTimeout is the container's SIGTERM→SIGKILL grace.
func (r *StopReconciler) stopTimeout(c *api.Container) time.Duration {
	if c.Spec.StopTimeout > 0 {
		return time.Duration(c.Spec.StopTimeout) * time.Second
	}
	return r.Options.Timeout
}

// Reconcile takes one container one step towards STOPPED.
func (r *StopReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	s, err := loadContainer(ctx, r.Client, req.NamespacedName)
	if err != nil || s == nil || !needsStop(s.c) {
		return reconcile.Result{}, err
	}
	c := s.c
	if c.Status.KnownStatus.OrNone().Before(api.ContainerStatusCreated) {
		// Never created: nothing to stop.
		_, err := updateStatus(ctx, r.Client, c, func(c *api.Container) bool {
			return setContainerKnown(c, api.ContainerStatusStopped, c.Status.Reason, r.Clock.Now())
		})
		return reconcile.Result{}, err
	}
	// Stop in reverse dependency order: wait for the containers that depend on this one.
	// Their changes re-enqueue this container.
	if deps := dependentsRunning(c, s.siblings); len(deps) > 0 {
		return reconcile.Result{}, nil
	}

	st, err := r.Runtime.InspectContainer(ctx, c.Status.RuntimeID)
	switch {
	case errors.Is(err, runtime.ErrNotFound):
		_, err = updateStatus(ctx, r.Client, c, func(c *api.Container) bool {
			if c.Status.KnownStatus == api.ContainerStatusRunning && c.Status.Reason == "" {
				c.Status.Reason = ReasonVanished
			}
			return setContainerKnown(c, api.ContainerStatusStopped, c.Status.Reason, r.Clock.Now())
		})
		return reconcile.Result{}, err
	case err != nil:
		return reconcile.Result{}, err
	}
	switch st.Status {
	case runtime.StatusStopped:
		_, err := updateStatus(ctx, r.Client, c, func(c *api.Container) bool { return recordExit(c, st, r.Clock.Now()) })
		return reconcile.Result{}, err
	case runtime.StatusCreated:
		// Created but never started: it has no exit code to report.
		_, err := updateStatus(ctx, r.Client, c, func(c *api.Container) bool {
			return setContainerKnown(c, api.ContainerStatusStopped, c.Status.Reason, r.Clock.Now())
		})
		return reconcile.Result{}, err
	}

	grace := r.stopTimeout(c)
	if c.Status.StopRequestedAt == nil {
		if err := r.Runtime.Signal(ctx, c.Status.RuntimeID, syscall.SIGTERM); err != nil {
			return reconcile.Result{}, err
		}
		if _, err := updateStatus(ctx, r.Client, c, func(c *api.Container) bool {
			if c.Status.StopRequestedAt != nil {
				return false
			}
			t := metav1.NewMicroTime(r.Clock.Now())
			c.Status.StopRequestedAt = &t
			return true
		}); err != nil {
			return reconcile.Result{}, err
		}
		return reconcile.Result{RequeueAfter: grace}, nil
	}
	if left := c.Status.StopRequestedAt.Add(grace).Sub(r.Clock.Now()); left > 0 {
		return reconcile.Result{RequeueAfter: left}, nil
	}
	if err := r.Runtime.Signal(ctx, c.Status.RuntimeID, syscall.SIGKILL); err != nil {
		return reconcile.Result{}, err
	}
	// The exit event re-enqueues it; the requeue is the safety net.
	return reconcile.Result{RequeueAfter: time.Second}, nil
}
