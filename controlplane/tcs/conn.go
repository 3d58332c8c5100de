package tcs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/ecsd/ecsd/controlplane/sigv4"
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
	// Frames are read through a bounded reader instead (readFrame), so that an oversized
	// frame is dropped without ending the session.
	ws.SetReadLimit(-1)
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
	hdr, err := sigv4.SignWebsocketHandshake(ctx, s.o.Credentials, s.o.Region, u)
	if err != nil {
		return nil, fmt.Errorf("tcs handshake: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, s.timers.DialTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: s.o.HTTPClient, HTTPHeader: hdr})
	if err == nil {
		return ws, nil
	}
	if resp == nil {
		if ctx.Err() == nil && s.o.EndpointFailed != nil {
			s.o.EndpointFailed()
		}
		return nil, fmt.Errorf("tcs dial: %w", err)
	}
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, maxServerFrame))
		_ = resp.Body.Close()
	}
	if ex := DecodeErrorBody(body); ex != nil {
		return nil, fmt.Errorf("tcs handshake: %w", ex)
	}
	return nil, fmt.Errorf("tcs handshake: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
}

func (c *conn) serve(ctx context.Context) error {
	t := c.s.timers
	lifetime := time.NewTimer(t.Lifetime + jitter(t.Lifetime/6))
	defer lifetime.Stop()
	heartbeat := time.NewTimer(t.Heartbeat + jitter(t.Heartbeat))
	defer heartbeat.Stop()
	publish := time.NewTicker(t.PublishInterval)
	defer publish.Stop()

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
			return readError(err)
		case data := <-frames:
			alive, err := c.handle(data)
			if err != nil {
				_ = c.ws.Close(websocket.StatusNormalClosure, "")
				return err
			}
			if alive {
				if !heartbeat.Stop() {
					select {
					case <-heartbeat.C:
					default:
					}
				}
				heartbeat.Reset(t.Heartbeat + jitter(t.Heartbeat))
			}
		}
	}
}

// readError classifies how the read side ended. Normal closes, the server going away, a
// dropped TCP connection and a server error all mean "reconnect now", as the reference
// agent treats them.
func readError(err error) error {
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway, websocket.StatusAbnormalClosure, websocket.StatusInternalError:
		return fmt.Errorf("%w: %w", errClean, err)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", errClean, err)
	}
	return fmt.Errorf("tcs read: %w", err)
}

// readFrame reads one frame, at most maxServerFrame bytes of it: a larger one is drained
// and reported as nil, which handle drops.
func (c *conn) readFrame(ctx context.Context) ([]byte, error) {
	_, r, err := c.ws.Reader(ctx)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, maxServerFrame+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxServerFrame {
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			return nil, err
		}
		c.s.log.Info("dropping an oversized TCS frame", "bytes", int64(len(data))+n)
		return nil, nil
	}
	return data, nil
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
