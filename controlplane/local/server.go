package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

	mu     sync.Mutex
	st     *state
	gen    uint64 // bumped by every committed change, orders the state file writes
	closed bool
	acs    map[string]map[*acsSession]struct{} // by container instance ARN
	tcs    map[*tcsSession]struct{}
	// Recordings for tests, and the health last reported over TCS; memory only.
	changes    []StateChange
	telemetry  []TelemetryFrame
	health     map[string]map[string]string // task ARN → container name → health status
	instHealth map[string]*instanceHealthStatus

	persistMu sync.Mutex
	persisted uint64 // gen of the state on disk
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
	st, err := loadState(o.StatePath)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:       o,
		log:        o.Logger.WithName("local-ecs"),
		arn:        arns{region: o.Region, account: o.AccountID},
		st:         st,
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
// hears of it. fn must validate before it mutates: an error leaves memory as fn left it.
// fn returning errUnchanged skips the write and makes update return nil.
func (s *Server) update(fn func(st *state) error) error {
	s.mu.Lock()
	if err := fn(s.st); err != nil {
		s.mu.Unlock()
		if errors.Is(err, errUnchanged) {
			return nil
		}
		return err
	}
	s.gen++
	gen := s.gen
	var data []byte
	var err error
	if s.opts.StatePath != "" {
		data, err = json.MarshalIndent(s.st, "", " ")
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: encode: %w", ErrState, err)
	}
	return s.persist(gen, data)
}

// persist writes the state of generation gen unless a later one is already on disk.
// Writing outside s.mu keeps readers from waiting on fsync.
func (s *Server) persist(gen uint64, data []byte) error {
	if s.opts.StatePath == "" {
		return nil
	}
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	if gen <= s.persisted {
		return nil
	}
	if err := writeFileAtomic(s.opts.StatePath, data); err != nil {
		s.log.Error(err, "cannot write the state file", "path", s.opts.StatePath)
		return err
	}
	s.persisted = gen
	return nil
}

// view runs fn on the state with the lock held, for reads.
func (s *Server) view(fn func(st *state)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.st)
}
