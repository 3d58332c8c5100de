package controllers

import (
	"context"
	"errors"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// healthParamsOf returns nil when c has no health check to run.
func (e *Engine) healthParamsOf(c *api.Container) *healthParams {
	hc := c.Spec.HealthCheck
	if hc == nil || e.s.DisableHealthCheck || len(hc.Test) == 0 {
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
func (e *Engine) nextHealthCheck(c *api.Container) time.Duration {
	p := e.healthParamsOf(c)
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
	d := last.Add(p.interval).Sub(e.clk.Now())
	if d <= 0 {
		return time.Millisecond
	}
	return d
}

// healthCheck runs c's health check when it is due, the way Docker does: failures inside
// the start period do not count, retries consecutive failures make it UNHEALTHY, one
// success makes it HEALTHY.
func (e *Engine) healthCheck(ctx context.Context, c *api.Container) (reconcile.Result, error) {
	p := e.healthParamsOf(c)
	if p == nil {
		return reconcile.Result{}, nil
	}
	if d := e.nextHealthCheck(c); d > time.Millisecond {
		return reconcile.Result{RequeueAfter: d}, nil
	}
	hctx, cancel := context.WithTimeout(ctx, p.timeout)
	code, out, err := e.rt.Exec(hctx, c.Status.RuntimeID, p.cmd)
	cancel()
	if err != nil {
		if errors.Is(err, runtime.ErrUnavailable) || ctx.Err() != nil {
			return reconcile.Result{}, err
		}
		// A check that cannot run or times out is a failed check, as in Docker.
		code, out = -1, err.Error()
	}
	now := e.clk.Now()
	inStartPeriod := c.Status.StartedAt != nil && now.Sub(c.Status.StartedAt.Time) < p.startPeriod
	updated, err := e.updateContainerStatus(ctx, c, func(c *api.Container) bool {
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
	return reconcile.Result{RequeueAfter: e.nextHealthCheck(updated)}, nil
}
