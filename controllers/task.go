package controllers

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// TaskReconciler owns the task-level rules (spec §6.2): it derives each container's desired
// status from the task's, stops the task when an essential container stops, aggregates the
// containers' known statuses into the task's and schedules its cleanup. It never calls the
// runtime.
type TaskReconciler struct {
	Client  client.Client
	Clock   clock.PassiveClock
	Log     logr.Logger
	Options TaskOptions
}

// Reconcile takes one task one step.
func (r *TaskReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	t, err := getTask(ctx, r.Client, req.NamespacedName)
	if err != nil || t == nil {
		return reconcile.Result{}, err
	}
	sib, err := siblings(ctx, r.Client, t)
	if err != nil {
		return reconcile.Result{}, err
	}
	// An essential container that stopped, or will stop, takes the task down with it.
	stopReason := ""
	if t.Spec.Invalid != "" {
		stopReason = t.Spec.Invalid
	}
	for _, name := range t.Spec.Containers {
		c, ok := sib[name]
		if !ok || !c.Spec.Essential || stopReason != "" {
			continue
		}
		if c.Status.KnownStatus == api.ContainerStatusStopped || desiredContainer(c) == api.ContainerStatusStopped {
			stopReason = ReasonEssential
			if c.Status.Reason != "" {
				stopReason = c.Status.Reason
			}
		}
	}
	desired := t.DesiredStatus()
	if stopReason != "" {
		desired = api.TaskStatusStopped
	}

	// Containers follow the task: RUNNING while it runs, STOPPED once it stops. Desired
	// status only ever moves forward.
	want := api.ContainerStatusRunning
	if desired == api.TaskStatusStopped {
		want = api.ContainerStatusStopped
	}
	for _, name := range t.Spec.Containers {
		c, ok := sib[name]
		if !ok || !desiredContainer(c).Before(want) {
			continue
		}
		updated, err := updateStatus(ctx, r.Client, c, func(c *api.Container) bool {
			if !desiredContainer(c).Before(want) {
				return false
			}
			c.Status.DesiredStatus = want
			return true
		})
		if err != nil {
			return reconcile.Result{}, err
		}
		sib[name] = updated
	}

	known := aggregateKnown(t, sib)
	now := r.Clock.Now()
	updated, err := updateStatus(ctx, r.Client, t, func(t *api.Task) bool {
		changed := false
		if stopReason != "" && t.Status.DesiredStatus != api.TaskStatusStopped {
			t.Status.DesiredStatus = api.TaskStatusStopped
			changed = true
		}
		// A StopTask from ECS carries its own reason; the engine explains only its own stops.
		if stopReason != "" && t.Status.StoppedReason == "" && (t.Spec.DesiredStatus != api.TaskStatusStopped || t.Spec.Invalid != "") {
			t.Status.StoppedReason = truncate(stopReason, 1024)
			changed = true
		}
		changed = setTimestamps(t, sib, now) || changed
		if t.Status.KnownStatus.OrNone().Before(known) {
			from := t.Status.KnownStatus.OrNone()
			t.Status.KnownStatus = known
			t.Status.KnownStatusTime = metaTime(now)
			t.Status.History = appendHistory(t.Status.History, string(from), string(known), t.Status.StoppedReason, now)
			changed = true
		}
		if t.Status.KnownStatus == api.TaskStatusStopped && t.Status.CleanupAt == nil {
			wait := r.Options.CleanupWait
			if r.Options.CleanupJitter > 0 {
				wait += rand.N(r.Options.CleanupJitter)
			}
			at := metav1.NewTime(t.Status.KnownStatusTime.Add(wait))
			t.Status.CleanupAt = &at
			changed = true
		}
		return changed
	})
	if err != nil {
		return reconcile.Result{}, err
	}
	if updated.Status.KnownStatus != t.Status.KnownStatus {
		r.Log.Info("task status changed", "task", t.Spec.ARN, "from", t.Status.KnownStatus.OrNone(),
			"to", updated.Status.KnownStatus, "reason", updated.Status.StoppedReason)
	}
	return reconcile.Result{}, nil
}

// aggregateKnown maps each container's known status to a task status and takes the
// minimum (spec §6.2). A task whose containers are all missing stays where it is, except
// an invalid task with no containers, which is STOPPED.
func aggregateKnown(t *api.Task, sib map[string]*api.Container) api.TaskState {
	if len(t.Spec.Containers) == 0 {
		if t.DesiredStatus() == api.TaskStatusStopped {
			return api.TaskStatusStopped
		}
		return api.TaskStatusNone
	}
	min := api.TaskStatusZombie
	for _, name := range t.Spec.Containers {
		c, ok := sib[name]
		if !ok {
			return api.TaskStatusNone
		}
		var s api.TaskState
		switch c.Status.KnownStatus.OrNone() {
		case api.ContainerStatusNone:
			s = api.TaskStatusNone
		case api.ContainerStatusManifestPulled, api.ContainerStatusPulled:
			s = api.TaskStatusManifestPulled
		case api.ContainerStatusCreated:
			s = api.TaskStatusCreated
		case api.ContainerStatusRunning, api.ContainerStatusResourcesProvisioned:
			s = api.TaskStatusRunning
		default:
			s = api.TaskStatusStopped
		}
		if s.Before(min) {
			min = s
		}
	}
	return min
}

// setTimestamps derives the task's pull and execution timestamps from its containers; now
// stands in for the stop time of an essential container that has none.
func setTimestamps(t *api.Task, sib map[string]*api.Container, now time.Time) bool {
	changed := false
	allPulled := len(sib) == len(t.Spec.Containers)
	var pullStop, execStop *metav1.Time
	for _, name := range t.Spec.Containers {
		c, ok := sib[name]
		if !ok {
			continue
		}
		if p := c.Status.PullStartedAt; p != nil && (t.Status.PullStartedAt == nil || p.Before(t.Status.PullStartedAt)) {
			t.Status.PullStartedAt = p.DeepCopy()
			changed = true
		}
		if c.Status.PullStoppedAt == nil {
			allPulled = false
		} else if pullStop == nil || pullStop.Before(c.Status.PullStoppedAt) {
			pullStop = c.Status.PullStoppedAt
		}
		// The first essential container to stop ends the execution: when several are
		// found stopped in one pass, the earliest finish counts, not definition order.
		if c.Spec.Essential && c.Status.KnownStatus == api.ContainerStatusStopped && t.Status.ExecutionStoppedAt == nil {
			at := c.Status.FinishedAt
			if at == nil {
				at = metaTime(now)
			}
			if execStop == nil || at.Before(execStop) {
				execStop = at
			}
		}
	}
	if execStop != nil {
		t.Status.ExecutionStoppedAt = execStop.DeepCopy()
		changed = true
	}
	if allPulled && pullStop != nil && t.Status.PullStoppedAt == nil {
		t.Status.PullStoppedAt = pullStop.DeepCopy()
		changed = true
	}
	return changed
}
