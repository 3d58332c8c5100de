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
	"time"

	"github.com/go-logr/logr"

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

// Options configures a Session.
type Options struct {
	// Config says where to connect and who the agent is; its RuntimeVersion goes in the
	// dockerVersion parameter as "DockerVersion: <v>", which is what the backend knows
	// (ecsd sends its containerd version there).
	wssession.Config
	Applier Applier
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
}

// New returns a Session; Run connects.
func New(o Options) (*Session, error) {
	if o.Applier == nil {
		return nil, errors.New("acs: no applier")
	}
	s := &Session{o: o, timers: o.Timers.withDefaults(), log: o.Logger}
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
