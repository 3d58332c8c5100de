package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"path/filepath"
	"strconv"
	"strings"
)

// runtimeIDDomain separates the container ID hash from any other use of SHA-256 over the
// same strings; the version lets a future scheme never collide with this one.
const runtimeIDDomain = "ecsd.container-id.v1"

// RuntimeID is the runtime (containerd) ID of container name of the task with ARN taskARN:
// 64 lowercase hex characters, the form Docker gives its container IDs, because monitoring
// tools (OpenTelemetry's ECS detector, Datadog's and CloudWatch's agents) find a container's
// ID by that shape in /proc/self/cgroup and /proc/self/mountinfo. It is derived, never
// random, so every step that creates or finds a container is idempotent and an agent that
// restarts finds the same container: SHA-256 over a domain tag and the two strings, each
// length-prefixed so that no two (ARN, name) pairs encode alike.
//
// The create controller chooses the ID and records it in Status.RuntimeID; everything else
// reads that field, never this function, since a container created by an older ecsd kept
// its old-form ID (the object name, see LegacyRuntimeID).
func RuntimeID(taskARN, container string) string {
	h := sha256.New()
	h.Write([]byte(runtimeIDDomain))
	h.Write([]byte{0})
	for _, s := range []string{taskARN, container} {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ContainerRuntimeID is RuntimeID for container c of task t.
func ContainerRuntimeID(t *Task, c *Container) string { return RuntimeID(t.Spec.ARN, c.Spec.Name) }

// LegacyRuntimeID is the runtime ID ecsd gave containers before RuntimeID existed: the
// Container object's name, "<taskID>-<containerName>". Such containers keep it (it is in
// their Status.RuntimeID); the create controller adopts one an older agent created but
// never recorded, rather than create a duplicate.
func LegacyRuntimeID(c *Container) string { return c.Name }

// dockerNameSuffixLen is the length of the hex suffix of a Docker container name the
// reference agent creates (ten random bytes).
const dockerNameSuffixLen = 20

// DockerName is the container's name as the reference agent names its Docker containers and
// reports it in DockerName fields: "ecs-<family>-<revision>-<name>-<20 hex>", with the
// container name stripped to [A-Za-z0-9-]. containerd has no container names, so this is
// what the endpoints report. The reference's suffix is random; here it is the first 20
// characters of the new-form RuntimeID, so the name is deterministic and leads to the ID,
// even for a container created by an older ecsd under its old-form ID.
func DockerName(t *Task, c *Container) string {
	var b strings.Builder
	b.WriteString("ecs-")
	b.WriteString(t.Spec.Family)
	b.WriteByte('-')
	b.WriteString(t.Spec.Version)
	b.WriteByte('-')
	for _, r := range c.Spec.Name {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' {
			b.WriteRune(r)
		}
	}
	b.WriteByte('-')
	b.WriteString(ContainerRuntimeID(t, c)[:dockerNameSuffixLen])
	return b.String()
}

// IsRuntimeID reports whether id has the form RuntimeID gives: 64 lowercase hex characters.
func IsRuntimeID(id string) bool {
	if len(id) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

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

// SharedVolumePath is where a shared Docker volume's data lives under ECS_DATADIR,
// volumes/<name>/_data (Docker's local-driver layout), beside its config.json: it outlives
// the tasks that use it.
func SharedVolumePath(dataDir, volume string) string {
	return filepath.Join(dataDir, "volumes", volume, "_data")
}

// VolumeSource is the host directory containers bind-mount for v of task taskName: the
// host path when given, the shared volume's directory, else the task's directory for it
// (where EFS and local-driver volumes are mounted).
func VolumeSource(dataDir, taskName string, v *Volume) string {
	switch {
	case v.HostSourcePath != "":
		return v.HostSourcePath
	case v.Type == "docker" && v.Scope == "shared":
		return SharedVolumePath(dataDir, v.Name)
	}
	return TaskVolumePath(dataDir, taskName, v.Name)
}

// ContainerLogPath is the file under ECS_DATADIR a task container's stdout and stderr are
// written to: chosen by the create controller, read by the object API's log subresource,
// removed with the task's directory at cleanup.
func ContainerLogPath(dataDir, taskName, container string) string {
	return filepath.Join(dataDir, "tasks", taskName, "logs", container+".log")
}

// NamespaceHolderID is the runtime ID of the container holding a task's shared PID and IPC
// namespaces (pidMode or ipcMode "task"). The prefix keeps it apart from every task
// container's ID.
func NamespaceHolderID(taskName string) string { return "ecsd-ns-" + taskName }

// TaskNamespaceDir is where the namespace holder's files live under ECS_DATADIR: its empty
// root file system and the task's shared /dev/shm.
func TaskNamespaceDir(dataDir, taskName string) string {
	return filepath.Join(dataDir, "tasks", taskName, "namespaces")
}

// SharesNamespaces reports whether the task's containers share a PID or IPC namespace of
// the task's own (pidMode or ipcMode "task"), which a holder container keeps.
func (t *Task) SharesNamespaces() bool {
	return t.Spec.PIDMode == "task" || t.Spec.IPCMode == "task"
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
