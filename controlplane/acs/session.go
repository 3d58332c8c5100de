// Package acs is the agent's side of the ACS websocket (spec §3): a signed session that
// receives task payloads, credentials and manifests, applies them through an Applier and
// acknowledges them only once they are durable, with the reference agent's heartbeat,
// inactivity, lifetime and reconnect rules.
package acs

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/controlplane/wssession"
	"github.com/ecsd/ecsd/internal/backoff"
)

// Applier applies what ACS sends. Each method returns only once the effect is durable;
// an error means "do not acknowledge", so ACS sends the message again.
type Applier interface {
	// ApplyPayload writes the payload's tasks and stores their credentials.
	ApplyPayload(ctx context.Context, m *payload.PayloadMessage) error
	// ApplyCredentials stores a credentials refresh.
	ApplyCredentials(ctx context.Context, c payload.RoleCredentials) error
	// LatestSeqNum returns the latest number of the instance's ACS sequence this agent
	// has acted on: the highest payload seqNum applied or manifest timeline accepted (0 if
	// none). ECS numbers payloads and manifests from one sequence.
	LatestSeqNum(ctx context.Context) (int64, error)
	// RecordSeqNum durably raises the latest sequence number to n; a lower n changes
	// nothing.
	RecordSeqNum(ctx context.Context, n int64) error
	// StopCandidates returns the locally running tasks the manifest does not list as
	// running: candidates to stop once the backend confirms.
	StopCandidates(ctx context.Context, m *payload.TaskManifestMessage) ([]payload.TaskIdentifier, error)
	// StopTasks sets the listed tasks' desired status to STOPPED.
	StopTasks(ctx context.Context, tasks []payload.TaskIdentifier) error
	// ApplyENIAttachments records the ENIs of an attach message (taskARN empty for
	// instance ENIs), each to be found on the host before expiresAt.
	ApplyENIAttachments(ctx context.Context, taskARN string, enis []payload.ElasticNetworkInterface, expiresAt time.Time) error
}

// Updater handles the agent update messages (spec §3: StageUpdateMessage,
// PerformUpdateMessage). Its methods must return at once, because a download takes
// minutes and the session must go on reading meanwhile; they answer (AckRequest,
// NackRequest) through reply, which sends on the session's current connection and
// returns once the frame is written, or why it was not.
type Updater interface {
	StageUpdate(ctx context.Context, m *payload.StageUpdateMessage, reply func(context.Context, payload.Message) error)
	PerformUpdate(ctx context.Context, m *payload.PerformUpdateMessage, reply func(context.Context, payload.Message) error)
}

// Options configures a Session.
type Options struct {
	// Config says where to connect and who the agent is; its RuntimeVersion goes in the
	// dockerVersion parameter as "DockerVersion: <v>", which is what the backend knows
	// (ecsd sends its containerd version there).
	wssession.Config
	Applier Applier
	// Updater handles agent update requests; nil refuses them all ("Updates are disabled").
	Updater Updater
	// Timers; zero values take the reference agent's.
	Timers Timers
}

// Timers are the session's timing rules (spec §3.4): the engine's, with Inactivity
// counting any frame received, and the pause after a deregistration.
type Timers struct {
	wssession.Timers
	// InactiveInstanceWait is the pause after the instance was deregistered.
	InactiveInstanceWait time.Duration
}

func (t Timers) withDefaults() Timers {
	t.Timers = t.Timers.WithDefaults(wssession.Timers{
		Inactivity:   time.Minute,
		Lifetime:     30 * time.Minute,
		Backoff:      backoff.Backoff{Min: 250 * time.Millisecond, Max: 2 * time.Minute, Factor: 1.5, Jitter: 0.2},
		ResetAfter:   time.Minute,
		WriteTimeout: 3 * time.Minute,
		DialTimeout:  30 * time.Second,
	})
	if t.InactiveInstanceWait <= 0 {
		t.InactiveInstanceWait = time.Hour
	}
	return t
}

// Session keeps one ACS connection up at a time: the ACS protocol over the shared
// session engine.
type Session struct {
	o      Options
	timers Timers
	log    logr.Logger
	engine *wssession.Session
	// credentialsSent is set after the first successful connection of the process: only
	// that one asks ACS to push every task's credentials (sendCredentials=true). Only the
	// engine's Run goroutine touches it (URL before a dial, Open after).
	credentialsSent bool
	// current is the latest connection: where an answer that is ready only after its
	// request's connection may have ended (a finished download) goes. opened is closed
	// (and replaced) when a connection opens.
	mu      sync.Mutex
	current *wssession.Conn
	opened  chan struct{}
}

// errNoConnection: an answer found no connection to go out on.
var errNoConnection = errors.New("no ACS connection")

// setCurrent records a new connection and wakes the replies waiting for one.
func (s *Session) setCurrent(c *wssession.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current = c
	close(s.opened)
	s.opened = make(chan struct{})
}

// reply sends m on the current connection and waits until it is written. When that
// connection has ended (or there is none yet) it waits for the next one, until ctx ends.
func (s *Session) reply(ctx context.Context, m payload.Message) error {
	for {
		s.mu.Lock()
		c, opened := s.current, s.opened
		s.mu.Unlock()
		var err error
		if c == nil {
			err = errNoConnection
		} else if err = c.SendWait(ctx, m); err == nil || !errors.Is(err, wssession.ErrConnectionEnded) {
			return err
		}
		select {
		case <-opened:
		case <-ctx.Done():
			return fmt.Errorf("%w (%w)", err, ctx.Err())
		}
	}
}

// refuseUpdates is the Updater of a session given none.
type refuseUpdates struct{}

const updatesDisabled = "Updates are disabled"

func (refuseUpdates) StageUpdate(ctx context.Context, m *payload.StageUpdateMessage, reply func(context.Context, payload.Message) error) {
	_ = reply(ctx, payload.NackRequest{Cluster: m.ClusterArn, ContainerInstance: m.ContainerInstanceArn, MessageID: m.MessageID, Reason: updatesDisabled})
}

func (refuseUpdates) PerformUpdate(ctx context.Context, m *payload.PerformUpdateMessage, reply func(context.Context, payload.Message) error) {
	_ = reply(ctx, payload.NackRequest{Cluster: m.ClusterArn, ContainerInstance: m.ContainerInstanceArn, MessageID: m.MessageID, Reason: updatesDisabled})
}

// New returns a Session; Run connects.
func New(o Options) (*Session, error) {
	if o.Applier == nil {
		return nil, errors.New("acs: no applier")
	}
	if o.Updater == nil {
		o.Updater = refuseUpdates{}
	}
	if o.Clock == nil {
		// ENI attachment deadlines and the engine's timers read one clock (Config.Clock).
		o.Clock = clock.RealClock{}
	}
	s := &Session{o: o, timers: o.Timers.withDefaults(), log: o.Logger, opened: make(chan struct{})}
	var err error
	s.engine, err = wssession.New(wssession.Options{
		Config:   o.Config,
		Name:     "ACS",
		Protocol: protocol{s},
		Timers:   s.timers.Timers,
		MaxFrame: payload.MaxFrameSize,
		// "Inactivity" is nothing received at all: any frame proves the peer is there.
		AnyFrameKeepsAlive: true,
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Run connects, serves and reconnects until ctx ends. It returns ctx's error.
func (s *Session) Run(ctx context.Context) error {
	return s.engine.Run(ctx)
}

func isInactive(err error) bool {
	var ia *payload.InactiveInstanceException
	return errors.As(err, &ia)
}

// URL builds the session URL: the endpoint, "/ws" and the reference agent's query.
func (s *Session) URL(endpoint string) (string, error) {
	q := url.Values{}
	q.Set("agentHash", s.o.AgentHash)
	q.Set("agentVersion", s.o.AgentVersion)
	q.Set("clusterArn", s.o.Cluster)
	q.Set("containerInstanceArn", s.o.ContainerInstanceARN)
	q.Set("dockerVersion", "DockerVersion: "+s.o.RuntimeVersion)
	q.Set("protocolVersion", "2")
	q.Set("sendCredentials", fmt.Sprint(!s.credentialsSent))
	q.Set("seqNum", "1")
	return wssession.URL(endpoint, q)
}
