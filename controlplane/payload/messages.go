package payload

import (
	"fmt"
	"time"
)

// Message is implemented by every ACS message struct; MessageType is the frame "type"
// (the shape name in the ACS model).
type Message interface {
	MessageType() string
}

// Frame types (ACS shape names), server → agent.
const (
	TypeHeartbeatMessage                       = "HeartbeatMessage"
	TypePayloadMessage                         = "PayloadMessage"
	TypeIAMRoleCredentialsMessage              = "IAMRoleCredentialsMessage"
	TypeTaskManifestMessage                    = "TaskManifestMessage"
	TypeTaskStopVerificationAck                = "TaskStopVerificationAck"
	TypeAttachTaskNetworkInterfacesMessage     = "AttachTaskNetworkInterfacesMessage"
	TypeAttachInstanceNetworkInterfacesMessage = "AttachInstanceNetworkInterfacesMessage"
	TypeConfirmAttachmentMessage               = "ConfirmAttachmentMessage"
	TypeStageUpdateMessage                     = "StageUpdateMessage"
	TypePerformUpdateMessage                   = "PerformUpdateMessage"
	TypeCloseMessage                           = "CloseMessage"
	TypeErrorMessage                           = "ErrorMessage"
)

// Frame types (ACS shape names), agent → server.
const (
	TypeAckRequest                   = "AckRequest"
	TypeNackRequest                  = "NackRequest"
	TypeHeartbeatAckRequest          = "HeartbeatAckRequest"
	TypeIAMRoleCredentialsAckRequest = "IAMRoleCredentialsAckRequest"
	TypeTaskStopVerificationMessage  = "TaskStopVerificationMessage"
	TypePollRequest                  = "PollRequest"
)

// HeartbeatMessage says the session is alive; answer with HeartbeatAckRequest.
type HeartbeatMessage struct {
	Healthy   bool   `json:"healthy"`
	MessageID string `json:"messageId,omitempty"`
}

// HeartbeatAckRequest acknowledges a HeartbeatMessage.
type HeartbeatAckRequest struct {
	MessageID string `json:"messageId,omitempty"`
}

// PayloadMessage carries tasks to run or stop.
type PayloadMessage struct {
	ContainerInstanceArn string `json:"containerInstanceArn,omitempty"`
	ClusterArn           string `json:"clusterArn,omitempty"`
	Tasks                []Task `json:"tasks,omitempty"`
	GeneratedAt          int64  `json:"generatedAt,omitempty"`
	MessageID            string `json:"messageId,omitempty"`
	SeqNum               int64  `json:"seqNum,omitempty"`
	Timeline             *int64 `json:"timeline,omitempty"`
}

// AckRequest acknowledges a message by ID.
type AckRequest struct {
	Cluster           string `json:"cluster,omitempty"`
	ContainerInstance string `json:"containerInstance,omitempty"`
	MessageID         string `json:"messageId,omitempty"`
}

// NackRequest refuses a message (update messages only) with a reason.
type NackRequest struct {
	Cluster           string `json:"cluster,omitempty"`
	ContainerInstance string `json:"containerInstance,omitempty"`
	MessageID         string `json:"messageId,omitempty"`
	Reason            string `json:"reason,omitempty"`
}

// IAMRoleCredentialsMessage refreshes one task's credentials.
type IAMRoleCredentialsMessage struct {
	TaskArn         string              `json:"taskArn,omitempty"`
	TaskClusterArn  string              `json:"taskClusterArn,omitempty"`
	RoleCredentials *IAMRoleCredentials `json:"roleCredentials,omitempty"`
	// RoleType is TaskApplication or TaskExecution.
	RoleType  string `json:"roleType,omitempty"`
	MessageID string `json:"messageId,omitempty"`
}

// IAMRoleCredentialsAckRequest acknowledges one set of credentials.
type IAMRoleCredentialsAckRequest struct {
	MessageID     string `json:"messageId,omitempty"`
	Expiration    string `json:"expiration,omitempty"`
	CredentialsID string `json:"credentialsId,omitempty"`
}

// TaskManifestMessage lists the tasks that should exist on the instance.
type TaskManifestMessage struct {
	ContainerInstanceArn string           `json:"containerInstanceArn,omitempty"`
	ClusterArn           string           `json:"clusterArn,omitempty"`
	Tasks                []TaskIdentifier `json:"tasks,omitempty"`
	GeneratedAt          int64            `json:"generatedAt,omitempty"`
	MessageID            string           `json:"messageId,omitempty"`
	Timeline             int64            `json:"timeline,omitempty"`
}

// TaskIdentifier names a task and its desired status.
type TaskIdentifier struct {
	TaskArn        string `json:"taskArn,omitempty"`
	TaskClusterArn string `json:"taskClusterArn,omitempty"`
	DesiredStatus  string `json:"desiredStatus,omitempty"`
}

// TaskStopVerificationMessage asks the backend to confirm which tasks to stop.
type TaskStopVerificationMessage struct {
	MessageID      string           `json:"messageId,omitempty"`
	StopCandidates []TaskIdentifier `json:"stopCandidates,omitempty"`
}

// TaskStopVerificationAck names the tasks to stop.
type TaskStopVerificationAck struct {
	GeneratedAt int64            `json:"generatedAt,omitempty"`
	MessageID   string           `json:"messageId,omitempty"`
	StopTasks   []TaskIdentifier `json:"stopTasks,omitempty"`
}

// AttachTaskNetworkInterfacesMessage announces ENIs being attached for a task.
type AttachTaskNetworkInterfacesMessage struct {
	ContainerInstanceArn     string                    `json:"containerInstanceArn,omitempty"`
	ClusterArn               string                    `json:"clusterArn,omitempty"`
	TaskArn                  string                    `json:"taskArn,omitempty"`
	TaskClusterArn           string                    `json:"taskClusterArn,omitempty"`
	GeneratedAt              int64                     `json:"generatedAt,omitempty"`
	MessageID                string                    `json:"messageId,omitempty"`
	WaitTimeoutMs            int64                     `json:"waitTimeoutMs,omitempty"`
	ElasticNetworkInterfaces []ElasticNetworkInterface `json:"elasticNetworkInterfaces,omitempty"`
}

// AttachInstanceNetworkInterfacesMessage announces instance-level ENIs (trunks).
type AttachInstanceNetworkInterfacesMessage struct {
	ContainerInstanceArn     string                    `json:"containerInstanceArn,omitempty"`
	ClusterArn               string                    `json:"clusterArn,omitempty"`
	GeneratedAt              int64                     `json:"generatedAt,omitempty"`
	MessageID                string                    `json:"messageId,omitempty"`
	WaitTimeoutMs            int64                     `json:"waitTimeoutMs,omitempty"`
	ElasticNetworkInterfaces []ElasticNetworkInterface `json:"elasticNetworkInterfaces,omitempty"`
}

// ConfirmAttachmentMessage announces a generic resource attachment.
type ConfirmAttachmentMessage struct {
	ContainerInstanceArn string      `json:"containerInstanceArn,omitempty"`
	ClusterArn           string      `json:"clusterArn,omitempty"`
	TaskArn              string      `json:"taskArn,omitempty"`
	TaskClusterArn       string      `json:"taskClusterArn,omitempty"`
	GeneratedAt          int64       `json:"generatedAt,omitempty"`
	MessageID            string      `json:"messageId,omitempty"`
	WaitTimeoutMs        int64       `json:"waitTimeoutMs,omitempty"`
	Attachment           *Attachment `json:"attachment,omitempty"`
}

// DefaultConfirmAttachmentWait is the reference agent's wait when waitTimeoutMs is absent.
const DefaultConfirmAttachmentWait = 300 * time.Second

// WaitTimeout is waitTimeoutMs as a duration, DefaultConfirmAttachmentWait when unset.
func (m *ConfirmAttachmentMessage) WaitTimeout() time.Duration {
	if m.WaitTimeoutMs <= 0 {
		return DefaultConfirmAttachmentWait
	}
	return time.Duration(m.WaitTimeoutMs) * time.Millisecond
}

// StageUpdateMessage asks the agent to download a new version.
type StageUpdateMessage struct {
	ContainerInstanceArn string      `json:"containerInstanceArn,omitempty"`
	ClusterArn           string      `json:"clusterArn,omitempty"`
	UpdateInfo           *UpdateInfo `json:"updateInfo,omitempty"`
	MessageID            string      `json:"messageId,omitempty"`
}

// PerformUpdateMessage asks the agent to restart into the staged version.
type PerformUpdateMessage struct {
	ContainerInstanceArn string      `json:"containerInstanceArn,omitempty"`
	ClusterArn           string      `json:"clusterArn,omitempty"`
	UpdateInfo           *UpdateInfo `json:"updateInfo,omitempty"`
	MessageID            string      `json:"messageId,omitempty"`
}

// UpdateInfo locates an agent update; Signature is the hex SHA-256 of the tarball.
type UpdateInfo struct {
	Location  string `json:"location,omitempty"`
	Signature string `json:"signature,omitempty"`
}

// CloseMessage is modeled but has no handler in the reference agent.
type CloseMessage struct {
	Message string `json:"message,omitempty"`
}

// ErrorMessage is modeled but has no handler in the reference agent.
type ErrorMessage struct {
	Message string `json:"message,omitempty"`
}

// PollRequest is the session-opening request of the model; the websocket protocol carries
// its members in the URL instead, so it is here for completeness only.
type PollRequest struct {
	Cluster           string       `json:"cluster,omitempty"`
	ContainerInstance string       `json:"containerInstance,omitempty"`
	SeqNum            int64        `json:"seqNum,omitempty"`
	Timeline          *int64       `json:"timeline,omitempty"`
	VersionInfo       *VersionInfo `json:"versionInfo,omitempty"`
	SendCredentials   bool         `json:"sendCredentials,omitempty"`
	ProtocolVersion   *int64       `json:"protocolVersion,omitempty"`
}

// VersionInfo describes the agent build.
type VersionInfo struct {
	AgentVersion  string `json:"agentVersion,omitempty"`
	AgentHash     string `json:"agentHash,omitempty"`
	DockerVersion string `json:"dockerVersion,omitempty"`
}

func (HeartbeatMessage) MessageType() string             { return TypeHeartbeatMessage }
func (HeartbeatAckRequest) MessageType() string          { return TypeHeartbeatAckRequest }
func (PayloadMessage) MessageType() string               { return TypePayloadMessage }
func (AckRequest) MessageType() string                   { return TypeAckRequest }
func (NackRequest) MessageType() string                  { return TypeNackRequest }
func (IAMRoleCredentialsMessage) MessageType() string    { return TypeIAMRoleCredentialsMessage }
func (IAMRoleCredentialsAckRequest) MessageType() string { return TypeIAMRoleCredentialsAckRequest }
func (TaskManifestMessage) MessageType() string          { return TypeTaskManifestMessage }
func (TaskStopVerificationMessage) MessageType() string  { return TypeTaskStopVerificationMessage }
func (TaskStopVerificationAck) MessageType() string      { return TypeTaskStopVerificationAck }
func (AttachTaskNetworkInterfacesMessage) MessageType() string {
	return TypeAttachTaskNetworkInterfacesMessage
}
func (AttachInstanceNetworkInterfacesMessage) MessageType() string {
	return TypeAttachInstanceNetworkInterfacesMessage
}
func (ConfirmAttachmentMessage) MessageType() string { return TypeConfirmAttachmentMessage }
func (StageUpdateMessage) MessageType() string       { return TypeStageUpdateMessage }
func (PerformUpdateMessage) MessageType() string     { return TypePerformUpdateMessage }
func (CloseMessage) MessageType() string             { return TypeCloseMessage }
func (ErrorMessage) MessageType() string             { return TypeErrorMessage }
func (PollRequest) MessageType() string              { return TypePollRequest }

// Validate applies the reference agent's payload checks: a payload without messageId,
// clusterArn or containerInstanceArn is dropped (logged, not acknowledged).
func (p *PayloadMessage) Validate() error {
	switch {
	case p == nil:
		return fmt.Errorf("PayloadMessage: %w", ErrMissing)
	case p.MessageID == "":
		return fmt.Errorf("PayloadMessage.messageId: %w", ErrMissing)
	case p.ClusterArn == "":
		return fmt.Errorf("PayloadMessage.clusterArn: %w", ErrMissing)
	case p.ContainerInstanceArn == "":
		return fmt.Errorf("PayloadMessage.containerInstanceArn: %w", ErrMissing)
	}
	return nil
}

// Options returns the translation options implied by the payload envelope.
func (p *PayloadMessage) Options() Options {
	return Options{ClusterARN: p.ClusterArn, SeqNum: p.SeqNum}
}

// Ack is the AckRequest answering this payload.
func (p *PayloadMessage) Ack() AckRequest {
	return AckRequest{Cluster: p.ClusterArn, ContainerInstance: p.ContainerInstanceArn, MessageID: p.MessageID}
}

// StoppedFirst returns the tasks with those desired STOPPED ahead of the others, keeping
// order otherwise: the reference agent applies stops first so that resources they free
// are available to the new tasks of the same payload.
func StoppedFirst(tasks []Task) []*Task {
	out := make([]*Task, 0, len(tasks))
	for i := range tasks {
		if tasks[i].DesiredStatus == DesiredStopped {
			out = append(out, &tasks[i])
		}
	}
	for i := range tasks {
		if tasks[i].DesiredStatus != DesiredStopped {
			out = append(out, &tasks[i])
		}
	}
	return out
}
