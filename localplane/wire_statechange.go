package localplane

import "time"

// The SubmitTaskStateChange, SubmitContainerStateChange and SubmitAttachmentStateChanges
// requests, decoded. They are exported because tests read them back through
// Server.StateChanges to check what the agent reported. Member names and JSON keys follow
// the ECS model (protocol/ecs/ecs.json).

// Operations recorded in StateChange.Operation.
const (
	OpSubmitTaskStateChange        = "SubmitTaskStateChange"
	OpSubmitContainerStateChange   = "SubmitContainerStateChange"
	OpSubmitAttachmentStateChanges = "SubmitAttachmentStateChanges"
)

// StateChange is one state-change request the control plane received, in arrival order.
// Exactly one of Task, Container and Attachments is set, matching Operation.
type StateChange struct {
	Operation   string
	Received    time.Time
	Task        *TaskStateChange
	Container   *ContainerStateChangeRequest
	Attachments *AttachmentStateChanges
}

// TaskStateChange is the SubmitTaskStateChange request.
type TaskStateChange struct {
	Cluster            string                    `json:"cluster,omitempty"`
	Task               string                    `json:"task,omitempty"`
	Status             string                    `json:"status,omitempty"`
	Reason             string                    `json:"reason,omitempty"`
	Containers         []ContainerStateChange    `json:"containers,omitempty"`
	Attachments        []AttachmentStateChange   `json:"attachments,omitempty"`
	ManagedAgents      []ManagedAgentStateChange `json:"managedAgents,omitempty"`
	PullStartedAt      Timestamp                 `json:"pullStartedAt,omitzero"`
	PullStoppedAt      Timestamp                 `json:"pullStoppedAt,omitzero"`
	ExecutionStoppedAt Timestamp                 `json:"executionStoppedAt,omitzero"`
}

// ContainerStateChange is one container's entry in a TaskStateChange.
type ContainerStateChange struct {
	ContainerName   string           `json:"containerName,omitempty"`
	ImageDigest     string           `json:"imageDigest,omitempty"`
	RuntimeID       string           `json:"runtimeId,omitempty"`
	ExitCode        *int32           `json:"exitCode,omitempty"`
	NetworkBindings []NetworkBinding `json:"networkBindings,omitempty"`
	Reason          string           `json:"reason,omitempty"`
	Status          string           `json:"status,omitempty"`
}

// NetworkBinding is a container port published on the host.
type NetworkBinding struct {
	BindIP             string `json:"bindIP,omitempty"`
	ContainerPort      *int32 `json:"containerPort,omitempty"`
	HostPort           *int32 `json:"hostPort,omitempty"`
	Protocol           string `json:"protocol,omitempty"`
	ContainerPortRange string `json:"containerPortRange,omitempty"`
	HostPortRange      string `json:"hostPortRange,omitempty"`
}

// AttachmentStateChange acknowledges an attachment (ENI, EBS volume).
type AttachmentStateChange struct {
	AttachmentArn string `json:"attachmentArn"`
	Status        string `json:"status"`
}

// ManagedAgentStateChange reports a managed agent (ECS Exec) of a container.
type ManagedAgentStateChange struct {
	ContainerName    string `json:"containerName"`
	ManagedAgentName string `json:"managedAgentName"`
	Status           string `json:"status"`
	Reason           string `json:"reason,omitempty"`
}

// ContainerStateChangeRequest is the SubmitContainerStateChange request.
type ContainerStateChangeRequest struct {
	Cluster         string           `json:"cluster,omitempty"`
	Task            string           `json:"task,omitempty"`
	ContainerName   string           `json:"containerName,omitempty"`
	RuntimeID       string           `json:"runtimeId,omitempty"`
	Status          string           `json:"status,omitempty"`
	ExitCode        *int32           `json:"exitCode,omitempty"`
	Reason          string           `json:"reason,omitempty"`
	NetworkBindings []NetworkBinding `json:"networkBindings,omitempty"`
}

// AttachmentStateChanges is the SubmitAttachmentStateChanges request.
type AttachmentStateChanges struct {
	Cluster     string                  `json:"cluster,omitempty"`
	Attachments []AttachmentStateChange `json:"attachments"`
}

// acknowledgment is the response of the three state-change operations.
type acknowledgment struct {
	Acknowledgment string `json:"acknowledgment,omitempty"`
}
