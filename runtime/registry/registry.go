// Package registry finds the credentials of an image pull: ECS_ENGINE_AUTH_DATA by registry
// host, an Amazon ECR authorization token, or a username and password kept in AWS Secrets
// Manager, as a container's registryAuthentication asks.
//
// Credentials and tokens live in memory only and never appear in a log line or an error
// message.
package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/go-logr/logr"
	"golang.org/x/sync/singleflight"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/internal/awsclient"
	"github.com/ecsd/ecsd/runtime"
)

// Registry authentication types of a container's registryAuthentication.
const (
	TypeECR = runtime.RegistryAuthECR
	TypeASM = runtime.RegistryAuthASM
)

// Errors callers tell apart with errors.Is.
var (
	// ErrCredentialsPending means the pull needs the task's execution role credentials and
	// ACS has not delivered them yet (they come again only after the agent reconnects
	// following a restart); the caller retries shortly.
	// It wraps runtime.ErrCredentialsPending, which is what the controllers check.
	ErrCredentialsPending = fmt.Errorf("%w", runtime.ErrCredentialsPending)
	// ErrNoCredentials means the credentials the pull needs are not there and will not be
	// waited for any longer.
	ErrNoCredentials = errors.New("no credentials to authenticate the pull with")
	// ErrECR means ECR refused to issue a token or issued one that cannot be used.
	ErrECR = errors.New("ECR authorization")
	// ErrSecret means the Secrets Manager secret could not be read or is not a JSON object
	// with a username and a password.
	ErrSecret = errors.New("registry credentials secret")
	// ErrUnsupported is a registryAuthentication type this resolver does not know.
	ErrUnsupported = errors.New("unsupported registry authentication type")
)

// CredentialsSource returns a task's role credentials; *credentials.Manager is one.
type CredentialsSource interface {
	ForTask(taskARN string, role credentials.RoleType) (credentials.Entry, bool)
}

// Resolver returns the credentials for pulling an image. It is safe for concurrent use and
// is meant to live as long as the agent: it caches ECR tokens across pulls.
type Resolver struct {
	o options

	tokens tokenCache
	// fetches shares one GetAuthorizationToken among concurrent pulls needing the same token.
	fetches singleflight.Group
	waits   credentialWaits
}

// Option configures a Resolver.
type Option func(*options)

type options struct {
	log        logr.Logger
	creds      CredentialsSource
	agentCreds aws.CredentialsProvider
	engineAuth map[string]runtime.Auth
	region     string
	ecrURL     string
	asmURL     string
	httpClient aws.HTTPClient
	aws        *awsclient.Factory
	now        func() time.Time
	margin     time.Duration
	credsWait  time.Duration
}

// Defaults used when the corresponding option is not given.
const (
	// DefaultTokenMargin is how long before its expiry an ECR token is fetched again, as the
	// reference agent's minimum: a token that expires in the middle of a pull fails it.
	DefaultTokenMargin = 30 * time.Minute
	// DefaultCredentialsWait is how long a pull waits for execution role credentials (spec
	// §6.2: one minute).
	DefaultCredentialsWait = time.Minute
	// forgetWaitAfter is how long past its wait a task's wait is remembered: long enough
	// that a pull retried meanwhile sees the same verdict, short enough that the map only
	// holds tasks asking now.
	forgetWaitAfter = 10 * time.Minute
	// requestTimeout bounds one ECR or Secrets Manager request attempt when the resolver
	// builds its own HTTP client.
	requestTimeout = 10 * time.Second
)

// WithLogger sets the logger; the default discards.
func WithLogger(l logr.Logger) Option { return func(o *options) { o.log = l } }

// WithCredentials sets where task execution role credentials come from (the credentials
// manager ACS fills).
func WithCredentials(c CredentialsSource) Option { return func(o *options) { o.creds = c } }

// WithAgentCredentials sets the agent's own credentials (the instance role), used for ECR
// pulls that do not ask for the execution role.
func WithAgentCredentials(p aws.CredentialsProvider) Option {
	return func(o *options) { o.agentCreds = p }
}

// WithEngineAuth sets the ECS_ENGINE_AUTH_DATA credentials by registry host, used for
// containers without registryAuthentication.
func WithEngineAuth(m map[string]runtime.Auth) Option { return func(o *options) { o.engineAuth = m } }

// WithRegion sets the region used when the authentication data names none (the agent's).
func WithRegion(r string) Option { return func(o *options) { o.region = r } }

// WithECREndpoint sends ECR requests to url instead of the region's endpoint (tests, VPC
// endpoints).
func WithECREndpoint(url string) Option { return func(o *options) { o.ecrURL = url } }

// WithSecretsManagerEndpoint sends Secrets Manager requests to url instead of the region's
// endpoint.
func WithSecretsManagerEndpoint(url string) Option { return func(o *options) { o.asmURL = url } }

// WithHTTPClient sets the HTTP client for ECR and Secrets Manager (proxies, custom CAs) when
// no WithAWS factory is given. It should carry a timeout: a shared ECR token fetch is
// bounded by it, not by any one pull.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithAWS builds the ECR and Secrets Manager clients from f, so the SDK's endpoint settings
// (AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL) apply to them.
// WithECREndpoint and WithSecretsManagerEndpoint still win over those. Without it the
// clients go to the regions' default endpoints.
func WithAWS(f *awsclient.Factory) Option { return func(o *options) { o.aws = f } }

// WithClock replaces time.Now for token and credentials expiry.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithTokenMargin sets how long before expiry a cached ECR token is replaced
// (default DefaultTokenMargin).
func WithTokenMargin(d time.Duration) Option { return func(o *options) { o.margin = d } }

// WithCredentialsWait sets how long a pull waits for execution role credentials before it
// fails (default DefaultCredentialsWait; 0 fails at once).
func WithCredentialsWait(d time.Duration) Option { return func(o *options) { o.credsWait = d } }

// New returns a Resolver.
func New(opts ...Option) *Resolver {
	o := options{
		log:       logr.Discard(),
		now:       time.Now,
		margin:    DefaultTokenMargin,
		credsWait: DefaultCredentialsWait,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.aws == nil {
		if o.httpClient == nil {
			o.httpClient = awshttp.NewBuildableClient().WithTimeout(requestTimeout)
		}
		o.aws = awsclient.Bare(o.httpClient)
	}
	return &Resolver{o: o, tokens: tokenCache{entries: map[tokenKey]token{}}, waits: credentialWaits{since: map[string]time.Time{}}}
}

// Auth returns the credentials for pulling image for the task taskARN as ra asks; nil
// means an anonymous pull. Without ra it returns the ECS_ENGINE_AUTH_DATA credentials for
// the image's registry. Errors wrap ErrCredentialsPending (retry soon), ErrNoCredentials,
// ErrECR, ErrSecret or ErrUnsupported.
func (r *Resolver) Auth(ctx context.Context, image string, ra *api.RegistryAuth, taskARN string) (*runtime.Auth, error) {
	if ra == nil || ra.Type == "" {
		return EngineAuth(r.o.engineAuth, image), nil
	}
	switch ra.Type {
	case TypeECR:
		return r.ecrAuth(ctx, image, ra, taskARN)
	case TypeASM:
		return r.asmAuth(ctx, ra, taskARN)
	}
	return nil, fmt.Errorf("%w %q", ErrUnsupported, ra.Type)
}

// credentialWaits remembers since when each task has been waiting for its execution role
// credentials, so the wait is bounded without the caller keeping any state.
type credentialWaits struct {
	mu    sync.Mutex
	since map[string]time.Time
}

// waiting reports whether task is still within wait of its first miss, starting the clock
// on the first call. A task past its wait keeps getting false until its entry is dropped,
// well after any caller still retrying would have asked again; only then would a new miss
// start a new wait.
func (w *credentialWaits) waiting(task string, now time.Time, wait time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for t, s := range w.since {
		if now.Sub(s) > wait+forgetWaitAfter {
			delete(w.since, t)
		}
	}
	first, ok := w.since[task]
	if !ok {
		first = now
		w.since[task] = now
	}
	return now.Sub(first) < wait
}

func (w *credentialWaits) done(task string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.since, task)
}
