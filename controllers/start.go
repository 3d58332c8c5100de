package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// maxStartAttempts bounds retries of a failed start.
const maxStartAttempts = 3

// needsStart: the container should run and is created, or runs and must be watched for
// exits and health.
func needsStart(c *api.Container) bool {
	if desiredContainer(c) != api.ContainerStatusRunning {
		return false
	}
	k := c.Status.KnownStatus.OrNone()
	return k == api.ContainerStatusCreated || k == api.ContainerStatusRunning
}

// reconcileStart owns → RUNNING and everything that happens while a container runs: exits,
// the restart policy and health checks.
func (e *Engine) reconcileStart(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	s, err := e.loadContainer(ctx, req.NamespacedName)
	if err != nil || s == nil || !needsStart(s.c) {
		return reconcile.Result{}, err
	}
	if s.c.Status.KnownStatus == api.ContainerStatusRunning {
		return e.watchRunning(ctx, s)
	}
	v := checkDependencies(s.c, s.siblings, e.clk.Now())
	if v.failure != "" {
		return reconcile.Result{}, e.failContainer(ctx, s.c, v.failure)
	}
	if !v.ok {
		return reconcile.Result{RequeueAfter: v.recheckIn}, nil
	}
	sctx, cancel := context.WithTimeout(ctx, e.s.StartTimeout)
	defer cancel()
	if err := e.rt.StartContainer(sctx, s.c.Status.RuntimeID); err != nil {
		withinTimeout := s.c.Status.CreatedAt != nil && e.clk.Since(s.c.Status.CreatedAt.Time) < e.s.StartTimeout
		switch {
		case errors.Is(err, runtime.ErrUnavailable):
			return reconcile.Result{}, err
		case sctx.Err() == nil && withinTimeout && s.c.Status.StartAttempts < maxStartAttempts:
			// containerd and runc can refuse a start while a killed agent's start of the same
			// container is still being undone; retry a few times before giving up.
			attempts := s.c.Status.StartAttempts + 1
			if _, uerr := e.updateContainerStatus(ctx, s.c, func(c *api.Container) bool {
				c.Status.StartAttempts = attempts
				c.Status.LastError = truncate(err.Error(), 1024)
				return true
			}); uerr != nil {
				return reconcile.Result{}, uerr
			}
			e.log.Info("start failed; retrying", "container", s.c.Name, "attempt", attempts, "error", err.Error())
			return reconcile.Result{RequeueAfter: time.Duration(attempts) * 500 * time.Millisecond}, nil
		case sctx.Err() != nil && ctx.Err() == nil:
			return reconcile.Result{}, e.failContainer(ctx, s.c, fmt.Sprintf("%s: Could not transition to started; timed out after waiting %s", ReasonTimeout, e.s.StartTimeout))
		default:
			return reconcile.Result{}, e.failContainer(ctx, s.c, fmt.Sprintf("%s: %v", ReasonStart, err))
		}
	}
	e.writeMetadataReady(s.task, s.c)
	c, err := e.updateContainerStatus(ctx, s.c, func(c *api.Container) bool {
		if c.Status.KnownStatus != api.ContainerStatusCreated {
			return false
		}
		now := e.clk.Now()
		c.Status.StartedAt = metaTime(now)
		if c.Spec.HealthCheck != nil && !e.s.DisableHealthCheck {
			c.Status.Health = &api.Health{Status: api.HealthUnknown, Since: metaTime(now)}
		}
		setContainerKnown(c, api.ContainerStatusRunning, "", now)
		return true
	})
	if err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: e.nextHealthCheck(c)}, nil
}

// watchRunning checks a running container against the runtime: an exit is recorded or,
// under the restart policy, restarted in place; a due health check is run.
func (e *Engine) watchRunning(ctx context.Context, s *containerScope) (reconcile.Result, error) {
	st, err := e.rt.InspectContainer(ctx, s.c.Status.RuntimeID)
	if errors.Is(err, runtime.ErrNotFound) {
		_, err = e.updateContainerStatus(ctx, s.c, func(c *api.Container) bool {
			if c.Status.KnownStatus != api.ContainerStatusRunning {
				return false
			}
			c.Status.Reason = ReasonVanished
			now := e.clk.Now()
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
		if e.shouldRestart(s.c, st) {
			return e.restart(ctx, s.c, st)
		}
		_, err := e.updateContainerStatus(ctx, s.c, func(c *api.Container) bool { return recordExit(c, st, e.clk.Now()) })
		return reconcile.Result{}, err
	}
	if st.Status != runtime.StatusRunning {
		return reconcile.Result{}, nil
	}
	return e.healthCheck(ctx, s.c)
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
func (e *Engine) shouldRestart(c *api.Container, st runtime.ContainerState) bool {
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
func (e *Engine) restart(ctx context.Context, c *api.Container, st runtime.ContainerState) (reconcile.Result, error) {
	if err := e.rt.StartContainer(ctx, c.Status.RuntimeID); err != nil {
		if errors.Is(err, runtime.ErrUnavailable) {
			return reconcile.Result{}, err
		}
		e.log.Error(err, "restart failed; recording the exit", "container", c.Name)
		_, err := e.updateContainerStatus(ctx, c, func(c *api.Container) bool { return recordExit(c, st, e.clk.Now()) })
		return reconcile.Result{}, err
	}
	updated, err := e.updateContainerStatus(ctx, c, func(c *api.Container) bool {
		c.Status.RestartCount++
		now := e.clk.Now()
		c.Status.LastRestartAt = metaTime(now)
		c.Status.StartedAt = metaTime(now)
		c.Status.History = appendHistory(c.Status.History, string(api.ContainerStatusRunning), string(api.ContainerStatusRunning),
			fmt.Sprintf("restarted by the restart policy after exit code %d", st.ExitCode), now)
		if c.Status.Health != nil {
			c.Status.Health = &api.Health{Status: api.HealthUnknown, Since: metaTime(now)}
		}
		return true
	})
	if err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: e.nextHealthCheck(updated)}, nil
}
