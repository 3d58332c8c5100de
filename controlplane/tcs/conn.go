package tcs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/ecsd/ecsd/controlplane/sigv4"
	"github.com/ecsd/ecsd/controlplane/wsclient"
)

// writeQueue bounds the frames waiting for the writer: a full publish of 100 tasks is
// about 20 frames, so a full queue means a peer that stopped reading.
const writeQueue = 64

// conn is one live session.
type conn struct {
	s  *Session
	ws *websocket.Conn
	// url is the URL the websocket was opened with; every frame is signed for it.
	url string
	// out feeds the writer goroutine: frames leave in order, and signing and I/O never
	// block the read loop.
	out    chan Message
	writes sync.WaitGroup
}

// serveOnce dials, then serves until the session ends. up is how long the session was
// connected (zero if it never was); the error is never nil, errClean for a normal close.
func (s *Session) serveOnce(ctx context.Context) (up time.Duration, err error) {
	endpoint, err := s.o.Endpoint(ctx)
	if err != nil {
		return 0, fmt.Errorf("tcs endpoint: %w", err)
	}
	u, err := s.URL(endpoint)
	if err != nil {
		return 0, err
	}
	ws, err := s.dial(ctx, u)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	s.log.Info("TCS session connected", "endpoint", endpoint)
	if s.o.OnConnected != nil {
		s.o.OnConnected(true)
		defer s.o.OnConnected(false)
	}
	c := &conn{s: s, ws: ws, url: u, out: make(chan Message, writeQueue)}
	wctx, stopWriter := context.WithCancel(ctx)
	c.writes.Go(func() { c.writer(wctx) })
	defer func() {
		stopWriter()
		c.writes.Wait()
		_ = ws.CloseNow()
	}()
	err = c.serve(ctx)
	return time.Since(start), err
}

// dial opens the websocket with a SigV4-signed handshake. A refused upgrade whose body is
// a TCS exception returns that *Exception, wrapped.
func (s *Session) dial(ctx context.Context, u string) (*websocket.Conn, error) {
	ws, err := wsclient.Dial(ctx, u, s.o.Credentials, s.o.Region, s.o.HTTPClient, s.timers.DialTimeout)
	if err == nil {
		return ws, nil
	}
	var refused *wsclient.Refused
	switch {
	case errors.Is(err, wsclient.ErrUnreachable):
		if ctx.Err() == nil && s.o.EndpointFailed != nil {
			s.o.EndpointFailed()
		}
		return nil, fmt.Errorf("tcs dial: %w", err)
	case errors.As(err, &refused):
		if ex := DecodeErrorBody(refused.Body); ex != nil {
			return nil, fmt.Errorf("tcs handshake: %w", ex)
		}
		return nil, fmt.Errorf("tcs handshake: %w", err)
	}
	return nil, fmt.Errorf("tcs handshake: %w", err)
}

func (c *conn) serve(ctx context.Context) error {
	t := c.s.timers
	lifetime := time.NewTimer(t.Lifetime + wsclient.Jitter(t.Lifetime/6))
	defer lifetime.Stop()
	heartbeat := time.NewTimer(t.Heartbeat + wsclient.Jitter(t.Heartbeat))
	defer heartbeat.Stop()
	publish := time.NewTicker(t.PublishInterval)
	defer publish.Stop()

	rctx, cancelRead := context.WithCancel(ctx)
	defer cancelRead()
	frames, readErr := wsclient.ReadLoop(rctx, c.ws, maxServerFrame, func(n int64) {
		c.s.log.Info("dropping an oversized or binary TCS frame", "bytes", n)
	})

	c.publish(ctx) // once right after connecting, then every tick
	for {
		select {
		case <-ctx.Done():
			_ = c.ws.Close(websocket.StatusGoingAway, "agent stopping")
			return ctx.Err()
		case <-lifetime.C:
			_ = c.ws.Close(websocket.StatusNormalClosure, "ConnectionExpired: Reconnect to continue")
			return errClean
		case <-heartbeat.C:
			_ = c.ws.Close(websocket.StatusPolicyViolation, "no heartbeat from TCS")
			return fmt.Errorf("%w for %s", ErrHeartbeatTimeout, t.Heartbeat)
		case <-publish.C:
			c.publish(ctx)
		case err := <-readErr:
			if wsclient.CleanClose(err) {
				return fmt.Errorf("%w: %w", errClean, err)
			}
			return fmt.Errorf("tcs read: %w", err)
		case data := <-frames:
			alive, err := c.handle(data)
			if err != nil {
				_ = c.ws.Close(websocket.StatusNormalClosure, "")
				return err
			}
			if alive {
				wsclient.ResetTimer(heartbeat, t.Heartbeat+wsclient.Jitter(t.Heartbeat))
			}
		}
	}
}

// handle processes one frame from TCS. alive reports a heartbeat or an acknowledgement,
// which proves the session works; malformed and unknown frames are logged and dropped.
// Only StopTelemetrySessionMessage ends the session.
func (c *conn) handle(data []byte) (alive bool, err error) {
	if data == nil {
		return false, nil
	}
	log := c.s.log
	f, err := DecodeFrame(data)
	if err != nil {
		log.Info("dropping a malformed TCS frame", "error", err.Error(), "bytes", len(data))
		return false, nil
	}
	msg, err := DecodeMessage(f)
	if err != nil {
		if errors.Is(err, ErrUnknownType) {
			log.Info("dropping a TCS frame of unknown type", "type", f.Type)
		} else {
			log.Info("dropping a malformed TCS message", "type", f.Type, "error", err.Error())
		}
		return false, nil
	}
	switch m := msg.(type) {
	case *HeartbeatMessage:
		log.V(2).Info("TCS heartbeat", "healthy", m.Healthy)
		return true, nil
	case *AckPublishMetric, *AckPublishHealth, *AckPublishInstanceStatus:
		log.V(2).Info("TCS acknowledged a publish", "type", f.Type)
		return true, nil
	case *StopTelemetrySessionMessage:
		return false, fmt.Errorf("%w: %s", ErrSessionStopped, m.Message)
	case *Exception:
		log.Info("TCS sent an error", "type", m.Type, "message", m.Message)
	default:
		log.V(1).Info("ignoring a TCS message", "type", f.Type)
	}
	return false, nil
}

// send queues a frame for the writer. When the queue is full the peer has stopped
// reading; the frame is dropped (the statistics it held are lost, as the reference
// agent's full channel loses them) and the heartbeat timeout will end the session.
func (c *conn) send(m Message) {
	select {
	case c.out <- m:
	default:
		c.s.log.Info("TCS write queue full; dropping a frame", "type", m.MessageType())
	}
}

// writer signs and writes queued frames in order until ctx ends. Signing here, just
// before the write, keeps X-Amz-Date close to when TCS receives the frame.
func (c *conn) writer(ctx context.Context) {
	s := c.s
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-c.out:
			body, err := Encode(m)
			if err != nil {
				s.log.Error(err, "cannot encode a TCS frame", "type", m.MessageType())
				continue
			}
			frame, err := sigv4.SignFrame(ctx, s.o.Credentials, s.o.Region, c.url, body)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Error(err, "cannot sign a TCS frame", "type", m.MessageType())
				}
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, s.timers.WriteTimeout)
			err = c.ws.Write(wctx, websocket.MessageText, frame)
			cancel()
			if err != nil && ctx.Err() == nil {
				s.log.V(1).Info("cannot send a TCS frame", "type", m.MessageType(), "error", err.Error())
			}
		}
	}
}
