package v1alpha1

import (
	"maps"
	"path/filepath"
)

// RuntimeLabels are the labels a task container carries in the runtime: the definition's own
// plus the com.amazonaws.ecs.* set log routers rely on and ecsd's. The create controller sets
// them and the metadata endpoints report them, from this one definition. An empty
// agentVersion leaves that label out.
func RuntimeLabels(t *Task, c *Container, cluster, agentVersion string) map[string]string {
	l := make(map[string]string, len(c.Spec.Labels)+7)
	maps.Copy(l, c.Spec.Labels)
	l[LabelTaskARN] = t.Spec.ARN
	l[LabelContainerName] = c.Spec.Name
	l[LabelFamily] = t.Spec.Family
	l[LabelRevision] = t.Spec.Version
	l[LabelCluster] = cluster
	l[LabelTaskName] = t.Name
	if agentVersion != "" {
		l[LabelAgentVersion] = agentVersion
	}
	return l
}

// TaskVolumePath is where an agent-managed (task-scoped) volume of a task lives under
// ECS_DATADIR: created by the create controller, reported by the endpoints, removed with the
// task's directory at cleanup.
func TaskVolumePath(dataDir, taskName, volume string) string {
	return filepath.Join(dataDir, "tasks", taskName, "volumes", volume)
}

// ContainerLogPath is the file under ECS_DATADIR a task container's stdout and stderr are
// written to: chosen by the create controller, read by the object API's log subresource,
// removed with the task's directory at cleanup.
func ContainerLogPath(dataDir, taskName, container string) string {
	return filepath.Join(dataDir, "tasks", taskName, "logs", container+".log")
}

// Network modes a task definition names.
const (
	NetworkModeBridge = "bridge"
	NetworkModeHost   = "host"
	NetworkModeNone   = "none"
	NetworkModeAWSVPC = "awsvpc"
)

// NetworkMode is the task's effective network mode: bridge, ECS's default on Linux, when
// the definition names none. The engine, the endpoints, the metadata file and the object
// API all read it here, so they cannot disagree about a task without a mode.
func (t *Task) NetworkMode() string {
	if t.Spec.NetworkMode == "" {
		return NetworkModeBridge
	}
	return t.Spec.NetworkMode
}
