package acs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/coder/websocket"

	"github.com/ecsd/ecsd/controlplane/payload"
)

// errClean ends a session that closed normally; the next one starts at once.
var errClean = errors.New("session closed cleanly")

// emptySHA256 is the payload hash of the handshake's empty body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// conn is one live session.
type conn struct {
	s  *Session
	ws *websocket.Conn
	// pendingManifest is the ID of the manifest whose stop candidates await the backend's
	// TaskStopVerificationAck.
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
	hdr, err := signHandshake(ctx, s.o, u)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	ws, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: s.o.HTTPClient, HTTPHeader: hdr})
	cancel()
	if err != nil {
		if resp != nil && resp.Body != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
			if ex := payload.DecodeErrorBody(body); ex != nil {
				return fmt.Errorf("acs handshake: %w", ex)
			}
			return fmt.Errorf("acs handshake: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
		}
		return fmt.Errorf("acs dial: %w", err)
	}
	// Frames are read through a bounded reader instead (readFrame), so that an oversized
	// frame is dropped without ending the session.
	ws.SetReadLimit(-1)
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
	lifetime := time.NewTimer(t.Lifetime + jitter(t.Lifetime/6))
	defer lifetime.Stop()
	frames := make(chan []byte)
	readErr := make(chan error, 1)
	rctx, cancelRead := context.WithCancel(ctx)
	defer cancelRead()
	go func() {
		for {
			data, err := c.readFrame(rctx)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case frames <- data:
			case <-rctx.Done():
				readErr <- rctx.Err()
				return
			}
		}
	}()
	inactivity := time.NewTimer(t.Inactivity + jitter(t.Inactivity))
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
			switch websocket.CloseStatus(err) {
			case websocket.StatusNormalClosure, websocket.StatusGoingAway, websocket.StatusAbnormalClosure, websocket.StatusInternalError:
				return errClean
			}
			if errors.Is(err, io.EOF) {
				return errClean
			}
			return fmt.Errorf("acs read: %w", err)
		case data := <-frames:
			if !inactivity.Stop() {
				select {
				case <-inactivity.C:
				default:
				}
			}
			inactivity.Reset(t.Inactivity + jitter(t.Inactivity))
			if err := c.handle(ctx, data); err != nil {
				_ = c.ws.Close(websocket.StatusNormalClosure, "")
				return err
			}
		}
	}
}

// readFrame reads one text frame, at most payload.MaxFrameSize bytes of it: a larger one
// is drained and reported as an empty frame, which handle drops with a log line.
func (c *conn) readFrame(ctx context.Context) ([]byte, error) {
	typ, r, err := c.ws.Reader(ctx)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, payload.MaxFrameSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > payload.MaxFrameSize {
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			return nil, err
		}
		c.s.log.Info("dropping an oversized ACS frame", "bytes", int64(len(data))+n)
		return nil, nil
	}
	if typ != websocket.MessageText {
		c.s.log.Info("dropping a binary ACS frame", "bytes", len(data))
		return nil, nil
	}
	return data, nil
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

// signHandshake signs a GET of the session URL (query included, empty body) with SigV4
// for service ecs and returns the headers to send on the upgrade request.
func signHandshake(ctx context.Context, o Options, rawURL string) (http.Header, error) {
	creds, err := o.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("acs credentials: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptySHA256, "ecs", o.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("acs sign: %w", err)
	}
	h := http.Header{}
	for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		if v := req.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return h, nil
}
