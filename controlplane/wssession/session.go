// Package wssession is the websocket session engine the agent's ACS and TCS sessions both
// run on. It keeps one connection up at a time: it asks for the endpoint, dials with a
// SigV4-signed handshake, serves, and reconnects with backoff. It owns each connection's
// goroutines (a read loop that bounds frame size, a writer fed by a bounded queue) and
// timers (lifetime, inactivity, publish tick) on an injected clock, and closes
// gracefully when its context ends.
//
// A protocol supplies only what is its own (Protocol): the URL's query, how frames decode
// and encode, what a refused handshake means, when to forget the endpoint or pause, and a
// Handler for the messages of each connection. So the timing rules of spec §3.4 and §4,
// which ACS and TCS share, are written and tested once.
package wssession

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	"github.com/ecsd/ecsd/controlplane/wsclient"
	"github.com/ecsd/ecsd/internal/backoff"
)

// Config is what every session needs to know: where to connect, who the agent is and
// how to sign. ACS and TCS options embed it.
type Config struct {
	// Endpoint returns the endpoint (DiscoverPollEndpoint, cached by the caller). It is
	// asked again before every connection.
	Endpoint func(ctx context.Context) (string, error)
	// EndpointFailed tells the caller to forget a cached endpoint that could not be used
	// (which failures count is the protocol's ForgetEndpoint), so that the next attempt
	// discovers it afresh.
	EndpointFailed       func()
	Cluster              string
	ContainerInstanceARN string
	Region               string
	Credentials          aws.CredentialsProvider
	AgentVersion         string
	AgentHash            string
	// RuntimeVersion is the container runtime's version, which goes in the dockerVersion
	// query parameter in the form the protocol wants.
	RuntimeVersion string
	HTTPClient     *http.Client
	// OnConnected is told when a session comes up (true) and goes down (false).
	OnConnected func(bool)
	// Tracker, when set, records the connection state and the frames received, for the
	// health check and metrics.
	Tracker *Tracker
	Logger  logr.Logger
	// Clock runs every timer of the engine; nil is the real clock. Tests inject a fake
	// one so that timeouts need no real waiting.
	Clock clock.WithTicker
}

// Timers are a session's timing rules. Zero fields take the protocol's defaults
// (WithDefaults).
type Timers struct {
	// Inactivity closes a session that received no keep-alive for this long, plus up to
	// as much again (jitter, so that many agents do not reconnect at once).
	Inactivity time.Duration
	// Lifetime closes a session after this long, plus up to a sixth more, so that the
	// backend's load balancers can rebalance. The close is clean: the next session starts
	// at once.
	Lifetime time.Duration
	// Backoff paces reconnects after errors.
	Backoff backoff.Backoff
	// ResetAfter restarts the backoff once a session has stayed up this long.
	ResetAfter time.Duration
	// WriteTimeout bounds one frame write.
	WriteTimeout time.Duration
	// DialTimeout bounds the handshake.
	DialTimeout time.Duration
}

// WithDefaults fills the zero (or negative) fields of t from d.
func (t Timers) WithDefaults(d Timers) Timers {
	pick := func(v, def time.Duration) time.Duration {
		if v <= 0 {
			return def
		}
		return v
	}
	t.Inactivity = pick(t.Inactivity, d.Inactivity)
	t.Lifetime = pick(t.Lifetime, d.Lifetime)
	t.ResetAfter = pick(t.ResetAfter, d.ResetAfter)
	t.WriteTimeout = pick(t.WriteTimeout, d.WriteTimeout)
	t.DialTimeout = pick(t.DialTimeout, d.DialTimeout)
	if t.Backoff == (backoff.Backoff{}) {
		t.Backoff = d.Backoff
	}
	return t
}

// Options configures the engine for one protocol.
type Options struct {
	Config
	// Name names the protocol in logs and errors ("ACS", "TCS").
	Name     string
	Protocol Protocol
	// Timers must be complete (see Timers.WithDefaults).
	Timers Timers
	// Publish, when positive and the connection's Handler is a Publisher, is the period
	// of its Publish calls (the first comes right after connecting).
	Publish time.Duration
	// MaxFrame bounds a received frame; a larger one is dropped without ending the session.
	MaxFrame int
	// Queue bounds the frames waiting for the writer (default 256).
	Queue int
	// AnyFrameKeepsAlive makes every frame received, even one that is dropped, reset the
	// inactivity timer (ACS: "nothing received"); otherwise only the Handler's say-so does
	// (TCS: heartbeats and acknowledgements).
	AnyFrameKeepsAlive bool
}

// Message is a shape a protocol sends; its type names it in logs.
type Message interface {
	MessageType() string
}

// Protocol is what ACS or TCS plug into the engine.
type Protocol interface {
	// URL builds the session URL for an endpoint; it is asked before every dial.
	URL(endpoint string) (string, error)
	// Refused decodes the body of a refused handshake into the protocol's exception, or
	// returns nil when the body is none.
	Refused(body []byte) error
	// Decode parses one received text frame into its type name and message. typ is empty
	// when the envelope itself is malformed; an unknown type wraps wsframe.ErrUnknownType.
	Decode(data []byte) (typ string, msg any, err error)
	// Encode returns the bytes of an outgoing frame; url is the session's (TCS signs
	// every frame for it).
	Encode(ctx context.Context, url string, m Message) ([]byte, error)
	// Open is told that a connection is up and returns the handler of its messages.
	Open(ctx context.Context, c *Conn) Handler
	// ForgetEndpoint reports whether a session that ended with err should make the caller
	// forget the cached endpoint (Config.EndpointFailed).
	ForgetEndpoint(err error) bool
	// Pause returns how long to wait before reconnecting after err when the protocol has a
	// fixed rule for it (ACS: an hour after the instance was deregistered); zero leaves
	// the wait to the backoff.
	Pause(err error) time.Duration
}

// Handler acts on the messages of one connection.
type Handler interface {
	// Handle acts on one decoded message. alive reports a keep-alive (a heartbeat, an
	// acknowledgement); a non-nil err ends the session.
	Handle(ctx context.Context, typ string, msg any) (alive bool, err error)
}

// Publisher is a Handler that also sends on its own schedule (Options.Publish).
type Publisher interface {
	Handler
	Publish(ctx context.Context)
}

// Sentinel errors, checked with errors.Is.
var (
	// ErrClosed: the session closed normally (lifetime reached, the peer closed or went
	// away); the next one starts at once.
	ErrClosed = errors.New("session closed cleanly")
	// ErrInactive: the peer sent no keep-alive for longer than the inactivity timeout,
	// so the connection is presumed dead.
	ErrInactive = errors.New("nothing received")
)

// Session keeps one connection of a protocol up at a time.
type Session struct {
	o     Options
	log   logr.Logger
	clock clock.WithTicker
	// tag is the protocol's name as errors start with it ("acs", "tcs").
	tag string
	// jitter spreads the timers (wsclient.Jitter); tests make it zero.
	jitter func(time.Duration) time.Duration
}

// New checks o and returns a Session; Run connects.
func New(o Options) (*Session, error) {
	tag := strings.ToLower(o.Name)
	switch {
	case o.Protocol == nil:
		return nil, fmt.Errorf("%s: no protocol", tag)
	case o.Endpoint == nil:
		return nil, fmt.Errorf("%s: no endpoint function", tag)
	case o.Credentials == nil:
		return nil, fmt.Errorf("%s: no credentials", tag)
	case o.ContainerInstanceARN == "":
		return nil, fmt.Errorf("%s: no container instance ARN", tag)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Queue <= 0 {
		o.Queue = 256
	}
	return &Session{o: o, log: o.Logger, clock: o.Clock, tag: tag, jitter: wsclient.Jitter}, nil
}

// Run connects, serves and reconnects until ctx ends, and returns ctx's error. A clean
// close reconnects at once; an error waits the protocol's pause or the backoff, which
// starts over once a session has stayed up Timers.ResetAfter.
func (s *Session) Run(ctx context.Context) error {
	t := s.o.Timers
	attempt := 0
	for {
		up, err := s.Once(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if up >= t.ResetAfter {
			attempt = 0
		}
		var wait time.Duration
		if err == nil || errors.Is(err, ErrClosed) {
			attempt = 0
			s.log.V(1).Info(s.o.Name+" session closed; reconnecting", "reason", errString(err))
		} else if wait = s.o.Protocol.Pause(err); wait <= 0 {
			wait = t.Backoff.Delay(attempt)
			attempt++
			s.log.Info(s.o.Name+" session ended", "error", err.Error(), "reconnectIn", wait.String())
		}
		if wait > 0 {
			timer := s.clock.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			case <-timer.C():
			}
		}
	}
}

// Once runs one session: it asks for the endpoint, dials, and serves until the session
// ends. up is how long it was connected (zero if it never was); the error is never nil
// (wrapping ErrClosed for a normal close). A failure the protocol says makes the endpoint
// suspect is reported to Config.EndpointFailed before Once returns.
func (s *Session) Once(ctx context.Context) (up time.Duration, err error) {
	up, err = s.once(ctx)
	if err != nil && ctx.Err() == nil && s.o.EndpointFailed != nil && s.o.Protocol.ForgetEndpoint(err) {
		s.o.EndpointFailed()
	}
	return up, err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
