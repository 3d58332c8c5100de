package controllers

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// Docker's health-check defaults, which ECS task definitions inherit.
const (
	defaultHealthInterval = 30 * time.Second
	defaultHealthTimeout  = 30 * time.Second
	defaultHealthRetries  = 3
	maxHealthOutput       = 1024
)

type healthParams struct {
	cmd         []string
	interval    time.Duration
	timeout     time.Duration
	startPeriod time.Duration
	retries     int32
}

// needsHealthCheck: the container runs, should keep running and has a health check.
func needsHealthCheck(c *api.Container) bool {
	return desiredContainer(c) == api.ContainerStatusRunning && c.Status.KnownStatus == api.ContainerStatusRunning &&
		c.Spec.HealthCheck != nil
}

// healthRuntime is what the health step needs of the runtime.
type healthRuntime interface {
	InspectContainer(ctx context.Context, id string) (runtime.ContainerState, error)
	Exec(ctx context.Context, id string, cmd []string) (exitCode int, output string, err error)
}

// HealthReconciler runs the health checks of running containers when they are due, the way
// Docker does, and records the result in the container's status. It comes back at each
// container's next due check; a restart (StartReconciler) resets the health to UNKNOWN.
type HealthReconciler struct {
	Client  client.Client
	Runtime healthRuntime
	Clock   clock.PassiveClock
	Log     logr.Logger
	Options HealthOptions
}

// Reconcile runs one container's health check if it is due.
func (r *HealthReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	c := &api.Container{}
	if err := r.Client.Get(ctx, req.NamespacedName, c); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !needsHealthCheck(c) || healthParamsOf(c, r.Options) == nil {
		return reconcile.Result{}, nil
	}
	if d := r.nextHealthCheck(c); d > time.Millisecond {
		return reconcile.Result{RequeueAfter: d}, nil
	}
	// An exited container is StartReconciler's to record: its check must not count as failed.
	st, err := r.Runtime.InspectContainer(ctx, c.Status.RuntimeID)
	if err != nil {
		if errors.Is(err, runtime.ErrNotFound) {
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if st.Status != runtime.StatusRunning {
		return reconcile.Result{}, nil
	}
	return r.healthCheck(ctx, c)
}

// healthParamsOf returns nil when c has no health check to run.
func healthParamsOf(c *api.Container, o HealthOptions) *healthParams {
	hc := c.Spec.HealthCheck
	if hc == nil || o.Disable || len(hc.Test) == 0 {
		return nil
	}
	p := &healthParams{interval: hc.Interval.Duration, timeout: hc.Timeout.Duration, startPeriod: hc.StartPeriod.Duration, retries: hc.Retries}
	switch hc.Test[0] {
	case "NONE":
		return nil
	case "CMD":
		p.cmd = hc.Test[1:]
	case "CMD-SHELL":
		p.cmd = []string{"/bin/sh", "-c", strings.Join(hc.Test[1:], " ")}
	default:
		// A bare command list is how some clients send CMD.
		p.cmd = hc.Test
	}
	if len(p.cmd) == 0 {
		return nil
	}
	if p.interval <= 0 {
		p.interval = defaultHealthInterval
	}
	if p.timeout <= 0 {
		p.timeout = defaultHealthTimeout
	}
	if p.retries <= 0 {
		p.retries = defaultHealthRetries
	}
	return p
}

// nextHealthCheck is how long until c's next health check is due (0: none to run).
func (r *HealthReconciler) nextHealthCheck(c *api.Container) time.Duration {
	p := healthParamsOf(c, r.Options)
	if p == nil || c.Status.KnownStatus != api.ContainerStatusRunning {
		return 0
	}
	last := c.Status.StartedAt
	if c.Status.Health != nil && c.Status.Health.CheckedAt != nil && (last == nil || c.Status.Health.CheckedAt.After(last.Time)) {
		last = c.Status.Health.CheckedAt
	}
	if last == nil {
		return p.interval
	}
	d := last.Add(p.interval).Sub(r.Clock.Now())
	if d <= 0 {
		return time.Millisecond
	}
	return d
}

// healthCheck runs c's health check when it is due, the way Docker does: failures inside
// the start period do not count, retries consecutive failures make it UNHEALTHY, one
// success makes it HEALTHY.
func (r *HealthReconciler) healthCheck(ctx context.Context, c *api.Container) (reconcile.Result, error) {
	p := healthParamsOf(c, r.Options)
	hctx, cancel := context.WithTimeout(ctx, p.timeout)
	code, out, err := r.Runtime.Exec(hctx, c.Status.RuntimeID, p.cmd)
	cancel()
	if err != nil {
		if errors.Is(err, runtime.ErrUnavailable) || ctx.Err() != nil {
			return reconcile.Result{}, err
		}
		// A check that cannot run or times out is a failed check, as in Docker.
		code, out = -1, err.Error()
	}
	now := r.Clock.Now()
	inStartPeriod := c.Status.StartedAt != nil && now.Sub(c.Status.StartedAt.Time) < p.startPeriod
	updated, err := updateStatus(ctx, r.Client, c, func(c *api.Container) bool {
		if c.Status.KnownStatus != api.ContainerStatusRunning {
			return false
		}
		h := c.Status.Health
		if h == nil {
			h = &api.Health{Status: api.HealthUnknown, Since: metaTime(now)}
		}
		h = h.DeepCopy()
		t := metav1.NewTime(now)
		h.CheckedAt = &t
		h.ExitCode = int32(code)
		h.Output = truncate(strings.TrimSpace(out), maxHealthOutput)
		next := h.Status
		if code == 0 {
			h.FailingStreak = 0
			next = api.HealthHealthy
		} else if !inStartPeriod {
			h.FailingStreak++
			if h.FailingStreak >= p.retries {
				next = api.HealthUnhealthy
			}
		}
		if next != h.Status {
			c.Status.History = appendHistory(c.Status.History, "health:"+string(h.Status), "health:"+string(next), h.Output, now)
			h.Status = next
			h.Since = &t
		}
		c.Status.Health = h
		return true
	})
	if err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: r.nextHealthCheck(updated)}, nil
}
