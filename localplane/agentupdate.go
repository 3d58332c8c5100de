package localplane

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/ecsd/ecsd/controlplane/payload"
)

// Agent updates, ECS's way (UpdateContainerAgent, then the ACS StageUpdateMessage and
// PerformUpdateMessage, the container instance's agentUpdateStatus going PENDING →
// STAGING → STAGED → UPDATING → UPDATED, or FAILED), with one difference: ECS knows its
// own agent releases, this plane does not, so UpdateContainerAgent takes the update from
// the caller in an ecsd extension member, updateInfo {location, signature}, exactly what
// ACS hands the agent: an http(s) URL the agent can reach and the artifact's hex SHA-256.
// `ecsctl update-agent --file` serves a file on loopback and passes its URL. Without
// updateInfo the answer is ECS's NoUpdateAvailableException. A FAILED update keeps the
// agent's reason (its NackRequest's), shown by DescribeContainerInstances in the ecsd
// extension member agentUpdateReason.

// Agent update statuses (ECS's AgentUpdateStatus).
const (
	updatePending  = "PENDING"
	updateStaging  = "STAGING"
	updateStaged   = "STAGED"
	updateUpdating = "UPDATING"
	updateUpdated  = "UPDATED"
	updateFailed   = "FAILED"
)

// agentUpdateRecord is the instance's latest agent update.
type agentUpdateRecord struct {
	Status string `json:"status"`
	// Reason is why it FAILED: the agent's NackRequest reason, or the plane's.
	Reason    string `json:"reason,omitempty"`
	Location  string `json:"location"`
	Signature string `json:"signature"`
	// StageMessageID and PerformMessageID are the ACS messages sent for it.
	StageMessageID   string `json:"stageMessageId,omitempty"`
	PerformMessageID string `json:"performMessageId,omitempty"`
	// PerformAcked: the agent acknowledged PerformUpdate (and exited to install it).
	PerformAcked bool `json:"performAcked,omitempty"`
	// From is the agent version when the update was asked for.
	From        versionInfo `json:"from"`
	RequestedAt Timestamp   `json:"requestedAt,omitzero"`
}

func (u *agentUpdateRecord) inProgress() bool {
	return u != nil && u.Status != updateUpdated && u.Status != updateFailed
}

type updateContainerAgentRequest struct {
	Cluster           string `json:"cluster,omitempty"`
	ContainerInstance string `json:"containerInstance"`
	// UpdateInfo is the ecsd extension: the update to send.
	UpdateInfo *payload.UpdateInfo `json:"updateInfo,omitempty"`
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (s *Server) updateContainerAgent(_ context.Context, in *updateContainerAgentRequest) (*containerInstanceResponse, error) {
	if in.ContainerInstance == "" {
		return nil, errInvalidParameter("containerInstance is required.")
	}
	var out containerInstanceResponse
	var sig string
	err := s.update(func(st *state) error {
		c := s.cluster(st, in.Cluster)
		if c == nil {
			return errClusterNotFound()
		}
		_, inst := s.instanceIn(st, c, in.ContainerInstance)
		switch {
		case inst == nil:
			return errInvalidParameter("The referenced container instance %s was not found.", in.ContainerInstance)
		case inst.Status != statusActive:
			return errClient("The container instance %s is %s.", inst.ARN, inst.Status)
		case inst.VersionInfo.AgentVersion == "":
			return newAPIError("MissingVersionException", http.StatusBadRequest,
				"The container instance %s has no agent version information: its agent never connected.", inst.ARN)
		case inst.AgentUpdate.inProgress():
			return newAPIError("UpdateInProgressException", http.StatusBadRequest,
				"An agent update is already in progress on %s (%s).", inst.ARN, inst.AgentUpdate.Status)
		case in.UpdateInfo == nil:
			return newAPIError("NoUpdateAvailableException", http.StatusBadRequest,
				"There is no update available for your container agent: the local control plane sends only an update "+
					"the caller names (the ecsd extension member updateInfo {location, signature}; ecsctl update-agent --file).")
		}
		sig = strings.ToLower(strings.TrimSpace(in.UpdateInfo.Signature))
		if !hexSHA256.MatchString(sig) {
			return errInvalidParameter("updateInfo.signature must be the update's SHA-256 in hex.")
		}
		if u, err := url.Parse(in.UpdateInfo.Location); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errInvalidParameter("updateInfo.location must be an http or https URL.")
		}
		inst.AgentUpdate = &agentUpdateRecord{Status: updatePending, Location: in.UpdateInfo.Location, Signature: sig,
			From: inst.VersionInfo, RequestedAt: At(s.now())}
		inst.Version++
		out.ContainerInstance = s.instanceOutput(st, inst, nil)
		return nil
	})
	if err != nil {
		return nil, err
	}
	arn := out.ContainerInstance.ContainerInstanceArn
	s.log.Info("agent update requested", "containerInstance", arn, "sha256", sig)
	s.notify(arn)
	return &out, nil
}

// nextUpdateMessage returns the update message the instance's agent is due, if any: the
// StageUpdate of a PENDING update, or the PerformUpdate of a STAGED one. The status
// moves on (STAGING, UPDATING) and is saved before the message is sent.
func (s *Server) nextUpdateMessage(instanceARN string) payload.Message {
	var msg payload.Message
	err := s.update(func(st *state) error {
		inst := st.Instances[instanceARN]
		if inst == nil || inst.Status != statusActive || inst.AgentUpdate == nil {
			return errUnchanged
		}
		u := inst.AgentUpdate
		info := &payload.UpdateInfo{Location: u.Location, Signature: u.Signature}
		cluster := s.arn.cluster(inst.Cluster)
		switch u.Status {
		case updatePending:
			u.Status, u.StageMessageID = updateStaging, newUUID()
			msg = &payload.StageUpdateMessage{MessageID: u.StageMessageID, ClusterArn: cluster, ContainerInstanceArn: inst.ARN, UpdateInfo: info}
		case updateStaged:
			u.Status, u.PerformMessageID = updateUpdating, newUUID()
			msg = &payload.PerformUpdateMessage{MessageID: u.PerformMessageID, ClusterArn: cluster, ContainerInstanceArn: inst.ARN, UpdateInfo: info}
		default:
			return errUnchanged
		}
		inst.Version++
		return nil
	})
	if err != nil {
		s.log.Error(err, "cannot prepare an agent update message", "containerInstance", instanceARN)
		return nil
	}
	return msg
}

// agentUpdateAnswered records the agent's answer to an update message; it reports whether
// id was one. reason is "" for an AckRequest.
func (s *Server) agentUpdateAnswered(instanceARN, id string, nack bool, reason string) bool {
	matched := false
	err := s.update(func(st *state) error {
		inst := st.Instances[instanceARN]
		if inst == nil || inst.AgentUpdate == nil || id == "" {
			return errUnchanged
		}
		u := inst.AgentUpdate
		switch {
		case id == u.StageMessageID && u.Status == updateStaging && nack:
			u.Status, u.Reason = updateFailed, reason
		case id == u.StageMessageID && u.Status == updateStaging:
			u.Status = updateStaged
		case id == u.PerformMessageID && u.Status == updateUpdating && nack:
			u.Status, u.Reason = updateFailed, reason
		case id == u.PerformMessageID && u.Status == updateUpdating:
			u.PerformAcked = true
		case id == u.StageMessageID || id == u.PerformMessageID:
			matched = true // a late or duplicate answer: nothing changes
			return errUnchanged
		default:
			return errUnchanged
		}
		matched = true
		inst.Version++
		return nil
	})
	if err != nil {
		s.log.Error(err, "cannot record the agent's answer to an update message", "containerInstance", instanceARN, "messageId", id)
	}
	return matched
}

// agentReconnected moves the instance's update on when its agent opens an ACS session: an
// update the agent left to install (it acknowledged PerformUpdate, or came back at another
// version) is UPDATED; one whose messages went unanswered on an earlier session starts
// over, so this session sends it again.
func (s *Server) agentReconnected(instanceARN string) {
	err := s.update(func(st *state) error {
		inst := st.Instances[instanceARN]
		if inst == nil || !inst.AgentUpdate.inProgress() {
			return errUnchanged
		}
		u := inst.AgentUpdate
		switch u.Status {
		case updateUpdating:
			if u.PerformAcked || inst.VersionInfo != u.From {
				u.Status = updateUpdated
			} else {
				u.Status, u.Reason = updateFailed, "the agent reconnected at the same version without acknowledging PerformUpdate"
			}
		case updateStaging, updateStaged:
			u.Status, u.StageMessageID, u.PerformMessageID = updatePending, "", ""
		default:
			return errUnchanged
		}
		inst.Version++
		return nil
	})
	if err != nil {
		s.log.Error(err, "cannot update the agent update's status", "containerInstance", instanceARN)
	}
}
