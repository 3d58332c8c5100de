package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// maxStartAttempts bounds retries of a failed start.
const maxStartAttempts = 3

// needsStart: the container should run and is created, or runs and must be watched for
// exits.
func needsStart(c *api.Container) bool {
	if desiredContainer(c) != api.ContainerStatusRunning {
		return false
	}
	k := c.Status.KnownStatus.OrNone()
	return k == api.ContainerStatusCreated || k == api.ContainerStatusRunning
}

// startRuntime is what the start step needs of the runtime.
type startRuntime interface {
	StartContainer(ctx context.Context, id string) error
	InspectContainer(ctx context.Context, id string) (runtime.ContainerState, error)
}

// StartReconciler owns → RUNNING and what happens to a running container's process: exits
// and the restart policy. Health checks are HealthReconciler's.
type StartReconciler struct {
	Client  client.Client
	Runtime startRuntime
	Clock   clock.PassiveClock
	Log     logr.Logger

	DataDir  string
	Options  StartOptions
	Metadata MetadataOptions
	// HealthChecks marks a container with a health check UNKNOWN when it starts
	// (ECS_DISABLE_DOCKER_HEALTH_CHECK off).
	HealthChecks bool
}

// Reconcile takes one container one step towards RUNNING, or records its exit.
func (r *StartReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	s, err := loadContainer(ctx, r.Client, req.NamespacedName)
	if err != nil || s == nil || !needsStart(s.c) {
		return reconcile.Result{}, err
	}
	if s.c.Status.KnownStatus == api.ContainerStatusRunning {
		return r.watchRunning(ctx, s)
	}
	v := checkDependencies(s.c, s.siblings, r.Clock.Now())
	if v.failure != "" {
		return reconcile.Result{}, failDependent(ctx, r.Client, s.c, v.failure)
	}
	if !v.ok {
		return reconcile.Result{RequeueAfter: v.recheckIn}, nil
	}
	sctx, cancel := context.WithTimeout(ctx, r.Options.Timeout)
	defer cancel()
	if err := r.Runtime.StartContainer(sctx, s.c.Status.RuntimeID); err != nil {
		withinTimeout := s.c.Status.CreatedAt != nil && r.Clock.Since(s.c.Status.CreatedAt.Time) < r.Options.Timeout
		switch {
		case errors.Is(err, runtime.ErrUnavailable):
			return reconcile.Result{}, err
		case sctx.Err() == nil && withinTimeout && s.c.Status.StartAttempts < maxStartAttempts:
			// containerd and runc can refuse a start while a killed agent's start of the same
			// container is still being undone; retry a few times before giving up.
			attempts := s.c.Status.StartAttempts + 1
			if _, uerr := updateStatus(ctx, r.Client, s.c, func(c *api.Container) bool {
				c.Status.StartAttempts = attempts
				c.Status.LastError = truncate(err.Error(), 1024)
				return true
			}); uerr != nil {
				return reconcile.Result{}, uerr
			}
			r.Log.Info("start failed; retrying", "container", s.c.Name, "attempt", attempts, "error", err.Error())
			return reconcile.Result{RequeueAfter: time.Duration(attempts) * 500 * time.Millisecond}, nil
		case sctx.Err() != nil && ctx.Err() == nil:
			return reconcile.Result{}, failContainer(ctx, r.Client, s.c, fmt.Sprintf("%s: Could not transition to started; timed out after waiting %s", ReasonTimeout, r.Options.Timeout))
		default:
			return reconcile.Result{}, failContainer(ctx, r.Client, s.c, fmt.Sprintf("%s: %v", ReasonStart, err))
		}
	}
	if err := writeMetadataReady(r.DataDir, r.Metadata, s.task, s.c); err != nil {
		// The container runs either way; readers keep waiting for READY, as they would
		// with the reference agent after a failed write.
		r.Log.Error(err, "cannot write the container metadata file", "container", s.c.Name)
	}
	_, err = updateStatus(ctx, r.Client, s.c, func(c *api.Container) bool {
		if c.Status.KnownStatus != api.ContainerStatusCreated {
			return false
		}
		now := r.Clock.Now()
		c.Status.StartedAt = metaTime(now)
		if c.Spec.HealthCheck != nil && r.HealthChecks {
			c.Status.Health = &api.Health{Status: api.HealthUnknown, Since: metaTime(now)}
		}
		setContainerKnown(c, api.ContainerStatusRunning, "", now)
		return true
	})
	return reconcile.Result{}, err
}

// watchRunning checks a running container against the runtime: an exit is recorded or,
// under the restart policy, restarted in place.
func (r *StartReconciler) watchRunning(ctx context.Context, s *containerScope) (reconcile.Result, error) {
	st, err := r.Runtime.InspectContainer(ctx, s.c.Status.RuntimeID)
	if errors.Is(err, runtime.ErrNotFound) {
		_, err = updateStatus(ctx, r.Client, s.c, func(c *api.Container) bool {
			if c.Status.KnownStatus != api.ContainerStatusRunning {
				return false
			}
			c.Status.Reason = ReasonVanished
			now := r.Clock.Now()
			c.Status.FinishedAt = metaTime(now)
			setContainerKnown(c, api.ContainerStatusStopped, ReasonVanished, now)
			return true
		})
		return reconcile.Result{}, err
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	if st.Status == runtime.StatusStopped {
		if shouldRestart(s.c, st) {
			return r.restart(ctx, s.c, st)
		}
		_, err := updateStatus(ctx, r.Client, s.c, func(c *api.Container) bool { return recordExit(c, st, r.Clock.Now()) })
		return reconcile.Result{}, err
	}
	return reconcile.Result{}, nil
}

// recordExit marks c STOPPED with the runtime's exit code and time; now stands in for an
// exit time the runtime does not know and stamps the history.
func recordExit(c *api.Container, st runtime.ContainerState, now time.Time) bool {
	if c.Status.KnownStatus.OrNone() == api.ContainerStatusStopped {
		return false
	}
	code := st.ExitCode
	c.Status.ExitCode = &code
	fin := st.FinishedAt
	if fin.IsZero() {
		fin = now
	}
	t := metav1.NewTime(fin)
	c.Status.FinishedAt = &t
	reason := fmt.Sprintf("exited with code %d", code)
	switch {
	case st.OOMKilled:
		c.Status.Reason = ReasonOOM
		reason = ReasonOOM
	case st.StartError != "":
		// The process never ran: say why, as a failed start, instead of a bare exit code.
		c.Status.Reason = ReasonStart + ": " + st.StartError
		reason = c.Status.Reason
	}
	setContainerKnown(c, api.ContainerStatusStopped, reason, now)
	return true
}

// shouldRestart applies the container restart policy (spec §6.2).
func shouldRestart(c *api.Container, st runtime.ContainerState) bool {
	p := c.Spec.RestartPolicy
	if p == nil || !p.Enabled || desiredContainer(c) == api.ContainerStatusStopped {
		return false
	}
	if slices.Contains(p.IgnoredExitCodes, st.ExitCode) {
		return false
	}
	since := c.Status.StartedAt
	if c.Status.LastRestartAt != nil {
		since = c.Status.LastRestartAt
	}
	period := time.Duration(p.RestartAttemptPeriod) * time.Second
	return since == nil || st.FinishedAt.IsZero() || st.FinishedAt.Sub(since.Time) >= period
}

// restart starts an exited container again in place; the exit is not reported.
func (r *StartReconciler) restart(ctx context.Context, c *api.Container, st runtime.ContainerState) (reconcile.Result, error) {
	if err := r.Runtime.StartContainer(ctx, c.Status.RuntimeID); err != nil {
		if errors.Is(err, runtime.ErrUnavailable) {
			return reconcile.Result{}, err
		}
		r.Log.Error(err, "restart failed; recording the exit", "container", c.Name)
		_, err := updateStatus(ctx, r.Client, c, func(c *api.Container) bool { return recordExit(c, st, r.Clock.Now()) })
		return reconcile.Result{}, err
	}
	_, err := updateStatus(ctx, r.Client, c, func(c *api.Container) bool {
		c.Status.RestartCount++
		now := r.Clock.Now()
		c.Status.LastRestartAt = metaTime(now)
		c.Status.StartedAt = metaTime(now)
		c.Status.History = appendHistory(c.Status.History, string(api.ContainerStatusRunning), string(api.ContainerStatusRunning),
			fmt.Sprintf("restarted by the restart policy after exit code %d", st.ExitCode), now)
		if c.Status.Health != nil {
			c.Status.Health = &api.Health{Status: api.HealthUnknown, Since: metaTime(now)}
		}
		return true
	})
	return reconcile.Result{}, err
}
