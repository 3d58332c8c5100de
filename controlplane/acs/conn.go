package acs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/controlplane/wsclient"
)

// errClean ends a session that closed normally; the next one starts at once.
var errClean = errors.New("session closed cleanly")

// conn is one live session.
type conn struct {
	s  *Session
	ws *websocket.Conn
	// pendingManifest is the ID of the latest manifest accepted, whose stop candidates
	// (if any) await the backend's TaskStopVerificationAck; an answer to any other is
	// ignored.
	pendingManifest string
	// out feeds the writer goroutine: frames leave in the order they were queued (an ack
	// before the credentials acks that follow it), without blocking the read loop on I/O.
	out    chan payload.Message
	writes sync.WaitGroup
}

// serveOnce dials, then reads until the session ends. A nil or errClean return means a
// normal close.
func (s *Session) serveOnce(ctx context.Context) error {
	endpoint, err := s.o.Endpoint(ctx)
	if err != nil {
		return fmt.Errorf("acs endpoint: %w", err)
	}
	u, err := s.URL(endpoint)
	if err != nil {
		return err
	}
	ws, err := wsclient.Dial(ctx, u, s.o.Credentials, s.o.Region, s.o.HTTPClient, 30*time.Second)
	if err != nil {
		var refused *wsclient.Refused
		if errors.As(err, &refused) {
			if ex := payload.DecodeErrorBody(refused.Body); ex != nil {
				return fmt.Errorf("acs handshake: %w", ex)
			}
			return fmt.Errorf("acs handshake: %w", err)
		}
		return fmt.Errorf("acs dial: %w", err)
	}
	s.credentialsSent = true
	s.log.Info("ACS session connected", "endpoint", endpoint)
	if s.o.OnConnected != nil {
		s.o.OnConnected(true)
		defer s.o.OnConnected(false)
	}
	c := &conn{s: s, ws: ws, out: make(chan payload.Message, 256)}
	wctx, stopWriter := context.WithCancel(ctx)
	c.writes.Add(1)
	go c.writer(wctx)
	defer func() {
		stopWriter()
		c.writes.Wait()
	}()
	return c.serve(ctx)
}

func (c *conn) serve(ctx context.Context) error {
	t := c.s.timers
	lifetime := time.NewTimer(t.Lifetime + wsclient.Jitter(t.Lifetime/6))
	defer lifetime.Stop()
	rctx, cancelRead := context.WithCancel(ctx)
	defer cancelRead()
	frames, readErr := wsclient.ReadLoop(rctx, c.ws, payload.MaxFrameSize, func(n int64) {
		c.s.log.Info("dropping an oversized or binary ACS frame", "bytes", n)
	})
	inactivity := time.NewTimer(t.Inactivity + wsclient.Jitter(t.Inactivity))
	defer inactivity.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = c.ws.Close(websocket.StatusGoingAway, "agent stopping")
			return ctx.Err()
		case <-lifetime.C:
			_ = c.ws.Close(websocket.StatusNormalClosure, "ConnectionExpired: Reconnect to continue")
			return errClean
		case <-inactivity.C:
			_ = c.ws.Close(websocket.StatusPolicyViolation, "no message from ACS")
			return fmt.Errorf("acs: nothing received for %s", t.Inactivity)
		case err := <-readErr:
			if wsclient.CleanClose(err) {
				return errClean
			}
			return fmt.Errorf("acs read: %w", err)
		case data := <-frames:
			wsclient.ResetTimer(inactivity, t.Inactivity+wsclient.Jitter(t.Inactivity))
			if err := c.handle(ctx, data); err != nil {
				_ = c.ws.Close(websocket.StatusNormalClosure, "")
				return err
			}
		}
	}
}

// send queues a frame for the writer. When the queue is full the session is stuck on a
// peer that does not read; the frame is dropped and ACS resends what was not acknowledged.
func (c *conn) send(_ context.Context, m payload.Message) {
	select {
	case c.out <- m:
	default:
		c.s.log.Info("ACS write queue full; dropping a frame", "type", m.MessageType())
	}
}

// writer writes queued frames in order until ctx ends.
func (c *conn) writer(ctx context.Context) {
	defer c.writes.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-c.out:
			data, err := payload.EncodeMessage(m)
			if err != nil {
				c.s.log.Error(err, "cannot encode an ACS frame", "type", m.MessageType())
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, c.s.timers.WriteTimeout)
			err = c.ws.Write(wctx, websocket.MessageText, data)
			cancel()
			if err != nil {
				c.s.log.V(1).Info("cannot send an ACS frame", "type", m.MessageType(), "error", err.Error())
			}
		}
	}
}
