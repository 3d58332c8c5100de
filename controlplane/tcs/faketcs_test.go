package tcs

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ecsd/ecsd/controlplane/sigv4"
)

// frameIn is one agent frame the fake TCS received and verified.
type frameIn struct {
	conn int // 1 for the first connection, 2 for the second, ...
	typ  string
	msg  json.RawMessage
}

// fakeTCS is a TCS server for tests: it verifies the SigV4 handshake and the signature of
// every frame (failing the test otherwise), decodes the frames and hands them, the
// handshakes and the server side of each connection to the test.
type fakeTCS struct {
	t      *testing.T
	srv    *httptest.Server
	reqs   chan *http.Request
	conns  chan *websocket.Conn
	frames chan frameIn
	// closed receives how each connection's read side ended.
	closed chan error
	// reject, when set, answers the upgrade with this status and body instead.
	reject func(w http.ResponseWriter) bool

	mu sync.Mutex
	n  int
}

func newFakeTCS(t *testing.T) *fakeTCS {
	t.Helper()
	f := &fakeTCS{t: t, reqs: make(chan *http.Request, 16), conns: make(chan *websocket.Conn, 16), frames: make(chan frameIn, 4096),
		closed: make(chan error, 16)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTCS) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/tcs/ws" {
		http.NotFound(w, r)
		return
	}
	if _, err := sigv4.Verify(r, sigv4.EmptyPayloadHash, lookup, time.Now()); err != nil {
		f.t.Errorf("handshake signature: %v", err)
		http.Error(w, `{"type":"BadRequestException","message":{"message":"bad signature"}}`, http.StatusForbidden)
		return
	}
	if f.reject != nil && f.reject(w) {
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		f.t.Errorf("accept: %v", err)
		return
	}
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	f.reqs <- r
	f.conns <- ws
	// The URL the agent dialled, which every frame must be signed for.
	sessionURL := "http://" + r.Host + r.URL.RequestURI()
	for {
		_, data, err := ws.Read(r.Context())
		if err != nil {
			f.closed <- err
			return
		}
		body, id, err := sigv4.VerifyFrame(data, sessionURL, lookup, time.Now())
		if err != nil {
			f.t.Errorf("frame %d on connection %d: signature: %v\n%q", len(f.frames), n, err, data)
			continue
		}
		if id.Region != testRegion || id.Service != sigv4.ServiceECS {
			f.t.Errorf("frame signed for %s/%s", id.Region, id.Service)
		}
		fr, err := DecodeFrame(body)
		if err != nil {
			f.t.Errorf("agent sent a malformed frame %q: %v", body, err)
			continue
		}
		f.frames <- frameIn{conn: n, typ: fr.Type, msg: fr.Message}
	}
}

// next returns the next frame of type typ (others are skipped) that satisfies ok.
func (f *fakeTCS) next(typ string, ok func(frameIn) bool) frameIn {
	f.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case fr := <-f.frames:
			if fr.typ == typ && (ok == nil || ok(fr)) {
				return fr
			}
		case <-timeout:
			f.t.Fatalf("no %s frame within 10s", typ)
		}
	}
}

// conn returns the server side of the next connection.
func (f *fakeTCS) conn() (*http.Request, *websocket.Conn) {
	f.t.Helper()
	select {
	case r := <-f.reqs:
		return r, <-f.conns
	case <-time.After(10 * time.Second):
		f.t.Fatal("the agent did not connect within 10s")
	}
	return nil, nil
}

// send writes a raw frame to the agent.
func sendRaw(t *testing.T, ws *websocket.Conn, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageText, []byte(data)); err != nil {
		t.Fatal(err)
	}
}

// decode unmarshals a frame's message.
func decode[T any](t *testing.T, fr frameIn) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(fr.msg, &v); err != nil {
		t.Fatalf("%s: %v", fr.typ, err)
	}
	return v
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
