package localplane

import (
	"github.com/ecsd/ecsd/controlplane/payload"
)

// The server side of the ACS messages: what to send to an instance, and what its answers
// change. Each runs under Server.mu; the session does the I/O.

// maxPayloadTasks caps the tasks of one PayloadMessage; more go in the next one.
const maxPayloadTasks = 10

// nextPayload builds the next PayloadMessage for an instance: tasks whose desired status
// the agent has not acknowledged and that due accepts. It returns nil when there is none.
// The sequence number it uses is persisted before the message is sent.
func (s *Server) nextPayload(instanceARN string, due func(arn, desired string) bool) (*payload.PayloadMessage, []sentTask) {
	var msg *payload.PayloadMessage
	var sent []sentTask
	err := s.update(func(st *state) error {
		inst := st.Instances[instanceARN]
		if inst == nil || !registered(inst.Status) {
			return errUnchanged
		}
		var tasks []payload.Task
		for _, t := range st.tasksOn(instanceARN) {
			if t.AckedDesired == t.DesiredStatus || t.LastStatus == taskStopped || !due(t.ARN, t.DesiredStatus) {
				continue
			}
			pt, err := s.payloadTask(st, t)
			if err != nil {
				s.log.Error(err, "cannot render a task for the agent", "task", t.ARN)
				continue
			}
			tasks = append(tasks, pt)
			sent = append(sent, sentTask{arn: t.ARN, desired: t.DesiredStatus})
			if len(tasks) == maxPayloadTasks {
				break
			}
		}
		if len(tasks) == 0 {
			return errUnchanged
		}
		inst.SeqNum++
		msg = &payload.PayloadMessage{
			ClusterArn:           s.arn.cluster(inst.Cluster),
			ContainerInstanceArn: inst.ARN,
			MessageID:            newUUID(),
			GeneratedAt:          s.now().Unix(),
			SeqNum:               inst.SeqNum,
			Tasks:                tasks,
		}
		return nil
	})
	if err != nil {
		s.log.Error(err, "cannot prepare a payload", "containerInstance", instanceARN)
		return nil, nil
	}
	return msg, sent
}

// ackTasks records that the agent acknowledged these desired statuses. An older
// acknowledgement arriving late never lowers what is recorded.
func (s *Server) ackTasks(tasks []sentTask) error {
	return s.update(func(st *state) error {
		changed := false
		for _, sent := range tasks {
			t := st.Tasks[sent.arn]
			if t == nil || statusRank(sent.desired) <= statusRank(t.AckedDesired) {
				continue
			}
			t.AckedDesired = sent.desired
			changed = true
		}
		if !changed {
			return errUnchanged
		}
		return nil
	})
}

// nextManifest builds the TaskManifestMessage for an instance: every task the agent may
// still have (not yet reported STOPPED) with its desired status. Its timeline is the next
// number of the sequence payloads take theirs from, so it is above the seqNum of every
// payload sent before it, whose effect it includes, and below every later one.
func (s *Server) nextManifest(instanceARN string) *payload.TaskManifestMessage {
	var msg *payload.TaskManifestMessage
	err := s.update(func(st *state) error {
		inst := st.Instances[instanceARN]
		if inst == nil || !registered(inst.Status) {
			return errUnchanged
		}
		inst.SeqNum++
		msg = &payload.TaskManifestMessage{
			ClusterArn:           s.arn.cluster(inst.Cluster),
			ContainerInstanceArn: inst.ARN,
			MessageID:            newUUID(),
			GeneratedAt:          s.now().Unix(),
			Timeline:             inst.SeqNum,
		}
		for _, t := range st.tasksOn(instanceARN) {
			if t.LastStatus == taskStopped {
				continue
			}
			msg.Tasks = append(msg.Tasks, payload.TaskIdentifier{TaskArn: t.ARN,
				TaskClusterArn: s.arn.cluster(t.Cluster), DesiredStatus: t.DesiredStatus})
		}
		return nil
	})
	if err != nil {
		s.log.Error(err, "cannot prepare a task manifest", "containerInstance", instanceARN)
		return nil
	}
	return msg
}

// verifyStops answers a TaskStopVerificationMessage: of the candidates, those this
// control plane does not want RUNNING on that instance (stopped, elsewhere, or unknown)
// are confirmed for stopping.
func (s *Server) verifyStops(instanceARN string, m *payload.TaskStopVerificationMessage) *payload.TaskStopVerificationAck {
	ack := &payload.TaskStopVerificationAck{MessageID: m.MessageID, GeneratedAt: s.now().Unix()}
	s.view(func(st *state) {
		for _, c := range m.StopCandidates {
			t := st.Tasks[c.TaskArn]
			if t != nil && t.ContainerInstance == instanceARN && t.DesiredStatus == taskRunning {
				continue
			}
			ack.StopTasks = append(ack.StopTasks, payload.TaskIdentifier{TaskArn: c.TaskArn,
				TaskClusterArn: c.TaskClusterArn, DesiredStatus: taskStopped})
		}
	})
	return ack
}

// credentialMessages returns IAMRoleCredentialsMessages for the instance's live tasks:
// all their credentials when all is set, else only those rotated now because they were
// about to expire. Rotations are persisted before the messages are sent.
func (s *Server) credentialMessages(instanceARN string, all bool) []*payload.IAMRoleCredentialsMessage {
	var out []*payload.IAMRoleCredentialsMessage
	err := s.update(func(st *state) error {
		now := s.now()
		rotated := false
		for _, t := range st.tasksOn(instanceARN) {
			if t.LastStatus == taskStopped || t.DesiredStatus == taskStopped {
				continue
			}
			for _, c := range []struct {
				creds *payload.IAMRoleCredentials
				role  payload.RoleType
			}{{t.RoleCredentials, payload.RoleTypeTaskApplication}, {t.ExecutionRoleCredentials, payload.RoleTypeTaskExecution}} {
				if c.creds == nil {
					continue
				}
				rotate := needsRotation(c.creds, now)
				if rotate {
					rotateCredentials(c.creds, now)
					rotated = true
				}
				if all || rotate {
					out = append(out, &payload.IAMRoleCredentialsMessage{
						MessageID: newUUID(), TaskArn: t.ARN, TaskClusterArn: s.arn.cluster(t.Cluster),
						RoleType: string(c.role), RoleCredentials: ptr(*c.creds),
					})
				}
			}
		}
		if !rotated {
			return errUnchanged
		}
		return nil
	})
	if err != nil {
		s.log.Error(err, "cannot rotate task credentials", "containerInstance", instanceARN)
		return nil
	}
	return out
}
