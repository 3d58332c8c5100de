package containerd

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	clog "github.com/containerd/log"
	"github.com/go-logr/logr"
	"github.com/sirupsen/logrus"

	"github.com/ecsd/ecsd/runtime"
)

// Runtime implements runtime.Runtime on one containerd namespace.
type Runtime struct {
	client    *client.Client
	namespace string
	opts      options
	log       logr.Logger

	// root outlives individual calls: it scopes the exit watchers started by
	// StartContainer and is cancelled by Close.
	root   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// images caches what is read from image configs, by target digest.
	images imageCache
	// dirs caches where containerd keeps image data (ImageFilesystems).
	dirs imageDirs

	initOnce sync.Once
	initBin  string

	// startedAt holds the last start time of each container this process started, until the
	// container is removed. The label written off the start path is only read for
	// containers started before this process (an agent restart).
	startedAt sync.Map // container ID → time.Time

	clientLog *clog.Entry
}

var _ runtime.Runtime = (*Runtime)(nil)

// pingTimeout bounds the connectivity check in New so a dead socket fails fast.
const pingTimeout = 10 * time.Second

// New connects to the containerd at address and uses namespace for everything. It checks
// that containerd answers (Version) so a misconfigured socket fails here with
// runtime.ErrUnavailable instead of on the first reconcile.
func New(ctx context.Context, address, namespace string, opts ...Option) (*Runtime, error) {
	if namespace == "" {
		return nil, fmt.Errorf("containerd namespace must not be empty")
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.httpClient == nil {
		// One client for all pulls so registry connections are reused.
		o.httpClient = &http.Client{Transport: docker.DefaultHTTPTransport(nil)}
	}
	if o.hosts == nil {
		o.hosts = defaultRegistryHosts(o.httpClient, o.plainHTTP)
	}
	if o.hostsDir != "" {
		o.hosts = hostsDirRegistryHosts(o.hostsDir, o.httpClient, o.hosts)
	}
	c, err := client.New(address,
		client.WithDefaultNamespace(namespace),
		client.WithDefaultRuntime(o.runtime),
		client.WithTimeout(pingTimeout),
	)
	if err != nil {
		return nil, wrapErr(err, "connect to containerd at %s", address)
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	v, err := c.Version(namespaces.WithNamespace(pctx, namespace))
	if err != nil {
		_ = c.Close()
		return nil, &rtError{
			msg:  fmt.Sprintf("containerd at %s not answering", address),
			kind: runtime.ErrUnavailable, err: err,
		}
	}
	root, rootCancel := context.WithCancel(namespaces.WithNamespace(context.Background(), namespace))
	r := &Runtime{
		client:    c,
		namespace: namespace,
		opts:      o,
		log:       o.log.WithValues("namespace", namespace),
		root:      root,
		cancel:    rootCancel,
		clientLog: newClientLog(o.log),
	}
	r.root = clog.WithLogger(r.root, r.clientLog)
	r.log.V(1).Info("connected to containerd", "address", address, "version", v.Version)
	return r, nil
}

// Close stops the exit watchers and closes the connection. Containers keep running: the
// shims own them.
func (r *Runtime) Close() error {
	r.cancel()
	r.wg.Wait()
	return r.client.Close()
}

// Client exposes the underlying containerd client for tests and tools (e.g. the bench
// comparing the agent against raw containerd). Controllers must not use it.
func (r *Runtime) Client() *client.Client { return r.client }

// Namespace is the containerd namespace this runtime operates in.
func (r *Runtime) Namespace() string { return r.namespace }

// Version is the containerd daemon's version; it doubles as a liveness check.
func (r *Runtime) Version(ctx context.Context) (string, error) {
	v, err := r.client.Version(ctx)
	if err != nil {
		return "", fmt.Errorf("containerd version: %w", err)
	}
	return v.Version, nil
}

// withNS puts the runtime's namespace on ctx, overriding any caller-supplied one so a
// stray namespace from elsewhere can never leak containers into another namespace.
func (r *Runtime) withNS(ctx context.Context) context.Context {
	return clog.WithLogger(namespaces.WithNamespace(ctx, r.namespace), r.clientLog)
}

// newClientLog routes the containerd client's own logrus output (resolver chatter such as
// "fetch failed after status: 404") into the agent's structured log at debug level,
// instead of raw lines on stderr.
func newClientLog(l logr.Logger) *clog.Entry {
	lg := logrus.New()
	lg.SetOutput(logrWriter{l.WithName("containerd-client")})
	lg.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true, DisableQuote: true})
	lg.SetLevel(logrus.InfoLevel)
	return logrus.NewEntry(lg)
}

// logrWriter writes each logrus line as one debug record.
type logrWriter struct{ l logr.Logger }

func (w logrWriter) Write(p []byte) (int, error) {
	w.l.V(1).Info(strings.TrimSpace(string(p)))
	return len(p), nil
}
