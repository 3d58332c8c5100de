package localplane

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/controlplane/payload"
)

// missedHeartbeats is how many heartbeats may go unacknowledged before a protocol
// version 2 session is closed by the server, which is what version 2 asks of ACS.
const missedHeartbeats = 3

// forgetAfter bounds how long a session remembers an unacknowledged payload or manifest.
const forgetAfter = time.Hour

var errHeartbeatTimeout = errors.New("heartbeats not acknowledged")

// acsSession is one agent's ACS websocket. A writer loop (run) delivers payloads,
// heartbeats, manifests and credentials; a reader loop handles what the agent sends.
type acsSession struct {
	s               *Server
	conn            *websocket.Conn
	log             logr.Logger
	instance        string // container instance ARN
	cluster         string // cluster ARN
	protocolVersion int
	sendCredentials bool
	kick            chan struct{}
	ctx             context.Context
	cancel          context.CancelFunc

	mu         sync.Mutex
	inflight   map[string]inflightTask // task ARN → its last delivery on this session
	payloads   map[string]sentPayload  // message ID → what it carried
	heartbeats map[string]time.Time    // unacknowledged heartbeat IDs
	manifests  map[string]time.Time    // manifest IDs sent
}

// sentTask is a task and the desired status a payload carried for it.
type sentTask struct{ arn, desired string }

type inflightTask struct {
	messageID, desired string
	sentAt             time.Time
}

type sentPayload struct {
	tasks  []sentTask
	sentAt time.Time
}

func newACSSession(s *Server, conn *websocket.Conn, instance, cluster string, protocol int, sendCredentials bool) *acsSession {
	ctx, cancel := context.WithCancel(s.ctx)
	return &acsSession{
		s: s, conn: conn, instance: instance, cluster: cluster, protocolVersion: protocol,
		sendCredentials: sendCredentials,
		log:             s.log.WithValues("session", "acs", "containerInstance", instance),
		kick:            make(chan struct{}, 1),
		ctx:             ctx, cancel: cancel,
		inflight: map[string]inflightTask{}, payloads: map[string]sentPayload{},
		heartbeats: map[string]time.Time{}, manifests: map[string]time.Time{},
	}
}

func (a *acsSession) closeNow() {
	a.cancel()
	_ = a.conn.CloseNow()
}

// run serves the session until the connection ends.
func (a *acsSession) run() {
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		a.readLoop()
		a.cancel()
	}()
	err := a.writeLoop()
	if err != nil && !errors.Is(err, context.Canceled) {
		a.log.Info("closing the ACS session", "reason", err.Error())
		if errors.Is(err, errHeartbeatTimeout) {
			_ = a.conn.Close(websocket.StatusPolicyViolation, "heartbeat not acknowledged")
		}
	}
	a.closeNow()
	<-readDone
}

func (a *acsSession) writeLoop() error {
	if a.sendCredentials {
		if err := a.pushCredentials(true); err != nil {
			return err
		}
	}
	if err := a.deliver(); err != nil {
		return err
	}
	if err := a.deliverUpdate(); err != nil {
		return err
	}
	opts := a.s.opts
	heartbeat := time.NewTicker(opts.HeartbeatInterval)
	defer heartbeat.Stop()
	manifest := time.NewTicker(opts.ManifestInterval)
	defer manifest.Stop()
	// Checking for due resends twice per ResendAfter re-sends between 1 and 1.5
	// ResendAfter after the previous attempt.
	resend := time.NewTicker(max(opts.ResendAfter/2, time.Millisecond))
	defer resend.Stop()
	for {
		var err error
		select {
		case <-a.ctx.Done():
			return a.ctx.Err()
		case <-a.kick:
			if err = a.deliver(); err == nil {
				err = a.deliverUpdate()
			}
		case <-resend.C:
			a.forget()
			err = a.deliver()
		case <-heartbeat.C:
			if err = a.heartbeat(); err == nil {
				err = a.pushCredentials(false)
			}
		case <-manifest.C:
			err = a.manifest()
		}
		if err != nil {
			return err
		}
	}
}

// send writes one message.
func (a *acsSession) send(m payload.Message) error {
	data, err := payload.EncodeMessage(m)
	if err != nil {
		return err
	}
	if err := writeFrame(a.ctx, a.conn, data); err != nil {
		return fmt.Errorf("send %s: %w", m.MessageType(), err)
	}
	return nil
}

// deliver sends a PayloadMessage for every task of the instance whose desired status the
// agent has not acknowledged, unless this session sent that same status less than
// ResendAfter ago.
func (a *acsSession) deliver() error {
	for {
		msg, tasks := a.s.nextPayload(a.instance, a.due)
		if msg == nil {
			return nil
		}
		// Recorded before sending: the agent may acknowledge before Write returns.
		now := time.Now()
		a.mu.Lock()
		a.payloads[msg.MessageID] = sentPayload{tasks: tasks, sentAt: now}
		for _, t := range tasks {
			a.inflight[t.arn] = inflightTask{messageID: msg.MessageID, desired: t.desired, sentAt: now}
		}
		a.mu.Unlock()
		if err := a.send(msg); err != nil {
			return err
		}
		a.log.V(1).Info("payload sent", "messageId", msg.MessageID, "seqNum", msg.SeqNum, "tasks", len(tasks))
	}
}

// due reports whether the task should go in the next payload. It is called with
// Server.mu held, so it must not call back into the server.
func (a *acsSession) due(arn, desired string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	inf, ok := a.inflight[arn]
	return !ok || inf.desired != desired || time.Since(inf.sentAt) >= a.s.opts.ResendAfter
}

// forget drops the memory of payloads and manifests nobody acknowledged for an hour.
func (a *acsSession) forget() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, p := range a.payloads {
		if time.Since(p.sentAt) > forgetAfter {
			delete(a.payloads, id)
		}
	}
	for id, at := range a.manifests {
		if time.Since(at) > forgetAfter {
			delete(a.manifests, id)
		}
	}
}

// deliverUpdate sends the agent update message the instance is due, if any.
func (a *acsSession) deliverUpdate() error {
	msg := a.s.nextUpdateMessage(a.instance)
	if msg == nil {
		return nil
	}
	a.log.Info("sending an agent update message", "type", msg.MessageType())
	return a.send(msg)
}

func (a *acsSession) heartbeat() error {
	id := newUUID()
	a.mu.Lock()
	missed := len(a.heartbeats)
	a.heartbeats[id] = time.Now()
	a.mu.Unlock()
	if a.protocolVersion >= 2 && missed >= missedHeartbeats {
		return fmt.Errorf("%w: %d outstanding", errHeartbeatTimeout, missed)
	}
	return a.send(&payload.HeartbeatMessage{Healthy: true, MessageID: id})
}

func (a *acsSession) manifest() error {
	msg := a.s.nextManifest(a.instance)
	if msg == nil {
		return nil
	}
	a.mu.Lock()
	a.manifests[msg.MessageID] = time.Now()
	a.mu.Unlock()
	return a.send(msg)
}

// pushCredentials sends IAMRoleCredentialsMessages: for every task credential when all
// is set (a connect with sendCredentials=true), else only for those it had to rotate.
func (a *acsSession) pushCredentials(all bool) error {
	for _, m := range a.s.credentialMessages(a.instance, all) {
		if err := a.send(m); err != nil {
			return err
		}
	}
	return nil
}
