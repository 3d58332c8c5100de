package tcs

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	"github.com/ecsd/ecsd/controlplane/wssession"
	"github.com/ecsd/ecsd/internal/backoff"
)

// DefaultPublishInterval is how often metrics and health are published (spec §4).
const DefaultPublishInterval = 20 * time.Second

// Options configures a Session.
type Options struct {
	// Config says where to connect and who the agent is. Its Endpoint is the telemetry
	// endpoint (DiscoverPollEndpoint's telemetryEndpoint); EndpointFailed is told when it
	// could not be reached at all (no HTTP answer); RuntimeVersion goes in the
	// dockerVersion query parameter as is (TCS, unlike ACS, takes the plain version), and
	// empty leaves the parameter out.
	wssession.Config
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
	// Timers; zero values take the defaults of the reference agent.
	Timers Timers
}

// Timers are the session's timing rules (spec §4): the engine's, with Inactivity as the
// heartbeat timeout (only a heartbeat or an acknowledgement counts), and the sampling
// and publishing periods.
type Timers struct {
	wssession.Timers
	// PublishInterval is the metrics and health publishing period (default 20 s).
	PublishInterval time.Duration
}

func (t Timers) withDefaults() Timers {
	if t.PublishInterval <= 0 {
		t.PublishInterval = DefaultPublishInterval
	}
	t.Timers = t.Timers.WithDefaults(wssession.Timers{
		Inactivity:   time.Minute,
		Lifetime:     30 * time.Minute,
		Backoff:      backoff.Backoff{Min: time.Second, Max: time.Minute, Factor: 2, Jitter: 0.2},
		ResetAfter:   time.Minute,
		WriteTimeout: time.Minute,
		DialTimeout:  30 * time.Second,
	})
	return t
}

// Session keeps one TCS connection up at a time and publishes over it: the TCS protocol
// over the shared session engine.
type Session struct {
	o      Options
	timers Timers
	log    logr.Logger
	now    func() time.Time
	engine *wssession.Session
}

// New returns a Session; Run connects.
func New(o Options) (*Session, error) {
	switch {
	case o.Telemetry == nil:
		return nil, errors.New("tcs: no telemetry source")
	}
	if o.Clock == nil {
		// Request timestamps and the engine's timers read one clock (Config.Clock).
		o.Clock = clock.RealClock{}
	}
	s := &Session{o: o, timers: o.Timers.withDefaults(), log: o.Logger, now: o.Clock.Now}
	engine, err := wssession.New(s.engineOptions())
	if err != nil {
		return nil, err
	}
	s.engine = engine
	return s, nil
}

// engineOptions run TCS on the session engine. Unlike ACS, TCS speaks first: it publishes
// on the engine's tick, with a send queue sized for one full publish (writeQueue).
func (s *Session) engineOptions() wssession.Options {
	return wssession.Options{
		Name:     "TCS",
		Protocol: protocol{s},
		Config:   s.o.Config,
		Timers:   s.timers.Timers,
		Publish:  s.timers.PublishInterval,
		Queue:    writeQueue,
		MaxFrame: maxServerFrame,
	}
}

// Run connects, publishes and reconnects until ctx ends, and returns ctx's error. The
// sampler runs on its own, so the first publish of a new connection already has statistics.
func (s *Session) Run(ctx context.Context) error {
	return s.engine.Run(ctx)
}

// URL builds the session URL: the endpoint, "/ws" and TCS's query (spec §4: cluster and
// containerInstance, not ACS's clusterArn and containerInstanceArn).
func (s *Session) URL(endpoint string) (string, error) {
	q := url.Values{}
	q.Set("agentHash", s.o.AgentHash)
	q.Set("agentVersion", s.o.AgentVersion)
	q.Set("cluster", s.o.Cluster)
	q.Set("containerInstance", s.o.ContainerInstanceARN)
	if s.o.RuntimeVersion != "" {
		q.Set("dockerVersion", s.o.RuntimeVersion)
	}
	return wssession.URL(endpoint, q)
}
