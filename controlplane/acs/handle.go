package acs

import (
	"context"
	"time"

	"github.com/ecsd/ecsd/controlplane/payload"
)

// Handle applies one message. Every frame counts as a keep-alive (the engine's
// AnyFrameKeepsAlive); only an InactiveInstanceException (the instance is gone) ends the
// session.
func (c *conn) Handle(ctx context.Context, typ string, msg any) (alive bool, err error) {
	return true, c.handle(ctx, typ, msg)
}

func (c *conn) handle(ctx context.Context, typ string, msg any) error {
	log := c.s.log
	a := c.s.o.Applier
	switch m := msg.(type) {
	case *payload.HeartbeatMessage:
		c.send(ctx, payload.HeartbeatAckRequest{MessageID: m.MessageID})
	case *payload.PayloadMessage:
		if err := m.Validate(); err != nil {
			log.Info("dropping an invalid payload", "error", err.Error())
			return nil
		}
		if err := a.ApplyPayload(ctx, m); err != nil {
			// Not acknowledged: ACS sends it again.
			log.Error(err, "payload not applied", "messageId", m.MessageID)
			return nil
		}
		// A manifest numbered below this payload was made before it and must not be acted
		// on (it would not list the payload's new tasks, or list its stopped ones as
		// running). Recorded before the ack; if it cannot be, the payload is not
		// acknowledged and comes again, which changes nothing but retries the record.
		if err := a.RecordSeqNum(ctx, m.SeqNum); err != nil {
			log.Error(err, "cannot record the payload's sequence number; not acknowledged", "messageId", m.MessageID, "seqNum", m.SeqNum)
			return nil
		}
		c.send(ctx, m.Ack())
		for i := range m.Tasks {
			for _, rc := range payload.Credentials(&m.Tasks[i]) {
				c.send(ctx, rc.Ack(m.MessageID))
			}
		}
		log.V(1).Info("payload applied", "messageId", m.MessageID, "seqNum", m.SeqNum, "tasks", len(m.Tasks))
	case *payload.IAMRoleCredentialsMessage:
		rc, err := m.Credentials()
		if err != nil {
			log.Info("dropping invalid credentials", "error", err.Error())
			return nil
		}
		if err := a.ApplyCredentials(ctx, rc); err != nil {
			log.Error(err, "credentials not stored", "messageId", m.MessageID, "task", m.TaskArn)
			return nil
		}
		c.send(ctx, rc.Ack(m.MessageID))
	case *payload.TaskManifestMessage:
		c.manifest(ctx, m)
	case *payload.TaskStopVerificationAck:
		if m.MessageID == "" || m.MessageID != c.pendingManifest {
			log.V(1).Info("ignoring a stop verification for another manifest", "messageId", m.MessageID)
			return nil
		}
		c.pendingManifest = ""
		if err := a.StopTasks(ctx, m.StopTasks); err != nil {
			log.Error(err, "cannot stop the verified tasks")
		}
	case *payload.StageUpdateMessage:
		c.s.o.Updater.StageUpdate(ctx, m, c.s.reply)
	case *payload.PerformUpdateMessage:
		c.s.o.Updater.PerformUpdate(ctx, m, c.s.reply)
	case *payload.AttachTaskNetworkInterfacesMessage:
		c.attachENIs(ctx, typ, m.Validate(), m.TaskArn, m.ElasticNetworkInterfaces, m.ExpiresAt(c.s.o.Clock.Now()), m.Ack())
	case *payload.AttachInstanceNetworkInterfacesMessage:
		c.attachENIs(ctx, typ, m.Validate(), "", m.ElasticNetworkInterfaces, m.ExpiresAt(c.s.o.Clock.Now()), m.Ack())
	case *payload.ConfirmAttachmentMessage:
		c.ackAttachment(ctx, typ, m.ClusterArn, m.ContainerInstanceArn, m.MessageID)
	case *payload.InactiveInstanceException:
		return m
	case error:
		log.Info("ACS sent an error", "error", m.Error())
	default:
		log.V(1).Info("ignoring an ACS message", "type", typ)
	}
	return nil
}

// manifest handles a TaskManifestMessage as the reference agent does. Payload seqNums and
// manifest timelines are one sequence: a manifest whose timeline is not above the latest
// number seen, payload or manifest, is older than something already applied (or a
// duplicate) and is discarded, unacknowledged and never acted on. Otherwise its timeline
// is recorded, it is acknowledged, and the tasks running here that it does not list are
// offered to the backend as stop candidates; only the backend's answer to this manifest
// stops anything.
func (c *conn) manifest(ctx context.Context, m *payload.TaskManifestMessage) {
	a := c.s.o.Applier
	log := c.s.log
	latest, err := a.LatestSeqNum(ctx)
	if err != nil {
		log.Error(err, "cannot read the latest ACS sequence number; task manifest not acted on", "messageId", m.MessageID)
		return
	}
	if m.Timeline <= latest {
		log.Info("discarding a stale task manifest: its timeline is not above the latest sequence number",
			"messageId", m.MessageID, "timeline", m.Timeline, "latestSeqNum", latest)
		return
	}
	if err := a.RecordSeqNum(ctx, m.Timeline); err != nil {
		log.Error(err, "cannot record the task manifest's timeline; not acted on", "messageId", m.MessageID)
		return
	}
	// Only the answer to the latest manifest counts, as in the reference agent.
	c.pendingManifest = m.MessageID
	candidates, err := a.StopCandidates(ctx, m)
	if err != nil {
		log.Error(err, "task manifest not applied", "messageId", m.MessageID)
		return
	}
	c.send(ctx, payload.AckRequest{Cluster: m.ClusterArn, ContainerInstance: m.ContainerInstanceArn, MessageID: m.MessageID})
	if len(candidates) > 0 {
		c.send(ctx, payload.TaskStopVerificationMessage{MessageID: m.MessageID, StopCandidates: candidates})
	}
}

// attachENIs records the ENIs of an attach message, then acknowledges it. The reference
// agent acknowledges before recording; ecsd acknowledges only once the Attachment objects
// are durable, as for payloads, so a message lost to a crash or a store failure is sent
// again. An invalid message (valid is its Validate result) is dropped unacknowledged, as
// the reference agent does. Confirming the attachment (ATTACHED) is the controllers' job.
func (c *conn) attachENIs(ctx context.Context, typ string, valid error, taskARN string, enis []payload.ElasticNetworkInterface, expiresAt time.Time, ack payload.AckRequest) {
	log := c.s.log
	if valid != nil {
		log.Info("dropping an invalid ENI attachment", "type", typ, "error", valid.Error())
		return
	}
	if err := c.s.o.Applier.ApplyENIAttachments(ctx, taskARN, enis, expiresAt); err != nil {
		log.Error(err, "ENI attachment not recorded", "type", typ, "messageId", ack.MessageID)
		return
	}
	c.send(ctx, ack)
	log.V(1).Info("ENI attachment recorded", "type", typ, "messageId", ack.MessageID, "task", taskARN,
		"enis", len(enis), "expiresAt", expiresAt)
}

// ackAttachment acknowledges a resource attachment message at once, the reference agent's
// rule. ecsd does not register the EBS capabilities, so ECS should not send these; one
// that arrives is acknowledged (so it is not resent) but never confirmed, and the backend
// gives up on it after its wait timeout.
func (c *conn) ackAttachment(ctx context.Context, typ, cluster, instance, id string) {
	c.s.log.Info("attachment acknowledged but not supported yet; it will time out", "type", typ, "messageId", id)
	c.send(ctx, payload.AckRequest{Cluster: cluster, ContainerInstance: instance, MessageID: id})
}
