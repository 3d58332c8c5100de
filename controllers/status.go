package controllers

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// Reason prefixes ECS clients recognise (spec §5.4).
const (
	ReasonPull       = "CannotPullContainerError"
	ReasonCreate     = "CannotCreateContainerError"
	ReasonStart      = "CannotStartContainerError"
	ReasonStop       = "CannotStopContainerError"
	ReasonTimeout    = "DockerTimeoutError"
	ReasonOOM        = "OutOfMemoryError: Container killed due to memory usage"
	ReasonVanished   = "ContainerVanishedError: No container matching saved ID found"
	ReasonDependency = "TaskDependencyError"
	ReasonEssential  = "Essential container in task exited"
	ReasonUnhealthy  = "Task failed container health checks"
)

// metaTime is at as a status timestamp.
func metaTime(at time.Time) *metav1.Time {
	t := metav1.NewTime(at)
	return &t
}

// appendHistory records a transition at the given time, keeping the last api.MaxHistory.
func appendHistory(h []api.Transition, from, to, reason string, at time.Time) []api.Transition {
	h = append(h, api.Transition{Time: metav1.NewTime(at), From: from, To: to, Reason: reason})
	if len(h) > api.MaxHistory {
		h = h[len(h)-api.MaxHistory:]
	}
	return h
}

// setContainerKnown moves c forward to s; it never moves a container backward.
func setContainerKnown(c *api.Container, s api.ContainerState, reason string, at time.Time) bool {
	from := c.Status.KnownStatus.OrNone()
	if !from.Before(s) {
		return false
	}
	c.Status.KnownStatus = s
	c.Status.History = appendHistory(c.Status.History, string(from), string(s), reason, at)
	return true
}

// stopContainer raises c's desired status to STOPPED and records why, keeping the first reason.
func stopContainer(c *api.Container, reason string) {
	if c.Status.Reason == "" {
		c.Status.Reason = reason
	}
	c.Status.DesiredStatus = api.ContainerStatusStopped
}

// desiredContainer is c's effective desired status.
func desiredContainer(c *api.Container) api.ContainerState {
	return c.Status.DesiredStatus.OrNone()
}

// truncate keeps reasons within ECS's 1024-byte limit.
//
//nolint:unparam // n names each field's own limit at its call site (maxHealthOutput for health output, ECS's 1024 for reasons); they agree today by coincidence, and the callers are outside this lint pass.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
