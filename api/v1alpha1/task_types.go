package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TaskSpec is an ECS task as the control plane sent it. Only the ECS side (an ACS payload,
// the local control plane) writes it.
type TaskSpec struct {
	// ARN is the task ARN; the object's name is its last segment (the task ID).
	ARN        string `json:"arn"`
	ClusterARN string `json:"clusterArn,omitempty"`
	Family     string `json:"family"`
	Version    string `json:"version"`
	// DesiredStatus only moves forward: RUNNING then STOPPED.
	DesiredStatus TaskState `json:"desiredStatus"`
	NetworkMode   string    `json:"networkMode,omitempty"`
	LaunchType    string    `json:"launchType,omitempty"`
	// CPU is the task-level CPU in vCPUs (ACS sends a double, e.g. 0.25).
	CPU float64 `json:"cpu,omitempty"`
	// Memory is the task-level memory limit in MiB.
	Memory      int64    `json:"memory,omitempty"`
	PIDMode     string   `json:"pidMode,omitempty"`
	IPCMode     string   `json:"ipcMode,omitempty"`
	ServiceName string   `json:"serviceName,omitempty"`
	Group       string   `json:"group,omitempty"`
	Volumes     []Volume `json:"volumes,omitempty"`
	// Containers lists the task's container names in definition order; each has a Container
	// object named <task ID>-<name>.
	Containers []string `json:"containers"`
	// RoleCredentialsID and ExecutionCredentialsID name credentials held by the credentials
	// manager; the secrets themselves never live in an object.
	RoleCredentialsID      string `json:"roleCredentialsId,omitempty"`
	ExecutionCredentialsID string `json:"executionCredentialsId,omitempty"`
	// ENIs are the awsvpc attachments of the task, by attachment name.
	ENIs []string `json:"enis,omitempty"`
	// SeqNum is the ACS payload sequence number the spec came from.
	SeqNum int64 `json:"seqNum,omitempty"`
	// Invalid carries why the task could not be accepted; such a task is stopped at once with
	// this reason instead of being dropped, so ECS learns about it.
	Invalid string `json:"invalid,omitempty"`
}

// Volume is a task volume.
type Volume struct {
	Name string `json:"name"`
	// Type is host, docker or efs.
	Type string `json:"type,omitempty"`
	// HostSourcePath is the bind source for a host volume; empty means an agent-managed
	// directory that lives as long as the task.
	HostSourcePath string `json:"hostSourcePath,omitempty"`
	// Scope is task or shared for docker volumes.
	Scope         string            `json:"scope,omitempty"`
	Autoprovision bool              `json:"autoprovision,omitempty"`
	Driver        string            `json:"driver,omitempty"`
	DriverOpts    map[string]string `json:"driverOpts,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	// EFS is the efsVolumeConfiguration of an efs volume.
	EFS *EFSVolume `json:"efs,omitempty"`
}

// EFSVolume is an Amazon EFS file system mounted for the task over NFSv4.1.
type EFSVolume struct {
	FileSystemID string `json:"fileSystemId"`
	// RootDirectory is the directory of the file system mounted; "" is "/".
	RootDirectory string `json:"rootDirectory,omitempty"`
	// TransitEncryption carries the NFS traffic through a TLS tunnel (stunnel).
	TransitEncryption bool `json:"transitEncryption,omitempty"`
	// TransitEncryptionPort is the tunnel's local port; 0 picks a free one.
	TransitEncryptionPort int64  `json:"transitEncryptionPort,omitempty"`
	AccessPointID         string `json:"accessPointId,omitempty"`
	IAM                   bool   `json:"iam,omitempty"`
}

// TaskStatus is what the engine observed and decided.
type TaskStatus struct {
	// KnownStatus is the aggregate of the containers' known statuses; it never goes back.
	KnownStatus     TaskState    `json:"knownStatus,omitempty"`
	KnownStatusTime *metav1.Time `json:"knownStatusTime,omitempty"`
	// DesiredStatus is set by the engine when it decides to stop a task on its own
	// (essential container exit, invalid definition). The effective desired status is the
	// later of this and Spec.DesiredStatus.
	DesiredStatus TaskState `json:"desiredStatus,omitempty"`
	// SentStatus is the last status ECS acknowledged.
	SentStatus         TaskState    `json:"sentStatus,omitempty"`
	PullStartedAt      *metav1.Time `json:"pullStartedAt,omitempty"`
	PullStoppedAt      *metav1.Time `json:"pullStoppedAt,omitempty"`
	ExecutionStoppedAt *metav1.Time `json:"executionStoppedAt,omitempty"`
	StoppedReason      string       `json:"stoppedReason,omitempty"`
	// Network is the awsvpc task's namespace, shared by its containers.
	Network *NetworkStatus `json:"network,omitempty"`
	// CleanupAt is when the cleanup controller may remove the stopped task.
	CleanupAt *metav1.Time `json:"cleanupAt,omitempty"`
	// History records every status transition, newest last (bounded).
	History []Transition `json:"history,omitempty"`
}

// Transition is one recorded status change, shown by `ecsctl describe`.
type Transition struct {
	Time   metav1.Time `json:"time"`
	From   string      `json:"from"`
	To     string      `json:"to"`
	Reason string      `json:"reason,omitempty"`
}

// MaxHistory bounds Status.History so an object never grows without limit.
const MaxHistory = 32

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=t

// Task is one ECS task on this instance.
type Task struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   TaskSpec   `json:"spec,omitempty"`
	Status TaskStatus `json:"status,omitempty"`
}

// DesiredStatus is the effective desired status: the later of what ECS asked and what the
// engine decided.
func (t *Task) DesiredStatus() TaskState {
	return MaxTask(t.Spec.DesiredStatus.OrNone(), t.Status.DesiredStatus.OrNone())
}

// +kubebuilder:object:root=true

// TaskList is a list of Tasks.
type TaskList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Task `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Task{}, &TaskList{})
}
