// Package tagcache is task metadata's source of ECS resource tags (the …WithTags
// responses): ListTagsForResource answers kept per ARN for a short while.
//
// The reference agent calls ECS on every …WithTags request. Workloads and sidecars poll
// task metadata (the rate limit allows 40 requests a second per caller and path), so that
// turns one host's metadata traffic into ECS API traffic, throttled account-wide. Tags
// change rarely; a minute's staleness is the price of keeping ECS off the hot path.
package tagcache

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/singleflight"
)

// Defaults of Options.
const (
	DefaultTTL      = time.Minute
	DefaultErrorTTL = 5 * time.Second
	// DefaultTimeout bounds one lookup. The metadata server's write timeout is 5 s and a
	// response may wait on two lookups (instance and task, made concurrently), so a lookup
	// gets well under that, not the reference agent's 30 s retry budget.
	DefaultTimeout = 2 * time.Second
)

// Lister is ECS ListTagsForResource (ecsapi.Client).
type Lister interface {
	ListTagsForResource(ctx context.Context, resourceARN string) (map[string]string, error)
}

// Options configure a Cache.
type Options struct {
	// Lister calls ECS. Required.
	Lister Lister
	// TTL is how long a successful answer is served; zero means DefaultTTL.
	TTL time.Duration
	// ErrorTTL is how long a failed lookup is answered with its error before ECS is asked
	// again, so an ECS outage or throttling is not amplified by every request; zero means
	// DefaultErrorTTL.
	ErrorTTL time.Duration
	// Timeout bounds one lookup, however long the request waiting on it could wait; zero
	// means DefaultTimeout.
	Timeout time.Duration
	// Logger receives one entry per failed lookup (not per request answered from it).
	Logger logr.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Cache is a tmds.TagSource. It is safe for concurrent use; concurrent misses for one ARN
// share a single ECS call.
type Cache struct {
	o     Options
	group singleflight.Group

	mu        sync.Mutex
	entries   map[string]entry
	nextSweep time.Time
}

// entry is one lookup's outcome; exactly one of tags and err is set.
type entry struct {
	tags    map[string]string
	err     error
	expires time.Time
}

// ErrNoLister is returned by New without Options.Lister.
var ErrNoLister = errors.New("tagcache: a Lister is required")

// New returns an empty Cache.
func New(o Options) (*Cache, error) {
	if o.Lister == nil {
		return nil, ErrNoLister
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.ErrorTTL <= 0 {
		o.ErrorTTL = DefaultErrorTTL
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Cache{o: o, entries: map[string]entry{}}, nil
}

// ListTags returns the tags of resourceARN, from the cache while its entry is fresh. The
// map is the caller's own copy. A lookup runs under its own timeout, detached from ctx, so
// that a caller giving up does not fail the others waiting on it and the answer is still
// kept; ctx only bounds how long this caller waits.
func (c *Cache) ListTags(ctx context.Context, resourceARN string) (map[string]string, error) {
	if e, ok := c.fresh(resourceARN); ok {
		return e.result()
	}
	ch := c.group.DoChan(resourceARN, func() (any, error) {
		return c.lookup(context.WithoutCancel(ctx), resourceARN), nil
	})
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("tags of %s: %w", resourceARN, ctx.Err())
	case r := <-ch:
		return r.Val.(entry).result()
	}
}

// lookup asks ECS and stores the outcome.
func (c *Cache) lookup(ctx context.Context, arn string) entry {
	// Another caller may have stored a fresh entry between our miss and this call.
	if e, ok := c.fresh(arn); ok {
		return e
	}
	lctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	tags, err := c.o.Lister.ListTagsForResource(lctx, arn)
	now := c.o.Now()
	e := entry{tags: tags, expires: now.Add(c.o.TTL)}
	if err != nil {
		// The error comes from the SDK, which never puts credentials in it.
		c.o.Logger.Error(err, "tag lookup failed; answering without these tags", "resource", arn, "retryAfter", c.o.ErrorTTL)
		e = entry{err: err, expires: now.Add(c.o.ErrorTTL)}
	} else if e.tags == nil {
		e.tags = map[string]string{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[arn] = e
	c.sweepLocked(now)
	return e
}

// fresh returns the unexpired entry of arn.
func (c *Cache) fresh(arn string) (entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[arn]
	if !ok || !c.o.Now().Before(e.expires) {
		return entry{}, false
	}
	return e, true
}

// sweepLocked drops expired entries, at most once a TTL, so ARNs of tasks long gone do
// not accumulate.
func (c *Cache) sweepLocked(now time.Time) {
	if now.Before(c.nextSweep) {
		return
	}
	c.nextSweep = now.Add(c.o.TTL)
	for arn, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, arn)
		}
	}
}

// Len is the number of entries held, expired ones not yet swept included.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func (e entry) result() (map[string]string, error) {
	if e.err != nil {
		return nil, e.err
	}
	return maps.Clone(e.tags), nil
}
