package localplane

import (
	"errors"

	"github.com/coder/websocket"

	"github.com/ecsd/ecsd/controlplane/payload"
)

// readLoop handles the agent's frames until the connection ends. Unknown or malformed
// frames are logged and dropped, as the agent does with ours.
func (a *acsSession) readLoop() {
	for {
		typ, data, err := a.conn.Read(a.ctx)
		if err != nil {
			if !errors.Is(err, a.ctx.Err()) {
				a.log.V(1).Info("ACS read ended", "reason", err.Error())
			}
			return
		}
		if typ != websocket.MessageText {
			a.log.Info("ignoring a binary ACS frame")
			continue
		}
		if err := a.handle(data); err != nil {
			a.log.Info("ignoring an ACS frame", "reason", err.Error())
		}
	}
}

func (a *acsSession) handle(data []byte) error {
	f, err := payload.DecodeFrame(data)
	if err != nil {
		return err
	}
	m, err := payload.DecodeMessage(f)
	if err != nil {
		return err
	}
	switch m := m.(type) {
	case *payload.AckRequest:
		a.onAck(m.MessageID)
	case *payload.HeartbeatAckRequest:
		a.mu.Lock()
		clear(a.heartbeats) // the agent is alive: nothing is outstanding any more
		a.mu.Unlock()
	case *payload.IAMRoleCredentialsAckRequest:
		a.log.V(1).Info("credentials acknowledged", "credentialsId", m.CredentialsID)
	case *payload.TaskStopVerificationMessage:
		return a.send(a.s.verifyStops(a.instance, m))
	case *payload.NackRequest:
		a.log.Info("agent refused a message", "messageId", m.MessageID, "reason", m.Reason)
		a.s.agentUpdateAnswered(a.instance, m.MessageID, true, m.Reason)
	default:
		a.log.Info("ignoring an unexpected ACS message", "type", f.Type)
	}
	return nil
}

// onAck records the acknowledgement of a payload (or of a manifest, which needs nothing).
// The state is updated before the session forgets the delivery, so a concurrent deliver
// never sees the task neither acknowledged nor in flight and sends it again.
func (a *acsSession) onAck(id string) {
	a.mu.Lock()
	p, isPayload := a.payloads[id]
	_, isManifest := a.manifests[id]
	delete(a.manifests, id)
	a.mu.Unlock()
	switch {
	case isPayload:
		if err := a.s.ackTasks(p.tasks); err != nil {
			a.log.Error(err, "cannot record a payload acknowledgement", "messageId", id)
			return
		}
		a.mu.Lock()
		delete(a.payloads, id)
		for _, t := range p.tasks {
			if a.inflight[t.arn].messageID == id {
				delete(a.inflight, t.arn)
			}
		}
		a.mu.Unlock()
		a.log.V(1).Info("payload acknowledged", "messageId", id)
	case isManifest:
	case a.s.agentUpdateAnswered(a.instance, id, false, ""):
		a.log.Info("agent update message acknowledged", "messageId", id)
		a.s.notify(a.instance) // a staged update is performed next
	default:
		a.log.V(1).Info("acknowledgement of an unknown message", "messageId", id)
	}
}
