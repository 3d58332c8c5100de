package tcs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/internal/backoff"
)

// DefaultPublishInterval is how often metrics and health are published (spec §4).
const DefaultPublishInterval = 20 * time.Second

// Options configures a Session.
type Options struct {
	// Endpoint returns the telemetry endpoint (DiscoverPollEndpoint's telemetryEndpoint,
	// cached by the caller). It is asked again before every connection.
	Endpoint func(ctx context.Context) (string, error)
	// EndpointFailed tells the caller to forget a cached endpoint that could not be
	// reached at all (no HTTP answer), so the next attempt discovers it afresh.
	EndpointFailed       func()
	Cluster              string
	ContainerInstanceARN string
	Region               string
	Credentials          aws.CredentialsProvider
	AgentVersion         string
	AgentHash            string
	// RuntimeVersion goes in the dockerVersion query parameter, as is (TCS, unlike ACS,
	// takes the plain version); empty leaves the parameter out.
	RuntimeVersion string
	// Telemetry is the agent's container sampler, which the session publishes from.
	Telemetry Telemetry
	// DisableMetrics (ECS_DISABLE_METRICS) stops metrics publishing; health is still
	// published and the session still runs.
	DisableMetrics bool
	// DisableHealth (ECS_DISABLE_DOCKER_HEALTH_CHECK) stops health publishing.
	DisableHealth bool
	// InstanceMetrics, when set, supplies the instanceMetrics of each metrics batch
	// (see FilesystemUsage). An error is logged and the batch goes without them.
	InstanceMetrics func(ctx context.Context) (*InstanceMetrics, error)
	// InstanceStatus, when set, supplies instance health-check results; a non-empty
	// result is published as a PublishInstanceStatusRequest on every publish tick.
	InstanceStatus func(ctx context.Context) []InstanceStatus
	HTTPClient     *http.Client
	// OnConnected is told when a session comes up (true) and goes down (false).
	OnConnected func(bool)
	Logger      logr.Logger
	// Now is the clock of request timestamps; default time.Now.
	Now func() time.Time
	// Timers; zero values take the defaults of the reference agent.
	Timers Timers
}

// Timers are the session's timing rules (spec §4).
type Timers struct {
	// PublishInterval is the metrics and health publishing period (default 20 s).
	PublishInterval time.Duration
	// Heartbeat closes a session that got no heartbeat or ack for this long, plus up to as
	// much again (default 1 min).
	Heartbeat time.Duration
	// Lifetime closes a session after this long, plus up to a sixth more, so that the
	// backend's load balancers can rebalance (default 30 min).
	Lifetime time.Duration
	// Backoff paces reconnects after errors (default 1 s → 1 min, ×2, 20 % jitter).
	Backoff backoff.Backoff
	// ResetAfter resets the backoff once a session has stayed up this long (default 1 min).
	ResetAfter time.Duration
	// WriteTimeout bounds one frame write (default 1 min).
	WriteTimeout time.Duration
	// DialTimeout bounds the handshake (default 30 s).
	DialTimeout time.Duration
}

func (t Timers) withDefaults() Timers {
	if t.PublishInterval <= 0 {
		t.PublishInterval = DefaultPublishInterval
	}
	if t.Heartbeat <= 0 {
		t.Heartbeat = time.Minute
	}
	if t.Lifetime <= 0 {
		t.Lifetime = 30 * time.Minute
	}
	if t.Backoff == (backoff.Backoff{}) {
		t.Backoff = backoff.Backoff{Min: time.Second, Max: time.Minute, Factor: 2, Jitter: 0.2}
	}
	if t.ResetAfter <= 0 {
		t.ResetAfter = time.Minute
	}
	if t.WriteTimeout <= 0 {
		t.WriteTimeout = time.Minute
	}
	if t.DialTimeout <= 0 {
		t.DialTimeout = 30 * time.Second
	}
	return t
}

// Session keeps one TCS connection up at a time and publishes over it.
type Session struct {
	o      Options
	timers Timers
	log    logr.Logger
	now    func() time.Time
}

// New returns a Session; Run connects.
func New(o Options) (*Session, error) {
	switch {
	case o.Endpoint == nil:
		return nil, errors.New("tcs: no endpoint function")
	case o.Credentials == nil:
		return nil, errors.New("tcs: no credentials")
	case o.ContainerInstanceARN == "":
		return nil, errors.New("tcs: no container instance ARN")
	case o.Telemetry == nil:
		return nil, errors.New("tcs: no telemetry source")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Session{o: o, timers: o.Timers.withDefaults(), log: o.Logger, now: o.Now}, nil
}

// Run connects, publishes and reconnects until ctx ends, and returns ctx's error. The
// sampler runs on its own, so the first publish of a new connection already has statistics.
func (s *Session) Run(ctx context.Context) error {
	attempt := 0
	for {
		up, err := s.serveOnce(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if up >= s.timers.ResetAfter {
			attempt = 0
		}
		var wait time.Duration
		if errors.Is(err, errClean) {
			// Lifetime reached or the server went away: reconnect at once.
			attempt = 0
			s.log.V(1).Info("TCS session closed; reconnecting")
		} else {
			wait = s.timers.Backoff.Delay(attempt)
			attempt++
			s.log.Info("TCS session ended", "error", errString(err), "reconnectIn", wait.String())
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
}

// URL builds the session URL: the endpoint, "/ws" and TCS's query (spec §4: cluster and
// containerInstance, not ACS's clusterArn and containerInstanceArn).
func (s *Session) URL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("tcs endpoint %q: %w", endpoint, err)
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "http":
		u.Scheme = "ws"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("tcs endpoint %q: unsupported scheme", endpoint)
	}
	if u.Host == "" {
		return "", fmt.Errorf("tcs endpoint %q: no host", endpoint)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.Path += "ws"
	q := url.Values{}
	q.Set("agentHash", s.o.AgentHash)
	q.Set("agentVersion", s.o.AgentVersion)
	q.Set("cluster", s.o.Cluster)
	q.Set("containerInstance", s.o.ContainerInstanceARN)
	if s.o.RuntimeVersion != "" {
		q.Set("dockerVersion", s.o.RuntimeVersion)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
