package tcs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ecsd/ecsd/controlplane/sigv4"
	"github.com/ecsd/ecsd/controlplane/wsclient"
	"github.com/ecsd/ecsd/controlplane/wssession"
)

// writeQueue bounds the frames waiting for the writer: a full publish of 100 tasks is
// about 20 frames, so a full queue means a peer that stopped reading.
const writeQueue = 64

// protocol is what TCS plugs into the session engine.
type protocol struct{ s *Session }

func (p protocol) URL(endpoint string) (string, error) { return p.s.URL(endpoint) }

// Refused reads a refused handshake's body as a TCS exception.
func (protocol) Refused(body []byte) error { return DecodeErrorBody(body) }

func (protocol) Decode(data []byte) (string, any, error) {
	f, err := DecodeFrame(data)
	if err != nil {
		return "", nil, err
	}
	m, err := DecodeMessage(f)
	return f.Type, m, err
}

// Encode frames and signs m for the session URL, as TCS requires of every agent frame.
// The engine calls it just before the write, which keeps X-Amz-Date close to when TCS
// receives the frame.
func (p protocol) Encode(ctx context.Context, url string, m wssession.Message) ([]byte, error) {
	body, err := Encode(m)
	if err != nil {
		return nil, err
	}
	frame, err := sigv4.SignFrame(ctx, p.s.o.Credentials, p.s.o.Region, url, body)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", m.MessageType(), err)
	}
	return frame, nil
}

func (p protocol) Open(_ context.Context, c *wssession.Conn) wssession.Handler {
	return &conn{s: p.s, out: c}
}

// ForgetEndpoint: an endpoint that gave no HTTP answer at all may be stale, so it is
// discovered afresh.
func (protocol) ForgetEndpoint(err error) bool { return errors.Is(err, wsclient.ErrUnreachable) }

// Pause: TCS has no fixed waits; every error takes the backoff.
func (protocol) Pause(error) time.Duration { return 0 }

// conn is the TCS side of one live connection: it publishes (publish.go) and reads
// TCS's few messages.
type conn struct {
	s   *Session
	out *wssession.Conn
}

// Handle processes one message from TCS. alive reports a heartbeat or an
// acknowledgement, which proves the session works; only StopTelemetrySessionMessage ends
// the session.
func (c *conn) Handle(_ context.Context, typ string, msg any) (alive bool, err error) {
	log := c.s.log
	switch m := msg.(type) {
	case *HeartbeatMessage:
		log.V(2).Info("TCS heartbeat", "healthy", m.Healthy)
		return true, nil
	case *AckPublishMetric, *AckPublishHealth, *AckPublishInstanceStatus:
		log.V(2).Info("TCS acknowledged a publish", "type", typ)
		return true, nil
	case *StopTelemetrySessionMessage:
		return false, fmt.Errorf("%w: %s", ErrSessionStopped, m.Message)
	case *Exception:
		log.Info("TCS sent an error", "type", m.Type, "message", m.Message)
	default:
		log.V(1).Info("ignoring a TCS message", "type", typ)
	}
	return false, nil
}

// send queues a frame for the engine's writer; when the queue is full the frame is
// dropped (the statistics it held are lost, as the reference agent's full channel loses
// them) and the heartbeat timeout will end the session.
func (c *conn) send(m Message) { c.out.Send(m) }
