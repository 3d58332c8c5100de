package awslogs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"k8s.io/utils/clock"

	"github.com/ecsd/ecsd/internal/logcredsapi"
)

// CredentialsGetter fetches a task's credentials (*logcredsapi.Client).
type CredentialsGetter interface {
	Credentials(ctx context.Context, taskARN string) (logcredsapi.Credentials, error)
}

// Provider is the sink's aws.CredentialsProvider: the task's credentials from the agent's
// socket, kept until refreshBefore their expiry. While the agent cannot be reached the
// credentials it has are used until they expire, and the agent is asked again every
// retryAfter.
type Provider struct {
	Getter  CredentialsGetter
	TaskARN string
	Clock   clock.Clock

	mu   sync.Mutex
	cur  logcredsapi.Credentials
	have bool
}

const (
	refreshBefore = 5 * time.Minute
	retryAfter    = 30 * time.Second
	// noExpiry is how long credentials without an expiry (static instance keys) are
	// kept before asking again.
	noExpiry = 15 * time.Minute
)

// Retrieve implements aws.CredentialsProvider. The SDK's cache calls it again once the
// returned credentials' Expires has passed: that is when this provider wants to refresh,
// not when the credentials stop working.
func (p *Provider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.Clock.Now()
	c, err := p.Getter.Credentials(ctx, p.TaskARN)
	if err == nil {
		p.cur, p.have = c, true
		return p.awsCreds(refreshAt(c, now)), nil
	}
	if p.have && (p.cur.Expiration.IsZero() || now.Before(p.cur.Expiration)) {
		next := now.Add(retryAfter)
		if !p.cur.Expiration.IsZero() && p.cur.Expiration.Before(next) {
			next = p.cur.Expiration
		}
		return p.awsCreds(next), nil
	}
	return aws.Credentials{}, fmt.Errorf("credentials of task %s: %w", p.TaskARN, err)
}

func (p *Provider) awsCreds(expires time.Time) aws.Credentials {
	return aws.Credentials{AccessKeyID: p.cur.AccessKeyID, SecretAccessKey: p.cur.SecretAccessKey, SessionToken: p.cur.SessionToken,
		Source: "ecsd-agent", CanExpire: true, Expires: expires}
}

// refreshAt is when to ask for c's successor.
func refreshAt(c logcredsapi.Credentials, now time.Time) time.Time {
	if c.Expiration.IsZero() {
		return now.Add(noExpiry)
	}
	if at := c.Expiration.Add(-refreshBefore); at.After(now) {
		return at
	}
	return now.Add(c.Expiration.Sub(now) / 2)
}
