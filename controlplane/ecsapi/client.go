// Package ecsapi is the agent's client of the ECS API (AWS JSON 1.1 over aws-sdk-go-v2):
// registration, poll-endpoint discovery, state-change submission and task metadata's tag
// lookups, with the reference agent's retry and terminal-error rules (spec §1–§2, §5.3).
package ecsapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/internal/backoff"
)

// Options configures a Client.
type Options struct {
	// Region signs every call and picks the endpoint when Endpoint is empty.
	Region string
	// Endpoint is ECS_BACKEND_HOST: used verbatim as the base endpoint, https:// added when
	// it has no scheme.
	Endpoint string
	// Credentials sign the calls (the instance's credentials, never a task's).
	Credentials aws.CredentialsProvider
	// HTTPClient overrides the transport; nil uses the reference agent's timeouts.
	HTTPClient *http.Client
	// AppID is appended to the User-Agent (e.g. "ecsd/1.0.0").
	AppID string
	// RegisterBackoff paces registration retries; zero uses the reference's 3 s → 192 s.
	RegisterBackoff backoff.Backoff
	// TagsBackoff paces ListTagsForResource retries; zero uses 100 ms → 2 s.
	TagsBackoff backoff.Backoff
	// RegisterRetryFor bounds registration retries; zero means 1 h.
	RegisterRetryFor time.Duration
	// DiscoverTTL is how long poll endpoints are cached; zero means 12 h.
	DiscoverTTL time.Duration
	// SDKAttempts is how many times the SDK tries one call; zero means 3.
	SDKAttempts int
	Logger      logr.Logger
}

// Client talks to the ECS API.
type Client struct {
	api  *ecs.Client
	opts Options
	log  logr.Logger

	mu       sync.Mutex
	discover map[string]cachedEndpoints
}

// New returns a Client. It makes no call.
func New(o Options) (*Client, error) {
	if o.Region == "" {
		return nil, fmt.Errorf("ecs client: %w", ErrNoRegion)
	}
	if o.Credentials == nil {
		return nil, fmt.Errorf("ecs client: no credentials provider")
	}
	if o.RegisterBackoff == (backoff.Backoff{}) {
		o.RegisterBackoff = backoff.Backoff{Min: 3 * time.Second, Max: 192 * time.Second, Factor: 2, Jitter: 0.2}
	}
	if o.RegisterRetryFor == 0 {
		o.RegisterRetryFor = time.Hour
	}
	if o.SDKAttempts == 0 {
		o.SDKAttempts = 3
	}
	if o.DiscoverTTL == 0 {
		o.DiscoverTTL = 12 * time.Hour
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient()
	}
	cfg := aws.Config{
		Region:      o.Region,
		Credentials: o.Credentials,
		HTTPClient:  hc,
		AppID:       o.AppID,
		// Retries are the callers' business (registration's own loop, the report
		// controller's per-task backoff); a few quick SDK retries smooth over blips.
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = o.SDKAttempts })
		},
	}
	var optFns []func(*ecs.Options)
	if ep := BaseEndpoint(o.Endpoint); ep != "" {
		optFns = append(optFns, func(eo *ecs.Options) { eo.BaseEndpoint = aws.String(ep) })
	}
	return &Client{
		api:      ecs.NewFromConfig(cfg, optFns...),
		opts:     o,
		log:      o.Logger,
		discover: map[string]cachedEndpoints{},
	}, nil
}

// API exposes the underlying SDK client (for calls this package does not wrap).
func (c *Client) API() *ecs.Client { return c.api }

// BaseEndpoint is ECS_BACKEND_HOST as the SDK wants it: https:// added when it has no scheme.
func BaseEndpoint(host string) string {
	host = strings.TrimSpace(host)
	if host == "" || strings.Contains(host, "://") {
		return host
	}
	return "https://" + host
}

// defaultHTTPClient has the reference agent's timeouts: 30 s dial, 10 s TLS handshake,
// 42 s per round trip; proxies from the environment.
func defaultHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 10 * time.Second
	return &http.Client{Transport: tr, Timeout: 42 * time.Second}
}

// ErrNoRegion is returned when no region is configured.
var ErrNoRegion = errors.New("no AWS region configured (AWS_DEFAULT_REGION)")

// withTimeout bounds one call when the caller's context has no deadline.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
