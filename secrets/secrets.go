// Package secrets reads a task's secrets from SSM Parameter Store and AWS Secrets Manager
// with the task's execution role, and keeps their values in memory for the life of the
// task: environment variables for its containers (target CONTAINER) and log driver options
// (target LOG_DRIVER).
//
// Values live only here. They never go into an error, a log line, an object or the
// checkpoint; a container's environment in the runtime is the one place a value is
// handed on, because that is what the container asked for.
package secrets

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/go-logr/logr"
	"golang.org/x/sync/singleflight"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/internal/awsclient"
	"github.com/ecsd/ecsd/internal/reasonerr"
)

// Errors callers tell apart with errors.Is.
var (
	// ErrCredentialsPending means the task's execution role credentials have not arrived
	// yet (after an agent restart ACS sends them again only once reconnected); retry soon.
	ErrCredentialsPending = errors.New("waiting for the task execution role credentials")
	// ErrUnreadable means a secret could not be read; the task cannot start. The error's
	// text is the reason the task stops with.
	ErrUnreadable = errors.New("secret cannot be read")
	// ErrNotResolved means the task's secrets are not in memory (not read yet, or read by
	// an agent before a restart).
	ErrNotResolved = errors.New("the task's secrets have not been read")
)

// DefaultCredentialsWait is how long a task waits for its execution role credentials, as
// image pulls do.
const DefaultCredentialsWait = time.Minute

// ssmBatch is the most names one GetParameters call accepts.
const ssmBatch = 10

// CredentialsSource returns a task's role credentials; *credentials.Manager is one.
type CredentialsSource interface {
	ForTask(taskARN string, role credentials.RoleType) (credentials.Entry, bool)
}

// SSMClient is the part of the SSM client the resolver uses.
type SSMClient interface {
	GetParameters(ctx context.Context, in *ssm.GetParametersInput, opts ...func(*ssm.Options)) (*ssm.GetParametersOutput, error)
}

// SecretsManagerClient is the part of the Secrets Manager client the resolver uses.
type SecretsManagerClient interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Options configure a Resolver.
type Options struct {
	// AWS builds the clients (endpoint settings, HTTP client).
	AWS *awsclient.Factory
	// Credentials is where execution role credentials come from.
	Credentials CredentialsSource
	// Region is used for secrets that name none (SSM parameter names without an ARN).
	Region string
	Log    logr.Logger
	// Now replaces time.Now (credential expiry, the credentials wait).
	Now func() time.Time
	// CredentialsWait bounds the wait for execution role credentials (default
	// DefaultCredentialsWait; negative: do not wait).
	CredentialsWait time.Duration
	// NewSSM and NewSecretsManager replace the SDK clients (tests).
	NewSSM            func(aws.Config) SSMClient
	NewSecretsManager func(aws.Config) SecretsManagerClient
}

// Resolver reads and holds tasks' secrets. It is safe for concurrent use.
type Resolver struct {
	o Options

	mu    sync.Mutex
	tasks map[string]*values
	// waiting is since when each task has been waiting for its credentials.
	waiting map[string]time.Time
	flight  singleflight.Group
}

// values are one task's secrets by container name, then by variable or option name.
type values struct {
	env, log map[string]map[string]string
}

// New returns a Resolver.
func New(o Options) *Resolver {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
	if o.CredentialsWait == 0 {
		o.CredentialsWait = DefaultCredentialsWait
	}
	if o.AWS == nil {
		o.AWS = awsclient.Bare(nil)
	}
	if o.NewSSM == nil {
		o.NewSSM = func(c aws.Config) SSMClient { return ssm.NewFromConfig(c) }
	}
	if o.NewSecretsManager == nil {
		o.NewSecretsManager = func(c aws.Config) SecretsManagerClient { return secretsmanager.NewFromConfig(c) }
	}
	return &Resolver{o: o, tasks: map[string]*values{}, waiting: map[string]time.Time{}}
}

// ContainerEnv returns container's environment-variable secrets. The first call for a task
// reads the secrets of all its containers (refs, by container name) at once, as the
// reference agent does before it creates any container: one unreadable secret fails every
// container of the task with the same reason. Errors wrap ErrCredentialsPending or
// ErrUnreadable.
func (r *Resolver) ContainerEnv(ctx context.Context, taskARN string, refs map[string][]api.SecretRef, container string) (map[string]string, error) {
	v, err := r.resolve(ctx, taskARN, refs)
	if err != nil {
		return nil, err
	}
	return maps.Clone(v.env[container]), nil
}

// LogDriverSecrets returns the log driver options of container that come from secrets
// (target LOG_DRIVER), read when the task's containers were created. They are in memory
// only: after an agent restart they are gone (ErrNotResolved).
func (r *Resolver) LogDriverSecrets(_ context.Context, taskARN, container string) (map[string]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.tasks[taskARN]
	if !ok {
		return nil, fmt.Errorf("task %s: %w", taskARN, ErrNotResolved)
	}
	return maps.Clone(v.log[container]), nil
}

// Forget drops a task's secrets (task cleanup).
func (r *Resolver) Forget(taskARN string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.tasks, taskARN)
	delete(r.waiting, taskARN)
}

// resolve returns the task's secrets, reading them once; concurrent callers share the read.
// A failed read is not remembered: the engine stops the task, and a later caller would
// only ask again.
func (r *Resolver) resolve(ctx context.Context, taskARN string, refs map[string][]api.SecretRef) (*values, error) {
	r.mu.Lock()
	v, ok := r.tasks[taskARN]
	r.mu.Unlock()
	if ok {
		return v, nil
	}
	ch := r.flight.DoChan(taskARN, func() (any, error) {
		v, err := r.read(context.WithoutCancel(ctx), taskARN, refs)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.tasks[taskARN] = v
		r.mu.Unlock()
		return v, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*values), nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// read reads every secret the task references. SSM parameters are read per region in
// batches of ssmBatch; each Secrets Manager reference is one GetSecretValue.
func (r *Resolver) read(ctx context.Context, taskARN string, refs map[string][]api.SecretRef) (*values, error) {
	v := &values{env: map[string]map[string]string{}, log: map[string]map[string]string{}}
	var ssmRefs, asmRefs []api.SecretRef
	for _, list := range refs {
		for _, ref := range list {
			if ref.Provider == api.SecretProviderASM {
				asmRefs = append(asmRefs, ref)
			} else {
				ssmRefs = append(ssmRefs, ref)
			}
		}
	}
	if len(ssmRefs)+len(asmRefs) == 0 {
		return v, nil
	}
	kind := "asm secret"
	if len(ssmRefs) > 0 {
		kind = "ssm secret"
	}
	provider, err := r.ExecutionRole(taskARN, kind)
	if err != nil {
		return nil, err
	}
	ssmValues, err := r.readSSM(ctx, provider, ssmRefs)
	if err != nil {
		return nil, err
	}
	asmValues := map[string]string{}
	for _, ref := range asmRefs {
		region := r.region(ref)
		if _, done := asmValues[region+"\x00"+ref.ValueFrom]; done {
			continue
		}
		val, err := readASM(ctx, r.o.NewSecretsManager(r.o.AWS.Config(region, provider)), ref.ValueFrom)
		if err != nil {
			return nil, unreadable(err, "fetching secret data from AWS Secrets Manager in region %s: %v", region, err)
		}
		asmValues[region+"\x00"+ref.ValueFrom] = val
	}
	for container, list := range refs {
		for _, ref := range list {
			key := r.region(ref) + "\x00" + ref.ValueFrom
			val, ok := ssmValues[key]
			if ref.Provider == api.SecretProviderASM {
				val, ok = asmValues[key]
			}
			if !ok {
				return nil, unreadable(nil, "secret %s: no value read for %s", ref.Name, ref.ValueFrom)
			}
			into := v.env
			if ref.Target == api.SecretTargetLogDriver {
				into = v.log
			}
			if into[container] == nil {
				into[container] = map[string]string{}
			}
			into[container][ref.Name] = val
		}
	}
	r.o.Log.Info("read the task's secrets", "task", taskARN, "ssmParameters", len(ssmRefs), "secretsManagerSecrets", len(asmRefs))
	return v, nil
}

// region is where ref's secret lives.
func (r *Resolver) region(ref api.SecretRef) string {
	return cmp.Or(ref.Region, arnRegion(ref.ValueFrom), r.o.Region)
}

// ExecutionRole returns the task's execution role credentials, or ErrCredentialsPending
// within the wait, or once the wait is over the reference agent's reason for the resource
// kind that needed them ("ssm secret", "asm secret", "environment file").
func (r *Resolver) ExecutionRole(taskARN, kind string) (aws.CredentialsProvider, error) {
	now := r.o.Now()
	if r.o.Credentials != nil {
		e, ok := r.o.Credentials.ForTask(taskARN, credentials.TaskExecution)
		if ok && !e.Expired(now) && e.AccessKeyID != "" {
			r.mu.Lock()
			delete(r.waiting, taskARN)
			r.mu.Unlock()
			// Static: the entry is a snapshot of what ACS sent.
			return awscreds.NewStaticCredentialsProvider(e.AccessKeyID, e.SecretAccessKey, e.SessionToken), nil
		}
	}
	r.mu.Lock()
	first, ok := r.waiting[taskARN]
	if !ok {
		first = now
		r.waiting[taskARN] = now
	}
	r.mu.Unlock()
	if r.o.CredentialsWait > 0 && now.Sub(first) < r.o.CredentialsWait {
		return nil, fmt.Errorf("task %s: %w", taskARN, ErrCredentialsPending)
	}
	return nil, unreadable(nil, "%s resource: unable to find execution role credentials", kind)
}

// unreadable is a secret that cannot be read. Its text is the reason the task stops with,
// worded as the reference agent words it, so it carries no ecsd prefix.
func unreadable(cause error, format string, args ...any) error {
	return reasonerr.New(ErrUnreadable, cause, format, args...)
}
