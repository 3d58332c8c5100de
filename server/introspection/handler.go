package introspection

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/pprof"
	"runtime/debug"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/internal/agenthealth"
	"github.com/ecsd/ecsd/server/bearer"
)

// Paths of the introspection API.
const (
	pathMetadata = "/v1/metadata"
	pathTasks    = "/v1/tasks"
	pathLicense  = "/license"

	pathPprof        = "/debug/pprof/"
	pathPprofCmdline = pathPprof + "cmdline"
	pathPprofProfile = pathPprof + "profile"
	pathPprofSymbol  = pathPprof + "symbol"
	pathPprofTrace   = pathPprof + "trace"
)

// Options configure the introspection handler.
type Options struct {
	// Reader reads Task, Container and Attachment objects. Required.
	Reader client.Reader
	// Cluster is the configured cluster (name or ARN as configured).
	Cluster string
	// ContainerInstanceARN is read per request; registration may finish after the handler
	// is built. nil or "" reports null.
	ContainerInstanceARN func() string
	// Version is the full version string, e.g. "Amazon ECS Agent - v0.1.0 (abcd1234)".
	Version string
	// EnableRuntimeStats (ECS_ENABLE_RUNTIME_STATS) serves pprof, to callers with Token
	// only: a profile costs the agent CPU for as long as the caller asks, and its dumps
	// describe the agent's memory.
	EnableRuntimeStats bool
	// Token is the bearer token pprof requires (the object API's).
	Token bearer.Token
	// ObjectAPI serves /api and /apis (the Kubernetes-style object API); may be nil.
	ObjectAPI http.Handler
	// Health serves agenthealth.Path, the agent's health for `ecs-agent --healthcheck`;
	// may be nil. It is not listed at /, whose answer stays the reference agent's.
	Health http.Handler
	// License is served as text/plain at /license; empty answers 500, as the reference agent
	// does when it cannot read its license file.
	License string
	// DataDir is ECS_DATADIR, used to show where agent-managed volumes live; optional.
	DataDir string
	Logger  logr.Logger
}

type handler struct {
	o   Options
	log logr.Logger
}

// NewHandler returns the introspection API handler. Timeouts (5 s, or 5 min with pprof) are
// the caller's. Panics become a 500 with Connection: close.
func NewHandler(o Options) http.Handler {
	h := &handler{o: o, log: o.Logger}
	paths := []string{pathMetadata, pathTasks, pathLicense}
	if o.EnableRuntimeStats {
		paths = append(paths, pathPprof, pathPprofCmdline, pathPprofProfile, pathPprofSymbol, pathPprofTrace)
	}
	root, _ := json.Marshal(struct{ AvailableCommands []string }{paths})

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { writeRaw(w, http.StatusOK, root) })
	mux.HandleFunc(pathMetadata, h.metadata)
	mux.HandleFunc(pathTasks, h.tasks)
	mux.HandleFunc(pathLicense, h.license)
	if o.EnableRuntimeStats {
		mux.Handle(pathPprof, h.withToken(pprof.Index))
		mux.Handle(pathPprofCmdline, h.withToken(pprof.Cmdline))
		mux.Handle(pathPprofProfile, h.withToken(pprof.Profile))
		mux.Handle(pathPprofSymbol, h.withToken(pprof.Symbol))
		mux.Handle(pathPprofTrace, h.withToken(pprof.Trace))
	}
	if o.Health != nil {
		mux.Handle(agenthealth.Path, o.Health)
	}
	if o.ObjectAPI != nil {
		for _, p := range []string{"/api", "/api/", "/apis", "/apis/"} {
			mux.Handle(p, o.ObjectAPI)
		}
	}
	return h.recoverPanic(mux)
}

// withToken answers 401 to a caller without the bearer token.
func (h *handler) withToken(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.o.Token.Allows(r) {
			w.Header().Set("WWW-Authenticate", bearer.Challenge)
			http.Error(w, "pprof needs the agent's bearer token: `ecsctl token` prints it (as root)", http.StatusUnauthorized)
			return
		}
		next(w, r)
	})
}

// recoverPanic answers 500 and closes the connection when a handler panics, so one bad
// request never takes the agent's health check down with it.
func (h *handler) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			h.log.Error(nil, "introspection handler panicked", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusInternalServerError)
		}()
		h.log.V(1).Info("introspection request", "method", r.Method, "path", r.URL.Path, "source", r.RemoteAddr)
		next.ServeHTTP(w, r)
	})
}

// metadata answers /v1/metadata (GET, and HEAD for the agent's health check).
func (h *handler) metadata(w http.ResponseWriter, _ *http.Request) {
	resp := MetadataResponse{Cluster: h.o.Cluster, Version: h.o.Version}
	if h.o.ContainerInstanceARN != nil {
		if arn := h.o.ContainerInstanceARN(); arn != "" {
			resp.ContainerInstanceArn = &arn
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// license answers /license.
func (h *handler) license(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	if h.o.License == "" {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(h.o.License))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeRaw(w, http.StatusInternalServerError, []byte("{}"))
		return
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
