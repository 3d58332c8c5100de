package wssession

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/coder/websocket"
	"github.com/go-logr/logr/testr"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/ecsd/ecsd/controlplane/wsclient"
	"github.com/ecsd/ecsd/controlplane/wsframe"
	"github.com/ecsd/ecsd/internal/backoff"
	"github.com/ecsd/ecsd/internal/testutil"
)

// msg is the test protocol's only shape: a frame type and an empty message.
type msg string

func (m msg) MessageType() string { return string(m) }

// errGone is the test protocol's exception: a refused handshake whose body is "gone"
// means the protocol pauses (as ACS does for a deregistered instance).
var errGone = errors.New("gone")

// testProto is a small protocol over the shared envelope. Its handler treats "ping" as a
// keep-alive, "stop" as the end of the session, and records every message it is given.
type testProto struct {
	pause   time.Duration
	handled chan string
	// waited receives SendWait's result for each "sendwait" frame.
	waited  chan error
	publish bool
	mu      sync.Mutex
	opened  int
}

func newTestProto() *testProto {
	return &testProto{handled: make(chan string, 64), waited: make(chan error, 8)}
}

func (*testProto) URL(endpoint string) (string, error) {
	return URL(endpoint, url.Values{"who": {"test"}})
}

func (*testProto) Refused(body []byte) error {
	if string(body) == "gone" {
		return errGone
	}
	return nil
}

func (*testProto) Decode(data []byte) (string, any, error) {
	f, err := wsframe.Parse(data)
	if err != nil {
		return "", nil, err
	}
	switch f.Type {
	case "ping", "noop", "stop", "sendwait":
		return f.Type, msg(f.Type), nil
	}
	return f.Type, nil, fmt.Errorf("%w: %q", wsframe.ErrUnknownType, f.Type)
}

func (*testProto) Encode(_ context.Context, _ string, m Message) ([]byte, error) {
	return wsframe.Wrap(m.MessageType(), nil)
}

func (p *testProto) Open(_ context.Context, c *Conn) Handler {
	p.mu.Lock()
	p.opened++
	p.mu.Unlock()
	h := &testHandler{p: p, c: c}
	if p.publish {
		return &testPublisher{h}
	}
	return h
}

func (*testProto) ForgetEndpoint(err error) bool { return errors.Is(err, wsclient.ErrUnreachable) }

func (p *testProto) Pause(err error) time.Duration {
	if errors.Is(err, errGone) {
		return p.pause
	}
	return 0
}

type testHandler struct {
	p *testProto
	c *Conn
	n int
}

func (h *testHandler) Handle(_ context.Context, typ string, _ any) (bool, error) {
	h.p.handled <- typ
	switch typ {
	case "ping":
		h.c.Send(msg("pong"))
		return true, nil
	case "stop":
		return false, errors.New("peer said stop")
	case "sendwait":
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			h.p.waited <- h.c.SendWait(ctx, msg("waited"))
		}()
	}
	return false, nil
}

type testPublisher struct{ *testHandler }

func (p *testPublisher) Publish(context.Context) {
	p.n++
	p.c.Send(msg(fmt.Sprintf("publish-%d", p.n)))
}

// server is the peer: it hands each accepted connection and how its read side ended to
// the test, or refuses the upgrade with refuseBody.
type server struct {
	srv        *httptest.Server
	conns      chan *websocket.Conn
	mu         sync.Mutex
	refuseBody string
	dials      int
}

func newServer(t *testing.T) *server {
	t.Helper()
	s := &server{conns: make(chan *websocket.Conn, 8)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.dials++
		refuse := s.refuseBody
		s.mu.Unlock()
		if refuse != "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(refuse))
			return
		}
		if r.URL.Path != "/base/ws" || r.URL.Query().Get("who") != "test" || r.Header.Get("Authorization") == "" {
			t.Errorf("handshake %s %q unsigned or to the wrong URL", r.URL, r.Header.Get("Authorization"))
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		s.conns <- c
		<-r.Context().Done()
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *server) refuse(body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseBody = body
}

func (s *server) dialCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dials
}

// conn returns the server side of the next connection.
func (s *server) conn(t *testing.T) *websocket.Conn {
	t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not connect")
		return nil
	}
}

func testTimers() Timers {
	return Timers{
		Inactivity: 2 * time.Hour, Lifetime: time.Hour, ResetAfter: time.Minute,
		Backoff:      backoff.Backoff{Min: time.Second, Max: 8 * time.Second, Factor: 2},
		WriteTimeout: 10 * time.Second, DialTimeout: 10 * time.Second,
	}
}

func newTestSession(t *testing.T, endpoint string, p *testProto, clk *clocktesting.FakeClock, mod func(*Options)) *Session {
	t.Helper()
	o := Options{
		Config: Config{
			Endpoint:             func(context.Context) (string, error) { return endpoint, nil },
			ContainerInstanceARN: "arn:ci",
			Region:               "us-west-2",
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, nil
			}),
			Logger: testr.New(t),
			Clock:  clk,
		},
		Name: "Test", Protocol: p, Timers: testTimers(), MaxFrame: 100,
	}
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	s.jitter = func(time.Duration) time.Duration { return 0 }
	return s
}

// run starts s and stops it when the test ends, checking that Run returns ctx's error.
func run(t *testing.T, s *Session) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}

// waiters waits until the fake clock has n timers waiting: the serve loop's (lifetime,
// inactivity, and the publish ticker if any) or the reconnect wait's one.
func waiters(t *testing.T, clk *clocktesting.FakeClock, n int) {
	t.Helper()
	testutil.Eventually(t, fmt.Sprintf("%d timers", n), func() bool { return clk.Waiters() == n })
}

func write(t *testing.T, c *websocket.Conn, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(data)); err != nil {
		t.Fatal(err)
	}
}

// read returns the type of the next frame the session sent, or the close status.
func read(t *testing.T, c *websocket.Conn) (typ string, closed websocket.StatusCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil {
		if st := websocket.CloseStatus(err); st != -1 {
			return "", st
		}
		t.Fatalf("read: %v", err)
	}
	f, err := wsframe.Parse(data)
	if err != nil {
		t.Fatalf("the session sent %q: %v", data, err)
	}
	return f.Type, -1
}

func handled(t *testing.T, p *testProto) string {
	t.Helper()
	select {
	case typ := <-p.handled:
		return typ
	case <-time.After(10 * time.Second):
		t.Fatal("the handler was given nothing")
		return ""
	}
}

// TestHandle: which frames reach the handler, which end the session and which count as a
// keep-alive, under both keep-alive rules.
func TestHandle(t *testing.T) {
	for _, tc := range []struct {
		frame       string
		anyFrame    bool
		wantHandled bool
		wantAlive   bool
		wantErr     bool
	}{
		{frame: `{"type":"ping","message":{}}`, wantHandled: true, wantAlive: true},
		{frame: `{"type":"ping","message":{}}`, anyFrame: true, wantHandled: true, wantAlive: true},
		{frame: `{"type":"noop","message":{}}`, wantHandled: true},
		{frame: `{"type":"noop","message":{}}`, anyFrame: true, wantHandled: true, wantAlive: true},
		{frame: `not json`},
		{frame: `not json`, anyFrame: true, wantAlive: true},
		{frame: `{"message":{}}`},
		{frame: `{"type":"NoSuchType","message":{}}`},
		{frame: `{"type":"NoSuchType","message":{}}`, anyFrame: true, wantAlive: true},
		{frame: "", anyFrame: true, wantAlive: true}, // dropped by the read loop (nil)
		{frame: `{"type":"stop","message":{}}`, wantHandled: true, wantErr: true},
	} {
		name := fmt.Sprintf("%s/anyFrame=%v", tc.frame, tc.anyFrame)
		t.Run(name, func(t *testing.T) {
			p := newTestProto()
			s := newTestSession(t, "http://127.0.0.1:1/base", p, clocktesting.NewFakeClock(time.Now()), func(o *Options) {
				o.AnyFrameKeepsAlive = tc.anyFrame
			})
			h := p.Open(context.Background(), &Conn{out: make(chan Message, 4), log: s.log})
			var data []byte
			if tc.frame != "" {
				data = []byte(tc.frame)
			}
			alive, err := s.frame(context.Background(), h, data)
			if alive != tc.wantAlive || (err != nil) != tc.wantErr {
				t.Errorf("frame: keep-alive %v, error %v; want %v, error %v", alive, err, tc.wantAlive, tc.wantErr)
			}
			if got := len(p.handled) > 0; got != tc.wantHandled {
				t.Errorf("handled %v, want %v", got, tc.wantHandled)
			}
		})
	}
}

// TestInactivity: a keep-alive restarts the inactivity timer; without one the session
// closes the connection as a policy violation and reconnects after the backoff.
func TestInactivity(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	srv := newServer(t)
	p := newTestProto()
	var downs atomic.Int32
	run(t, newTestSession(t, srv.srv.URL+"/base", p, clk, func(o *Options) {
		o.Timers.Inactivity = 10 * time.Second
		o.Timers.Lifetime = 2 * time.Hour
		o.OnConnected = func(up bool) {
			if !up {
				downs.Add(1)
			}
		}
	}))
	c := srv.conn(t)
	waiters(t, clk, 2) // lifetime, inactivity

	clk.Step(6 * time.Second)
	// Frames are handled in order: once the noop is, the ping's restart is done.
	write(t, c, `{"type":"ping","message":{}}`)
	write(t, c, `{"type":"noop","message":{}}`)
	for _, want := range []string{"ping", "noop"} {
		if typ := handled(t, p); typ != want {
			t.Fatalf("handled %q, want %q", typ, want)
		}
	}
	if typ, _ := read(t, c); typ != "pong" {
		t.Fatalf("answer to ping %q", typ)
	}
	clk.Step(6 * time.Second) // 12 s: past the first deadline, not the restarted one
	if n := clk.Waiters(); n != 2 {
		t.Fatalf("%d timers left at 12 s: the ping did not restart the inactivity timer", n)
	}
	clk.Step(4 * time.Second) // 16 s: 10 s after the ping, and a noop is no keep-alive
	if _, st := read(t, c); st != websocket.StatusPolicyViolation {
		t.Fatalf("close status %v, want a policy violation", st)
	}
	// Not a clean close: the next connection waits for the backoff's first delay.
	testutil.Eventually(t, "the session to go down", func() bool { return downs.Load() == 1 })
	waiters(t, clk, 1)
	if n := srv.dialCount(); n != 1 {
		t.Fatalf("%d dials before the backoff elapsed", n)
	}
	clk.Step(time.Second)
	srv.conn(t)
}

// TestLifetime: an expired connection is closed normally and, that being a clean close,
// replaced at once without the backoff.
func TestLifetime(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	srv := newServer(t)
	p := newTestProto()
	run(t, newTestSession(t, srv.srv.URL+"/base", p, clk, func(o *Options) {
		o.Timers.Backoff = backoff.Backoff{Min: time.Hour, Max: time.Hour, Factor: 2}
		o.Timers.Inactivity = 2 * time.Hour
	}))
	c := srv.conn(t)
	waiters(t, clk, 2)
	clk.Step(time.Hour)
	if _, st := read(t, c); st != websocket.StatusNormalClosure {
		t.Fatalf("close status %v, want a normal closure", st)
	}
	srv.conn(t) // with no clock step: no backoff
}

// TestBackoff: failed attempts wait the backoff's growing delays on the clock; the
// protocol's pause replaces it for the errors it names; a session that stayed up
// ResetAfter starts the backoff over.
func TestBackoff(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	srv := newServer(t)
	p := newTestProto()
	p.pause = time.Hour
	srv.refuse("no")
	var downs atomic.Int32
	run(t, newTestSession(t, srv.srv.URL+"/base", p, clk, func(o *Options) {
		o.OnConnected = func(up bool) {
			if !up {
				downs.Add(1)
			}
		}
	}))

	// waitThenDial checks that the next attempt waits exactly d.
	waitThenDial := func(d time.Duration) {
		t.Helper()
		waiters(t, clk, 1)
		n := srv.dialCount()
		clk.Step(d - time.Millisecond)
		if clk.Waiters() != 1 {
			t.Fatalf("the reconnect wait ended before %s", d)
		}
		clk.Step(time.Millisecond)
		testutil.Eventually(t, "the next dial", func() bool { return srv.dialCount() == n+1 })
	}
	waitThenDial(time.Second)
	waitThenDial(2 * time.Second)
	srv.refuse("gone")
	waitThenDial(4 * time.Second)
	srv.refuse("")
	waitThenDial(time.Hour) // the pause, not 8 s
	c := srv.conn(t)
	waiters(t, clk, 2)
	clk.Step(time.Minute) // up ResetAfter; then ended by an error
	write(t, c, `{"type":"stop","message":{}}`)
	if _, st := read(t, c); st != websocket.StatusNormalClosure {
		t.Fatalf("close status %v after the handler's error", st)
	}
	testutil.Eventually(t, "the session to go down", func() bool { return downs.Load() == 1 })
	waiters(t, clk, 1)
	clk.Step(time.Second) // the backoff starts over: 1 s, not 8 s
	srv.conn(t)
}

// TestOnce: how one attempt fails, and which failures make the endpoint suspect.
func TestOnce(t *testing.T) {
	srv := newServer(t)
	for name, tc := range map[string]struct {
		endpoint   string
		refuse     string
		want       error
		wantForget bool
	}{
		"unreachable":       {endpoint: "http://127.0.0.1:1/base", want: wsclient.ErrUnreachable, wantForget: true},
		"refused exception": {endpoint: srv.srv.URL + "/base", refuse: "gone", want: errGone},
		"refused other":     {endpoint: srv.srv.URL + "/base", refuse: "<html>", want: &wsclient.Refused{}},
		"bad endpoint":      {endpoint: "ftp://x"},
	} {
		t.Run(name, func(t *testing.T) {
			srv.refuse(tc.refuse)
			forgot := false
			s := newTestSession(t, tc.endpoint, newTestProto(), clocktesting.NewFakeClock(time.Now()), func(o *Options) {
				o.EndpointFailed = func() { forgot = true }
			})
			up, err := s.Once(context.Background())
			if err == nil || up != 0 {
				t.Fatalf("Once = %s, %v; want an error", up, err)
			}
			var refused *wsclient.Refused
			switch {
			case tc.want == nil:
			case errors.As(tc.want, &refused):
				if !errors.As(err, &refused) || refused.Status != http.StatusBadRequest {
					t.Errorf("Once = %v, want the refusal", err)
				}
			case !errors.Is(err, tc.want):
				t.Errorf("Once = %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "test ") {
				t.Errorf("error %q does not name the protocol", err)
			}
			if forgot != tc.wantForget {
				t.Errorf("EndpointFailed called %v, want %v", forgot, tc.wantForget)
			}
		})
	}
	srv.refuse("")
}

// TestFramesAndPublish: the handler's answers and the publisher's rounds leave in order;
// an oversized frame is dropped without ending the session; cancelling the context ends
// the connection (as going away, unless the read loop's cancellation closes it first: an
// agent that stops must not wait on a slow peer) and Run returns.
func TestFramesAndPublish(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	srv := newServer(t)
	p := newTestProto()
	p.publish = true
	s := newTestSession(t, srv.srv.URL+"/base", p, clk, func(o *Options) { o.Publish = 20 * time.Second })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	c := srv.conn(t)
	if typ, _ := read(t, c); typ != "publish-1" {
		t.Fatalf("first frame %q, want the publish made on connecting", typ)
	}
	waiters(t, clk, 3) // lifetime, inactivity, publish ticker
	write(t, c, `{"type":"noop","message":{"pad":"`+strings.Repeat("x", 200)+`"}}`)
	write(t, c, `{"type":"ping","message":{}}`)
	if typ, _ := read(t, c); typ != "pong" {
		t.Fatalf("answer %q, want pong", typ)
	}
	if typ := handled(t, p); typ != "ping" {
		t.Fatalf("handled %q: the oversized frame was not dropped", typ)
	}
	clk.Step(20 * time.Second)
	if typ, _ := read(t, c); typ != "publish-2" {
		t.Fatalf("frame %q, want the publish of the first tick", typ)
	}
	cancel()
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	if _, _, err := c.Read(rctx); err == nil || errors.Is(err, context.DeadlineExceeded) ||
		(websocket.CloseStatus(err) != -1 && websocket.CloseStatus(err) != websocket.StatusGoingAway) {
		t.Errorf("after cancel: read %v, want the connection ended (going away)", err)
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v", err)
	}
}

// TestSendQueueFull: a peer that stopped reading costs frames, never a blocked handler.
func TestSendQueueFull(t *testing.T) {
	c := &Conn{out: make(chan Message, 2), log: testr.New(t)}
	for range 5 {
		c.Send(msg("x"))
	}
	if len(c.out) != 2 {
		t.Errorf("%d frames queued, want the queue's 2", len(c.out))
	}
}

// TestSendWait: SendWait returns once the frame is written, and says so when it cannot be.
func TestSendWait(t *testing.T) {
	srv := newServer(t)
	p := newTestProto()
	s := newTestSession(t, srv.srv.URL+"/base", p, clocktesting.NewFakeClock(time.Now()), nil)
	run(t, s)
	c := srv.conn(t)
	write(t, c, `{"type":"sendwait","message":{}}`)
	if typ, _ := read(t, c); typ != "waited" {
		t.Fatalf("frame %q, want the waited one", typ)
	}
	select {
	case err := <-p.waited:
		if err != nil {
			t.Fatalf("SendWait = %v after the frame was written", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SendWait did not return")
	}

	// No writer: a full queue fails at once, an empty one when the context ends.
	full := &Conn{out: make(chan Message, 1), log: testr.New(t)}
	full.Send(msg("x"))
	if err := full.SendWait(context.Background(), msg("y")); !errors.Is(err, ErrNotSent) {
		t.Errorf("SendWait on a full queue = %v, want ErrNotSent", err)
	}
	idle := &Conn{out: make(chan Message, 1), log: testr.New(t)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := idle.SendWait(ctx, msg("y")); !errors.Is(err, ErrNotSent) || !errors.Is(err, context.Canceled) {
		t.Errorf("SendWait with an ended context = %v, want ErrNotSent and Canceled", err)
	}
}

func TestURL(t *testing.T) {
	q := url.Values{"b": {"2"}, "a": {"1"}}
	for endpoint, want := range map[string]string{
		"https://ecs-a-1.us-west-2.amazonaws.com":  "wss://ecs-a-1.us-west-2.amazonaws.com/ws?a=1&b=2",
		"https://ecs-a-1.us-west-2.amazonaws.com/": "wss://ecs-a-1.us-west-2.amazonaws.com/ws?a=1&b=2",
		"http://127.0.0.1:8080/acs":                "ws://127.0.0.1:8080/acs/ws?a=1&b=2",
		"wss://h/x?old=1":                          "wss://h/x/ws?a=1&b=2",
		"ftp://x":                                  "",
		"://":                                      "",
		"https://":                                 "",
	} {
		got, err := URL(endpoint, q)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("URL(%q) = %q, %v; want %q", endpoint, got, err, want)
		}
	}
}

func TestNewAndDefaults(t *testing.T) {
	p := newTestProto()
	creds := aws.AnonymousCredentials{}
	endpoint := func(context.Context) (string, error) { return "", nil }
	for name, o := range map[string]Options{
		"no protocol":    {Name: "X", Config: Config{Endpoint: endpoint, Credentials: creds, ContainerInstanceARN: "a"}},
		"no endpoint":    {Name: "X", Protocol: p, Config: Config{Credentials: creds, ContainerInstanceARN: "a"}},
		"no credentials": {Name: "X", Protocol: p, Config: Config{Endpoint: endpoint, ContainerInstanceARN: "a"}},
		"no instance":    {Name: "X", Protocol: p, Config: Config{Endpoint: endpoint, Credentials: creds}},
	} {
		if _, err := New(o); err == nil || !strings.HasPrefix(err.Error(), "x: ") {
			t.Errorf("%s: New = %v", name, err)
		}
	}
	def := testTimers()
	got := Timers{Inactivity: time.Second, Lifetime: -1}.WithDefaults(def)
	want := def
	want.Inactivity = time.Second
	if got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
}

// TestTracker: the tracker counts as disconnected from its making, records when each
// session came up and went down, every frame received, and the sessions after the first.
func TestTracker(t *testing.T) {
	start := time.Now()
	clk := clocktesting.NewFakeClock(start)
	tr := NewTracker(clk)
	if s := tr.State(); s.Connected || !s.Since.Equal(start) || !s.LastFrame.IsZero() || s.Connects != 0 || s.Reconnects() != 0 {
		t.Fatalf("new tracker %+v", s)
	}
	srv := newServer(t)
	p := newTestProto()
	run(t, newTestSession(t, srv.srv.URL+"/base", p, clk, func(o *Options) {
		o.Tracker = tr
		o.Timers.Inactivity = 2 * time.Hour
	}))
	c := srv.conn(t)
	waiters(t, clk, 2)
	if s := tr.State(); !s.Connected || !s.Since.Equal(start) || s.Connects != 1 {
		t.Fatalf("connected: %+v", s)
	}
	clk.Step(5 * time.Second)
	write(t, c, `{"type":"noop","message":{}}`)
	handled(t, p)
	if s := tr.State(); !s.LastFrame.Equal(start.Add(5 * time.Second)) {
		t.Fatalf("last frame %v, want 5 s after the start", s.LastFrame.Sub(start))
	}
	write(t, c, `not json`) // dropped as malformed, but received
	clk.Step(time.Hour - 5*time.Second)
	// A lifetime expiry reconnects at once, so the down state may already be over when it
	// is looked at: either way the state changed at the lifetime (the fake clock stands
	// still) and no frame came since.
	testutil.Eventually(t, "the session down at its lifetime", func() bool {
		s := tr.State()
		return !s.Connected || s.Connects == 2
	})
	if s := tr.State(); !s.Since.Equal(start.Add(time.Hour)) || !s.LastFrame.Equal(start.Add(5*time.Second)) {
		t.Fatalf("down: %+v", s)
	}
	srv.conn(t)
	testutil.Eventually(t, "the next session", func() bool { return tr.State().Connected })
	if s := tr.State(); s.Connects != 2 || s.Reconnects() != 1 {
		t.Fatalf("after reconnecting: %+v", s)
	}
}
