package metadata

import (
	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// Network modes as the endpoints name them. An empty task network mode means bridge, the
// ECS default on Linux.
const (
	NetworkModeBridge = api.NetworkModeBridge
	NetworkModeHost   = api.NetworkModeHost
	NetworkModeNone   = api.NetworkModeNone
	NetworkModeAWSVPC = api.NetworkModeAWSVPC
)

// IsAWSVPC reports whether the task has its own ENI.
func IsAWSVPC(t *api.Task) bool { return t.NetworkMode() == NetworkModeAWSVPC }

// TaskStatus is a task state under the agent-internal name task metadata reports. ZOMBIE is
// an ecsd bookkeeping state no client knows, so it is shown as what it means: STOPPED.
func TaskStatus(s api.TaskState) string {
	s = s.OrNone()
	if s == api.TaskStatusZombie {
		return string(api.TaskStatusStopped)
	}
	return string(s)
}

// ContainerStatus is a container state under the agent-internal name task metadata reports.
func ContainerStatus(s api.ContainerState) string {
	s = s.OrNone()
	if s == api.ContainerStatusZombie {
		return string(api.ContainerStatusStopped)
	}
	return string(s)
}

// ContainerDesiredStatus is the container's desired status as the task controller derived
// it; before the controller ran it is NONE, as in the reference agent.
func ContainerDesiredStatus(c *api.Container) string { return ContainerStatus(c.Status.DesiredStatus) }

// Created reports whether the container exists in the runtime: the endpoints (like the
// reference agent's state) only know a container by runtime ID from then on.
func Created(c *api.Container) bool { return c.Status.RuntimeID != "" }

// DockerName is the container's DockerName field: the reference agent's Docker name
// (api.DockerName) once the container exists in the runtime, empty before, as the reference
// agent only names a container when it creates it.
func DockerName(t *api.Task, c *api.Container) string {
	if !Created(c) {
		return ""
	}
	return api.DockerName(t, c)
}

// PulledNotCreated reports whether the container's image was pulled but the container was
// never created; task metadata v4 lists such containers too.
func PulledNotCreated(c *api.Container) bool {
	if Created(c) {
		return false
	}
	k := c.Status.KnownStatus
	return k == api.ContainerStatusManifestPulled || k == api.ContainerStatusPulled
}
