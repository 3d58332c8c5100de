package localplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/localplane/access"
)

// ErrNotLoopback: the plane was asked to listen on an address other than a loopback one.
var ErrNotLoopback = errors.New("the local control plane listens on a loopback address only (127.0.0.0/8 or ::1)")

// ServeOptions say where and how Serve runs a plane. `ecs-agent --local` and `ecs-local`
// both start the plane through Serve, so the two cannot drift apart in how the key pair
// is kept, which address is accepted or how the server stops.
type ServeOptions struct {
	// Listen is host:port of a loopback address (port 0: any free port).
	Listen string
	// CredentialsFile is the plane's access file (package access): the key pair it
	// accepts, generated on the first start and kept, and the endpoint actually bound.
	CredentialsFile string
	// Region is the plane's region; default DefaultRegion.
	Region string
	// AccountID appears in every ARN; default DefaultAccountID.
	AccountID string
	// Clusters are created at start if missing.
	Clusters []string
	// StatePath is the plane's state file (empty: memory only).
	StatePath string
	// Logger receives the plane's logs.
	Logger logr.Logger
	// BeforeServe, if set, runs once the address is bound and before a single request is
	// served; what it returns runs after the server stopped. `ecs-agent --local` uses it
	// to refuse the plane's port to its task containers.
	BeforeServe func(ctx context.Context, bound netip.AddrPort) (undo func(context.Context) error, err error)
}

// Serving is a running plane.
type Serving struct {
	// Access is the plane's access file as written: endpoint, region, key pair.
	Access access.File
	// Server is the plane itself.
	Server *Server
	stop   func()
}

// Stop stops serving, ends the websocket sessions and runs BeforeServe's undo. Each part
// gets a time of its own, so a slow shutdown (an ACS session slow to close) cannot leave
// the undo undone.
func (s *Serving) Stop() { s.stop() }

// stopTimeout bounds each part of Stop.
const stopTimeout = 5 * time.Second

// Serve starts a plane as o says and serves its ECS API, ACS and TCS until Stop. The
// state is reloaded from o.StatePath, so a restarted plane finds its instances and tasks
// again. Only the key pair of o.CredentialsFile is accepted: whoever holds it can run any
// task, privileged ones included, on every agent registered with the plane.
func Serve(ctx context.Context, o ServeOptions) (*Serving, error) {
	listen, err := LoopbackListenAddr(o.Listen)
	if err != nil {
		return nil, err
	}
	if o.CredentialsFile == "" {
		return nil, errors.New("no access file for the local control plane's key pair")
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	log := o.Logger
	if log.GetSink() == nil {
		log = logr.Discard()
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("local control plane: %w", err)
	}
	bound := netip.MustParseAddrPort(ln.Addr().String())
	endpoint := "http://" + bound.String()
	keys, err := access.Ensure(o.CredentialsFile, endpoint, o.Region, log)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("local control plane key pair: %w", err)
	}
	srv, err := New(ctx, Options{
		Region:      o.Region,
		AccountID:   o.AccountID,
		Credentials: map[string]string{keys.AccessKeyID: keys.SecretAccessKey},
		Clusters:    o.Clusters,
		StatePath:   o.StatePath,
		Logger:      log,
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("local control plane: %w", err)
	}
	undo := func(context.Context) error { return nil }
	if o.BeforeServe != nil {
		if undo, err = o.BeforeServe(ctx, bound); err != nil {
			ln.Close()
			srv.Close()
			return nil, fmt.Errorf("local control plane: %w", err)
		}
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(err, "local control plane stopped serving")
		}
	}()
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancel()
		_ = hs.Shutdown(sctx)
		<-served
		srv.Close()
		uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer ucancel()
		if err := undo(uctx); err != nil {
			log.Error(err, "cannot undo what was set up for the local control plane")
		}
	}
	log.Info("local ECS control plane listening", "endpoint", endpoint, "region", o.Region,
		"credentialsFile", o.CredentialsFile)
	return &Serving{Access: keys, Server: srv, stop: stop}, nil
}

// LoopbackListenAddr checks that addr (host:port) names a loopback address and returns it
// in the form to listen on ("localhost" is 127.0.0.1). The plane places tasks,
// privileged ones included, for whoever holds its key pair; it is not a network service.
// Agents in other network namespaces of the machine reach it through a forwarder.
func LoopbackListenAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%q: %w", addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return "", fmt.Errorf("%q: %w, e.g. %s", addr, ErrNotLoopback, DefaultAPIAddr)
	}
	return net.JoinHostPort(ip.Unmap().String(), port), nil
}
