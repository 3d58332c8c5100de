package objectapi

import (
	"fmt"
	"net"
	"net/http"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Default bounds on what the object API serves at once. Each open watch or log follow costs a
// connection, a goroutine and its buffers (about 30 KiB); the bounds keep a runaway script
// from costing the agent more than ~30 MiB or its file descriptors, while leaving plenty for
// operators (kubectl -w, ecsctl, a monitoring agent). A client is a source address: on the
// host every caller is 127.0.0.1, so the per-client bound is what a local flood meets first.
const (
	DefaultMaxWatches          = 500
	DefaultMaxWatchesPerClient = 250
	DefaultMaxFollows          = 200
	DefaultMaxFollowsPerClient = 100
	// An exec session holds a process in a container besides its connection.
	DefaultMaxExecs          = 32
	DefaultMaxExecsPerClient = 16
	// DefaultMaxInFlight bounds lists, gets and discovery answered at once (like the API
	// server's max-requests-inflight): a list materialises every object of its kind.
	DefaultMaxInFlight = 64
	// retryAfterSeconds is what a refused client is told to wait.
	retryAfterSeconds = 5
)

// Limits bound concurrent requests; zero fields take the defaults above.
type Limits struct {
	MaxWatches, MaxWatchesPerClient int
	MaxFollows, MaxFollowsPerClient int
	MaxExecs, MaxExecsPerClient     int
	MaxInFlight                     int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxWatches, DefaultMaxWatches)
	def(&l.MaxWatchesPerClient, DefaultMaxWatchesPerClient)
	def(&l.MaxFollows, DefaultMaxFollows)
	def(&l.MaxFollowsPerClient, DefaultMaxFollowsPerClient)
	def(&l.MaxExecs, DefaultMaxExecs)
	def(&l.MaxExecsPerClient, DefaultMaxExecsPerClient)
	def(&l.MaxInFlight, DefaultMaxInFlight)
	return l
}

// slots counts what is in use, in total and per client, against two bounds.
type slots struct {
	what             string // "watches", "log follows", … for the refusal's message
	total, perClient int
	mu               sync.Mutex
	used             int
	byClient         map[string]int
}

func newSlots(what string, total, perClient int) *slots {
	return &slots{what: what, total: total, perClient: perClient, byClient: map[string]int{}}
}

// acquire takes a slot for client, or returns a 429 that says which bound was hit. The
// release function must be called exactly once.
func (s *slots) acquire(client string) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.used >= s.total:
		return nil, tooMany(fmt.Sprintf("too many %s open on this agent (%d); try again later", s.what, s.total))
	case s.byClient[client] >= s.perClient:
		return nil, tooMany(fmt.Sprintf("too many %s open from %s (%d); close some and try again", s.what, client, s.perClient))
	}
	s.used++
	s.byClient[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.used--
			if s.byClient[client]--; s.byClient[client] <= 0 {
				delete(s.byClient, client)
			}
		})
	}, nil
}

// inUse returns how many slots are taken.
func (s *slots) inUse() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

func tooMany(msg string) error {
	return apierrors.NewTooManyRequests(msg, retryAfterSeconds)
}

// clientOf names the client of r by its source address.
func clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
