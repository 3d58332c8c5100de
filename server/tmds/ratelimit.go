package tmds

import (
	"hash/maphash"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxBuckets bounds the limiter's memory: the key includes the URL path, which the caller
// chooses freely, so idle eviction alone would not bound it under a flood of distinct paths.
const maxBuckets = 16384

// Throttled request answer, as tollbooth's defaults produce it.
const (
	limitMessage     = "You have reached maximum request limit."
	limitContentType = "text/plain; charset=utf-8"
)

// limiter is a token bucket per (client IP, URL path), as the reference agent keys it.
type limiter struct {
	steady rate.Limit
	burst  int
	// idle is how long a bucket takes to refill completely; a bucket untouched that long is
	// indistinguishable from a new one, so dropping it changes nothing.
	idle time.Duration
	seed maphash.Seed

	mu        sync.Mutex
	buckets   map[limitKey]*bucket
	lastSweep time.Time
}

// limitKey hashes the path so that an entry has a fixed size whatever the request.
type limitKey struct {
	ip   string
	path uint64
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

func newLimiter(steady, burst int) *limiter {
	idle := time.Duration(float64(burst) / float64(steady) * float64(time.Second))
	idle = max(idle, time.Second)
	return &limiter{
		steady:  rate.Limit(steady),
		burst:   burst,
		idle:    idle,
		seed:    maphash.MakeSeed(),
		buckets: map[limitKey]*bucket{},
	}
}

// allow takes a token for (ip, path) at now.
func (l *limiter) allow(ip, path string, now time.Time) bool {
	k := limitKey{ip: ip, path: maphash.String(l.seed, path)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= l.idle {
		l.sweep(now)
	}
	b := l.buckets[k]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.evictOne()
		}
		b = &bucket{lim: rate.NewLimiter(l.steady, l.burst)}
		l.buckets[k] = b
	}
	b.last = now
	return b.lim.AllowN(now, 1)
}

// sweep drops every bucket that has been idle long enough to be full again.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.last) >= l.idle {
			delete(l.buckets, k)
		}
	}
	l.lastSweep = now
}

// evictOne makes room when the map is full of recently used buckets (a flood of distinct
// paths): an arbitrary bucket goes, which at worst hands that key a fresh burst.
func (l *limiter) evictOne() {
	for k := range l.buckets {
		delete(l.buckets, k)
		return
	}
}

// size is the number of live buckets (tests).
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// clientIP is the rate-limit key's address, looked up like tollbooth's defaults: RemoteAddr
// first (which is always there on a real connection), then X-Forwarded-For, then X-Real-IP.
// The credentials source check never uses this; it trusts only the connection.
func clientIP(r *http.Request) string {
	if r.RemoteAddr != "" {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			return host
		}
		return r.RemoteAddr
	}
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		first, _, _ := strings.Cut(xff, ",")
		return strings.TrimSpace(first)
	}
	return r.Header.Get("X-Real-IP")
}

// remoteAddr is the connection's source address, unmapped so that an IPv4 peer on a
// dual-stack socket compares equal to the IPv4 address in Status.
func remoteAddr(r *http.Request) (netip.Addr, error) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr().Unmap(), nil
}
