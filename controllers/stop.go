package controllers

import (
	"context"
	"errors"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// needsStop: the container must stop and has not been seen stopped.
func needsStop(c *api.Container) bool {
	return desiredContainer(c) == api.ContainerStatusStopped && c.Status.KnownStatus.OrNone().Before(api.ContainerStatusStopped)
}

// stopTimeout is the container's SIGTERM→SIGKILL grace.
func (e *Engine) stopTimeout(c *api.Container) time.Duration {
	if c.Spec.StopTimeout > 0 {
		return time.Duration(c.Spec.StopTimeout) * time.Second
	}
	return e.s.StopTimeout
}

// reconcileStop owns → STOPPED. It never blocks on a container: it sends SIGTERM, records
// when, and comes back when the grace period ends to send SIGKILL, so one slow container
// never holds up any other task. Exit events bring it back early.
func (e *Engine) reconcileStop(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	s, err := e.loadContainer(ctx, req.NamespacedName)
	if err != nil || s == nil || !needsStop(s.c) {
		return reconcile.Result{}, err
	}
	c := s.c
	if c.Status.KnownStatus.OrNone().Before(api.ContainerStatusCreated) {
		// Never created: nothing to stop.
		_, err := e.updateContainerStatus(ctx, c, func(c *api.Container) bool {
			return setContainerKnown(c, api.ContainerStatusStopped, c.Status.Reason, e.clk.Now())
		})
		return reconcile.Result{}, err
	}
	// Stop in reverse dependency order: wait for the containers that depend on this one.
	// Their changes re-enqueue this container.
	if deps := dependentsRunning(c, s.siblings); len(deps) > 0 {
		return reconcile.Result{}, nil
	}

	st, err := e.rt.InspectContainer(ctx, c.Status.RuntimeID)
	switch {
	case errors.Is(err, runtime.ErrNotFound):
		_, err = e.updateContainerStatus(ctx, c, func(c *api.Container) bool {
			if c.Status.KnownStatus == api.ContainerStatusRunning && c.Status.Reason == "" {
				c.Status.Reason = ReasonVanished
			}
			return setContainerKnown(c, api.ContainerStatusStopped, c.Status.Reason, e.clk.Now())
		})
		return reconcile.Result{}, err
	case err != nil:
		return reconcile.Result{}, err
	}
	switch st.Status {
	case runtime.StatusStopped:
		_, err := e.updateContainerStatus(ctx, c, func(c *api.Container) bool { return recordExit(c, st, e.clk.Now()) })
		return reconcile.Result{}, err
	case runtime.StatusCreated:
		// Created but never started: it has no exit code to report.
		_, err := e.updateContainerStatus(ctx, c, func(c *api.Container) bool {
			return setContainerKnown(c, api.ContainerStatusStopped, c.Status.Reason, e.clk.Now())
		})
		return reconcile.Result{}, err
	}

	grace := e.stopTimeout(c)
	if c.Status.StopRequestedAt == nil {
		if err := e.rt.Signal(ctx, c.Status.RuntimeID, syscall.SIGTERM); err != nil {
			return reconcile.Result{}, err
		}
		if _, err := e.updateContainerStatus(ctx, c, func(c *api.Container) bool {
			if c.Status.StopRequestedAt != nil {
				return false
			}
			t := metav1.NewMicroTime(e.clk.Now())
			c.Status.StopRequestedAt = &t
			return true
		}); err != nil {
			return reconcile.Result{}, err
		}
		return reconcile.Result{RequeueAfter: grace}, nil
	}
	if left := c.Status.StopRequestedAt.Add(grace).Sub(e.clk.Now()); left > 0 {
		return reconcile.Result{RequeueAfter: left}, nil
	}
	if err := e.rt.Signal(ctx, c.Status.RuntimeID, syscall.SIGKILL); err != nil {
		return reconcile.Result{}, err
	}
	// The exit event re-enqueues it; the requeue is the safety net.
	return reconcile.Result{RequeueAfter: time.Second}, nil
}
