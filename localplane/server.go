package localplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// Server is a local ECS control plane. Create it with New, serve Handler, and Close it.
// All methods are safe for concurrent use.
type Server struct {
	opts Options
	log  logr.Logger
	arn  arns
	mux  *http.ServeMux

	// ctx bounds the websocket sessions; Close cancels it and waits for wg.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// keysMu guards keys, the instance key pairs accepted (Options.Credentials at start,
	// replaced by SetCredentials).
	keysMu sync.RWMutex
	keys   map[string]string

	mu     sync.Mutex
	st     *state
	closed bool
	// saved is the state file's content as last written (or read at start), the state to
	// go back to when a change cannot be written. nil when nothing was ever saved.
	saved []byte
	// writeState writes the state file; tests replace it to inject write failures.
	writeState func(path string, data []byte) error
	acs        map[string]map[*acsSession]struct{} // by container instance ARN
	tcs        map[*tcsSession]struct{}
	// Recordings for tests, and the health last reported over TCS; memory only.
	changes    []StateChange
	telemetry  []TelemetryFrame
	health     map[string]map[string]string // task ARN → container name → health status
	instHealth map[string]*instanceHealthStatus
}

// errUnchanged lets an update function say it changed nothing, so nothing is written.
var errUnchanged = errors.New("unchanged")

// New loads the state file (if Options.StatePath is set), creates Options.Clusters, and
// returns a Server ready to serve. ctx bounds the server's websocket sessions in addition
// to Close.
func New(ctx context.Context, o Options) (*Server, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	log := o.Logger.WithName("local-ecs")
	st, saved, err := loadState(o.StatePath, o.Now(), log)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:       o,
		log:        log,
		keys:       maps.Clone(o.Credentials),
		arn:        arns{region: o.Region, account: o.AccountID},
		st:         st,
		saved:      saved,
		writeState: writeFileAtomic,
		acs:        map[string]map[*acsSession]struct{}{},
		tcs:        map[*tcsSession]struct{}{},
		health:     map[string]map[string]string{},
		instHealth: map[string]*instanceHealthStatus{},
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	err = s.update(func(st *state) error {
		for _, name := range o.Clusters {
			s.ensureCluster(st, name, nil, nil)
		}
		return nil
	})
	if err != nil {
		s.cancel()
		return nil, err
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /{$}", s.serveAPI)
	s.mux.HandleFunc("GET /acs/ws", s.serveACS)
	s.mux.HandleFunc("GET /tcs/ws", s.serveTCS)
	s.log.Info("local ECS control plane ready", "region", o.Region, "account", o.AccountID,
		"statePath", o.StatePath, "authenticated", len(o.Credentials) > 0,
		"clusters", len(st.Clusters), "instances", len(st.Instances), "tasks", len(st.Tasks))
	return s, nil
}

// SetCredentials replaces the instance key pairs the server accepts, as IAM does when a
// role's keys rotate: a request signed with a key no longer listed is refused from now
// on, and sessions already open stay open until they reconnect (DropSessions). It cannot
// turn authentication on or off: both the old and the new set must be non-empty.
func (s *Server) SetCredentials(keys map[string]string) error {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if len(s.keys) == 0 || len(keys) == 0 {
		return fmt.Errorf("localplane: SetCredentials replaces key pairs; it cannot switch authentication on or off")
	}
	s.keys = maps.Clone(keys)
	s.log.Info("instance credentials replaced", "keys", len(keys))
	return nil
}

// authRequired reports whether requests must be signed with an instance key pair.
func (s *Server) authRequired() bool {
	s.keysMu.RLock()
	defer s.keysMu.RUnlock()
	return len(s.keys) > 0
}

// Handler serves the ECS API at POST /, ACS at GET /acs/ws and TCS at GET /tcs/ws.
func (s *Server) Handler() http.Handler { return s.mux }

// Close ends every websocket session and waits for them. The state is already on disk:
// every change was written before it was acknowledged. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conns := s.connsLocked()
	s.mu.Unlock()
	s.cancel()
	for _, c := range conns {
		c.closeNow()
	}
	s.wg.Wait()
	return nil
}

// now is the server clock.
func (s *Server) now() time.Time { return s.opts.Now() }

// update runs fn on the state with the lock held and, unless fn fails, writes the new
// state to the state file before returning, so a change is durable before any client
// hears of it (a RunTask is answered, a payload sent). fn must validate before it
// mutates: an error leaves memory as fn left it. fn returning errUnchanged skips the
// write and makes update return nil.
//
// A change that cannot be written is undone: the state goes back to what was last
// written, and update returns an error wrapping ErrState, which the API answers with a
// ServerException. Nothing fn did is then visible, so a client retrying finds the state
// as before its first attempt. The write happens with the lock held: a reader never sees
// a change that may still be rolled back.
func (s *Server) update(fn func(st *state) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := fn(s.st); err != nil {
		if errors.Is(err, errUnchanged) {
			return nil
		}
		return err
	}
	if s.opts.StatePath == "" {
		return nil
	}
	data, err := json.MarshalIndent(s.st, "", " ")
	if err == nil {
		err = s.writeState(s.opts.StatePath, data)
	}
	if err != nil {
		s.rollbackLocked()
		s.log.Error(err, "cannot write the state file; the change is undone", "path", s.opts.StatePath)
		return &stateError{err: err}
	}
	s.saved = data
	return nil
}

// rollbackLocked puts back the state last written.
func (s *Server) rollbackLocked() {
	if s.saved == nil {
		s.st = newState()
		return
	}
	st, err := parseState(s.saved)
	if err != nil {
		// It was written by this process from a valid state; this cannot happen.
		s.log.Error(err, "cannot decode the state last written; keeping the unsaved one")
		return
	}
	s.st = st
}

// stateError is a change the control plane could not write. It is ErrState for Go
// callers and a ServerException (HTTP 500, retried by the SDKs) for API clients.
type stateError struct{ err error }

func (e *stateError) Error() string {
	return "the local control plane could not save its state, so nothing was changed: " + e.err.Error()
}

func (e *stateError) Unwrap() []error { return []error{ErrState, e.err} }

// view runs fn on the state with the lock held, for reads.
func (s *Server) view(fn func(st *state)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.st)
}
