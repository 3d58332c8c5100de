// Package wsclient is the websocket plumbing under the session engine (wssession) that
// the agent's ACS and TCS sessions share: a SigV4-signed dial, a bounded frame reader
// that drops oversized frames without ending the session, the reference agent's notion
// of a clean close, and timer jitter.
package wsclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/coder/websocket"

	"github.com/ecsd/ecsd/controlplane/sigv4"
)

// Refused is a handshake the server answered with something other than an upgrade: the
// HTTP status and (the start of) the body, which the caller decodes as its protocol's
// exception.
type Refused struct {
	Status int
	Body   []byte
}

func (r *Refused) Error() string { return fmt.Sprintf("HTTP %d: %s", r.Status, r.Body) }

// ErrUnreachable wraps a dial that got no HTTP answer at all (connection refused, DNS,
// timeout): the endpoint itself may be stale.
var ErrUnreachable = errors.New("no answer")

// Dial opens url with a SigV4-signed handshake (service ecs, region). A refused upgrade
// returns a *Refused; a dial without any HTTP answer wraps ErrUnreachable. The returned
// connection has no read limit: read it with ReadFrame.
func Dial(ctx context.Context, url string, creds aws.CredentialsProvider, region string, hc *http.Client, timeout time.Duration) (*websocket.Conn, error) {
	hdr, err := sigv4.SignWebsocketHandshake(ctx, creds, region, url)
	if err != nil {
		return nil, fmt.Errorf("sign handshake: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ws, resp, err := websocket.Dial(dctx, url, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: hdr})
	if err == nil {
		ws.SetReadLimit(-1)
		return ws, nil
	}
	if resp == nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	r := &Refused{Status: resp.StatusCode}
	if resp.Body != nil {
		r.Body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}
	return nil, r
}

// ReadFrame reads one frame, at most max bytes of it. A larger or binary frame is
// drained without being buffered and returned as nil data with its size in dropped, so a
// hostile or broken peer can neither exhaust memory nor end the session that way.
func ReadFrame(ctx context.Context, ws *websocket.Conn, max int) (data []byte, dropped int64, err error) {
	typ, r, err := ws.Reader(ctx)
	if err != nil {
		return nil, 0, err
	}
	data, err = io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, 0, err
	}
	if len(data) > max || typ != websocket.MessageText {
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			return nil, 0, err
		}
		return nil, int64(len(data)) + n, nil
	}
	return data, 0, nil
}

// ReadLoop reads frames until the connection or ctx ends: each text frame on frames (nil
// for a dropped one, after onDrop was told its size), then the error that ended it on
// the buffered errs.
func ReadLoop(ctx context.Context, ws *websocket.Conn, max int, onDrop func(bytes int64)) (frames <-chan []byte, errs <-chan error) {
	fc, ec := make(chan []byte), make(chan error, 1)
	go func() {
		for {
			data, dropped, err := ReadFrame(ctx, ws, max)
			if err != nil {
				ec <- err
				return
			}
			if dropped > 0 && onDrop != nil {
				onDrop(dropped)
			}
			select {
			case fc <- data:
			case <-ctx.Done():
				ec <- ctx.Err()
				return
			}
		}
	}()
	return fc, ec
}

// CleanClose reports whether a read error is a close after which the reference agent
// reconnects at once, without backoff: a normal close, the server going away, a dropped
// TCP connection (1006, EOF) or a server error (1011).
func CleanClose(err error) bool {
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway, websocket.StatusAbnormalClosure, websocket.StatusInternalError:
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Jitter is a uniform random duration in [0, d).
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d)))
}
