// Package acs is the agent's side of the ACS websocket (spec §3): a signed session that
// receives task payloads, credentials and manifests, applies them through an Applier and
// acknowledges them only once they are durable, with the reference agent's heartbeat,
// inactivity, lifetime and reconnect rules.
package acs

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

	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/controlplane/wsclient"
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
	// Endpoint returns the ACS endpoint (DiscoverPollEndpoint, cached by the caller).
	Endpoint func(ctx context.Context) (string, error)
	// EndpointFailed tells the caller to forget a cached endpoint that could not be used.
	EndpointFailed       func()
	Cluster              string
	ContainerInstanceARN string
	Region               string
	Credentials          aws.CredentialsProvider
	AgentVersion         string
	AgentHash            string
	// RuntimeVersion goes in the dockerVersion parameter: "DockerVersion: <v>" is what
	// the backend knows; ecsd sends its containerd version there.
	RuntimeVersion string
	Applier        Applier
	HTTPClient     *http.Client
	// OnConnected is told when the session comes up (true) and goes down (false).
	OnConnected func(bool)
	Logger      logr.Logger
	// Timers; zero values take the reference agent's.
	Timers Timers
}

// Timers are the session's timing rules (spec §3.4).
type Timers struct {
	// Inactivity closes a session that received nothing for this long (+ up to as much again).
	Inactivity time.Duration
	// Lifetime closes a session after this long (+ up to a sixth more) so that load
	// balancers can rebalance.
	Lifetime time.Duration
	// Backoff paces reconnects after errors.
	Backoff backoff.Backoff
	// ResetAfter resets the backoff once a session has stayed up this long.
	ResetAfter time.Duration
	// InactiveInstanceWait is the pause after the instance was deregistered.
	InactiveInstanceWait time.Duration
	// WriteTimeout bounds one frame write.
	WriteTimeout time.Duration
}

func (t Timers) withDefaults() Timers {
	if t.Inactivity == 0 {
		t.Inactivity = time.Minute
	}
	if t.Lifetime == 0 {
		t.Lifetime = 30 * time.Minute
	}
	if t.Backoff == (backoff.Backoff{}) {
		t.Backoff = backoff.Backoff{Min: 250 * time.Millisecond, Max: 2 * time.Minute, Factor: 1.5, Jitter: 0.2}
	}
	if t.ResetAfter == 0 {
		t.ResetAfter = time.Minute
	}
	if t.InactiveInstanceWait == 0 {
		t.InactiveInstanceWait = time.Hour
	}
	if t.WriteTimeout == 0 {
		t.WriteTimeout = 3 * time.Minute
	}
	return t
}

// Session keeps one ACS connection up at a time.
type Session struct {
	o      Options
	timers Timers
	log    logr.Logger
	// credentialsSent is set after the first successful connection of the process: only
	// that one asks ACS to push every task's credentials (sendCredentials=true).
	credentialsSent bool
}

// New returns a Session; Run connects.
func New(o Options) (*Session, error) {
	switch {
	case o.Endpoint == nil:
		return nil, errors.New("acs: no endpoint function")
	case o.Applier == nil:
		return nil, errors.New("acs: no applier")
	case o.Credentials == nil:
		return nil, errors.New("acs: no credentials")
	case o.ContainerInstanceARN == "":
		return nil, errors.New("acs: no container instance ARN")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Session{o: o, timers: o.Timers.withDefaults(), log: o.Logger}, nil
}

// Run connects, serves and reconnects until ctx ends. It returns ctx's error.
func (s *Session) Run(ctx context.Context) error {
	attempt := 0
	for {
		start := time.Now()
		err := s.serveOnce(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(start) >= s.timers.ResetAfter+wsclient.Jitter(s.timers.ResetAfter) {
			attempt = 0
		}
		var wait time.Duration
		switch {
		case err == nil || errors.Is(err, errClean):
			// A clean close (lifetime reached, server going away): reconnect at once.
			attempt = 0
		case isInactive(err):
			s.log.Info("container instance is inactive (deregistered); waiting before reconnecting", "wait", s.timers.InactiveInstanceWait.String())
			wait = s.timers.InactiveInstanceWait
		default:
			wait = s.timers.Backoff.Delay(attempt)
			attempt++
			s.log.Info("ACS session ended", "error", err.Error(), "reconnectIn", wait.String())
			if payload.IsUnretriable(err) && s.o.EndpointFailed != nil {
				s.o.EndpointFailed()
			}
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
	}
}

func isInactive(err error) bool {
	var ia *payload.InactiveInstanceException
	return errors.As(err, &ia)
}

// URL builds the session URL: the endpoint, "/ws" and the reference agent's query.
func (s *Session) URL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("acs endpoint %q: %w", endpoint, err)
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "http":
		u.Scheme = "ws"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("acs endpoint %q: unsupported scheme", endpoint)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.Path += "ws"
	q := url.Values{}
	q.Set("agentHash", s.o.AgentHash)
	q.Set("agentVersion", s.o.AgentVersion)
	q.Set("clusterArn", s.o.Cluster)
	q.Set("containerInstanceArn", s.o.ContainerInstanceARN)
	q.Set("dockerVersion", "DockerVersion: "+s.o.RuntimeVersion)
	q.Set("protocolVersion", "2")
	q.Set("sendCredentials", fmt.Sprint(!s.credentialsSent))
	q.Set("seqNum", "1")
	u.RawQuery = q.Encode()
	return u.String(), nil
}
