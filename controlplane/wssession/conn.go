package wssession

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	"github.com/ecsd/ecsd/controlplane/wsclient"
	"github.com/ecsd/ecsd/controlplane/wsframe"
)

// Conn is one live connection, as a Handler sees it: where to queue frames.
type Conn struct {
	ws  *websocket.Conn
	url string
	// out feeds the writer goroutine: frames leave in the order they were queued (an ack
	// before the acks that follow it), and encoding, signing and I/O never block the read
	// loop.
	out   chan Message
	log   logr.Logger
	proto Protocol
	// writeTimeout bounds one frame write.
	writeTimeout time.Duration
	// closed is closed once the writer has stopped: nothing queued is written any more.
	closed chan struct{}
}

// URL is the URL the connection was opened with.
func (c *Conn) URL() string { return c.url }

// Send queues a frame for the writer. When the queue is full the peer has stopped
// reading; the frame is dropped (ACS resends what was not acknowledged; the statistics of
// a TCS frame are lost, as the reference agent's full channel loses them) and the
// inactivity timeout ends the session.
func (c *Conn) Send(m Message) {
	select {
	case c.out <- m:
	default:
		c.log.Info("write queue full; dropping a frame", "type", m.MessageType())
	}
}

// ErrNotSent is returned by SendWait when the frame was not written: the queue was full,
// the connection ended first, or its context did.
var ErrNotSent = errors.New("frame not sent")

// ErrConnectionEnded (an ErrNotSent) is SendWait's error when the connection ended before
// the frame was written: a later connection may take it.
var ErrConnectionEnded = fmt.Errorf("%w: the connection ended", ErrNotSent)

// waited is a queued frame whose sender waits for the write (SendWait).
type waited struct {
	Message
	done chan error
}

// SendWait queues a frame like Send and waits until the writer has written it, for a
// sender that must know the peer has it before going on (the acknowledgement of an update
// the agent exits for). It returns nil once written, else an error wrapping ErrNotSent or
// the write's error. The frame still goes out in order with the others.
func (c *Conn) SendWait(ctx context.Context, m Message) error {
	w := &waited{Message: m, done: make(chan error, 1)}
	select {
	case c.out <- w:
	default:
		return fmt.Errorf("%w: the write queue is full", ErrNotSent)
	}
	select {
	case err := <-w.done:
		return err
	case <-c.closed:
		select {
		case err := <-w.done: // written just before the writer stopped
			return err
		default:
			return ErrConnectionEnded
		}
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrNotSent, ctx.Err())
	}
}

// writer encodes and writes queued frames in order until ctx ends. Encoding here, just
// before the write, keeps a frame's signature date close to when the peer receives it.
func (c *Conn) writer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-c.out:
			var done chan error
			if w, ok := m.(*waited); ok {
				m, done = w.Message, w.done
			}
			err := c.write(ctx, m)
			if done != nil {
				done <- err
			}
		}
	}
}

// write encodes and writes one frame.
func (c *Conn) write(ctx context.Context, m Message) error {
	data, err := c.proto.Encode(ctx, c.url, m)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Error(err, "cannot encode a frame", "type", m.MessageType())
		}
		return fmt.Errorf("%w: encode: %w", ErrNotSent, err)
	}
	wctx, cancel := context.WithTimeout(ctx, c.writeTimeout)
	err = c.ws.Write(wctx, websocket.MessageText, data)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			c.log.V(1).Info("cannot send a frame", "type", m.MessageType(), "error", err.Error())
		}
		return fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	return nil
}

// once dials, then serves until the session ends.
func (s *Session) once(ctx context.Context) (time.Duration, error) {
	endpoint, err := s.o.Endpoint(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s endpoint: %w", s.tag, err)
	}
	u, err := s.o.Protocol.URL(endpoint)
	if err != nil {
		return 0, fmt.Errorf("%s %w", s.tag, err)
	}
	ws, err := s.dial(ctx, u)
	if err != nil {
		return 0, err
	}
	start := s.clock.Now()
	c := &Conn{ws: ws, url: u, out: make(chan Message, s.o.Queue), log: s.log, proto: s.o.Protocol,
		writeTimeout: s.o.Timers.WriteTimeout, closed: make(chan struct{})}
	h := s.o.Protocol.Open(ctx, c)
	s.log.Info(s.o.Name+" session connected", "endpoint", endpoint)
	s.o.Tracker.SetConnected(true)
	defer s.o.Tracker.SetConnected(false)
	if s.o.OnConnected != nil {
		s.o.OnConnected(true)
		defer s.o.OnConnected(false)
	}
	wctx, stopWriter := context.WithCancel(ctx)
	var writes sync.WaitGroup
	writes.Go(func() { c.writer(wctx) })
	defer func() {
		stopWriter()
		writes.Wait()
		close(c.closed)
		_ = ws.CloseNow()
	}()
	err = s.serve(ctx, c, h)
	return s.clock.Since(start), err
}

// dial opens the websocket with a SigV4-signed handshake. A refused upgrade whose body is
// the protocol's exception returns it, wrapped; a dial without any HTTP answer wraps
// wsclient.ErrUnreachable.
func (s *Session) dial(ctx context.Context, u string) (*websocket.Conn, error) {
	ws, err := wsclient.Dial(ctx, u, s.o.Credentials, s.o.Region, s.o.HTTPClient, s.o.Timers.DialTimeout)
	if err == nil {
		return ws, nil
	}
	var refused *wsclient.Refused
	switch {
	case errors.Is(err, wsclient.ErrUnreachable):
		return nil, fmt.Errorf("%s dial: %w", s.tag, err)
	case errors.As(err, &refused):
		if ex := s.o.Protocol.Refused(refused.Body); ex != nil {
			return nil, fmt.Errorf("%s handshake: %w", s.tag, ex)
		}
	}
	return nil, fmt.Errorf("%s handshake: %w", s.tag, err)
}

// serve runs one connection: frames in through the handler, timers, publishing, until
// the connection or ctx ends.
func (s *Session) serve(ctx context.Context, c *Conn, h Handler) error {
	t := s.o.Timers
	lifetime := s.clock.NewTimer(t.Lifetime + s.jitter(t.Lifetime/6))
	defer lifetime.Stop()
	inactivity := s.clock.NewTimer(t.Inactivity + s.jitter(t.Inactivity))
	defer inactivity.Stop()
	pub, publishes := h.(Publisher)
	var tick <-chan time.Time
	if publishes && s.o.Publish > 0 {
		ticker := s.clock.NewTicker(s.o.Publish)
		defer ticker.Stop()
		tick = ticker.C()
	}

	rctx, cancelRead := context.WithCancel(ctx)
	defer cancelRead()
	frames, readErr := wsclient.ReadLoop(rctx, c.ws, s.o.MaxFrame, func(n int64) {
		s.log.Info("dropping an oversized or binary frame", "bytes", n)
	})

	if publishes {
		pub.Publish(ctx) // once right after connecting, then every tick
	}
	for {
		select {
		case <-ctx.Done():
			_ = c.ws.Close(websocket.StatusGoingAway, "agent stopping")
			return ctx.Err()
		case <-lifetime.C():
			_ = c.ws.Close(websocket.StatusNormalClosure, "ConnectionExpired: Reconnect to continue")
			return fmt.Errorf("%w: lifetime reached", ErrClosed)
		case <-inactivity.C():
			_ = c.ws.Close(websocket.StatusPolicyViolation, "no message from "+s.o.Name)
			return fmt.Errorf("%s: %w for %s", s.tag, ErrInactive, t.Inactivity)
		case <-tick:
			pub.Publish(ctx)
		case err := <-readErr:
			if wsclient.CleanClose(err) {
				return fmt.Errorf("%w: %w", ErrClosed, err)
			}
			return fmt.Errorf("%s read: %w", s.tag, err)
		case data := <-frames:
			s.o.Tracker.FrameReceived()
			alive, err := s.frame(ctx, h, data)
			if err != nil {
				_ = c.ws.Close(websocket.StatusNormalClosure, "")
				return err
			}
			if alive {
				resetTimer(inactivity, t.Inactivity+s.jitter(t.Inactivity))
			}
		}
	}
}

// frame handles one received frame (nil for one the read loop dropped) and reports whether
// it counts as a keep-alive: any frame with AnyFrameKeepsAlive, else the handler's say.
func (s *Session) frame(ctx context.Context, h Handler, data []byte) (keepAlive bool, err error) {
	alive, err := s.handle(ctx, h, data)
	if err != nil {
		return false, err
	}
	return alive || s.o.AnyFrameKeepsAlive, nil
}

// handle decodes one frame and hands it to the handler. Dropped (nil), malformed and
// unknown frames are logged and go no further: a broken or newer peer must not end the
// session.
func (s *Session) handle(ctx context.Context, h Handler, data []byte) (alive bool, err error) {
	if data == nil {
		return false, nil
	}
	typ, msg, err := s.o.Protocol.Decode(data)
	switch {
	case err == nil:
		return h.Handle(ctx, typ, msg)
	case typ == "":
		s.log.Info("dropping a malformed frame", "error", err.Error(), "bytes", len(data))
	case errors.Is(err, wsframe.ErrUnknownType):
		s.log.Info("dropping a frame of unknown type", "type", typ)
	default:
		s.log.Info("dropping a malformed message", "type", typ, "error", err.Error())
	}
	return false, nil
}

// resetTimer restarts t for d, draining a fire that was not received.
func resetTimer(t clock.Timer, d time.Duration) {
	if !t.Stop() {
		select {
		case <-t.C():
		default:
		}
	}
	t.Reset(d)
}
