package acs

import (
	"context"
	"time"

	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/controlplane/wssession"
)

// protocol is what ACS plugs into the session engine.
type protocol struct{ s *Session }

func (p protocol) URL(endpoint string) (string, error) { return p.s.URL(endpoint) }

// Refused reads a refused handshake's body as an ACS exception; InactiveInstanceException
// is the one that matters (see Pause).
func (protocol) Refused(body []byte) error { return payload.DecodeErrorBody(body) }

func (protocol) Decode(data []byte) (string, any, error) {
	f, err := payload.DecodeFrame(data)
	if err != nil {
		return "", nil, err
	}
	m, err := payload.DecodeMessage(f)
	return f.Type, m, err
}

func (protocol) Encode(_ context.Context, _ string, m wssession.Message) ([]byte, error) {
	return payload.EncodeMessage(m)
}

// Open starts a connection. From now on, later connections of this process no longer ask
// for every task's credentials.
func (p protocol) Open(_ context.Context, c *wssession.Conn) wssession.Handler {
	p.s.credentialsSent = true
	p.s.setCurrent(c)
	return &conn{s: p.s, out: c}
}

// ForgetEndpoint: after an unretriable exception (invalid cluster or instance, access
// denied) the cached endpoint is forgotten; a deregistered instance waits instead.
func (protocol) ForgetEndpoint(err error) bool {
	return payload.IsUnretriable(err) && !isInactive(err)
}

// Pause: a deregistered instance waits InactiveInstanceWait before reconnecting, as the
// reference agent does.
func (p protocol) Pause(err error) time.Duration {
	if !isInactive(err) {
		return 0
	}
	p.s.log.Info("container instance is inactive (deregistered); waiting before reconnecting", "wait", p.s.timers.InactiveInstanceWait.String())
	return p.s.timers.InactiveInstanceWait
}

// conn is the ACS state of one live connection.
type conn struct {
	s   *Session
	out *wssession.Conn
	// pendingManifest is the ID of the latest manifest accepted, whose stop candidates
	// (if any) await the backend's TaskStopVerificationAck; an answer to any other is
	// ignored.
	pendingManifest string
}

// send queues a frame. Frames leave in the order they were queued (an ack before the
// credentials acks that follow it); when the queue is full the frame is dropped and ACS
// resends what was not acknowledged.
func (c *conn) send(_ context.Context, m payload.Message) { c.out.Send(m) }
