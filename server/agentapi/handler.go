package agentapi

import (
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/credentials"
)

// DefaultTimeout bounds one ECS call, as the reference agent does: a task waiting on
// its protection should hear "timed out" rather than hang.
const DefaultTimeout = 4 * time.Second

// Options configure the handler.
type Options struct {
	// Reader reads the agent's Container (Spec.EndpointID, Spec.TaskName) and Task
	// (Spec.ARN, Spec.RoleCredentialsID) objects in namespace api.Namespace, finding the
	// container through the metadata.EndpointIDField index (a reader without it scans).
	Reader client.Reader
	// Credentials holds the task role credentials by ID. Secrets are never logged.
	Credentials *credentials.Manager
	// Cluster is the configured cluster (name or ARN), sent with every ECS call.
	Cluster string
	// Region signs the ECS calls and picks the regional endpoint when Endpoint is "".
	Region string
	// Endpoint is ECS_BACKEND_HOST (or the local control plane's URL); "" means the
	// SDK's regional endpoint. https:// is added when it has no scheme.
	Endpoint string
	// HTTPClient carries the ECS calls; nil means a client with default transport
	// settings (proxies from the environment), shared by all calls.
	HTTPClient *http.Client
	// Timeout bounds one ECS call; 0 means DefaultTimeout.
	Timeout time.Duration
	Logger  logr.Logger
}

// handler serves the agent API.
type handler struct {
	o    Options
	log  logr.Logger
	http *http.Client
	mux  *http.ServeMux
}

// NewHandler returns the agent API handler. It expects full request paths
// (/api/<endpointId>/...) and does no rate limiting: the metadata server mounts it under
// /api/ behind its limiter.
func NewHandler(o Options) http.Handler {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger.GetSink() == nil {
		o.Logger = logr.Discard()
	}
	h := &handler{o: o, log: o.Logger, http: o.HTTPClient}
	if h.http == nil {
		// One client for every call, so connections to ECS are reused across requests
		// and tasks even though each call is signed with different credentials.
		h.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("/api/{endpointID}/task-protection/v1/state", h.serveState)
	h.mux.HandleFunc("/api/{endpointID}/fault/", h.serveFault)
	h.mux.HandleFunc("/", h.serveUnknown)
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// serveState dispatches the task protection state endpoint by method.
func (h *handler) serveState(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		h.getProtection(w, r)
	case http.MethodPut:
		h.updateProtection(w, r)
	default:
		w.Header().Set("Allow", "GET, PUT")
		writeJSON(w, h.log, http.StatusMethodNotAllowed, errorResponse("", "", "MethodNotAllowed",
			"Method "+r.Method+" is not allowed; use GET or PUT"))
	}
}

// serveFault answers the fault injection API, which ecsd does not implement, in that
// API's error shape so its clients can show the reason.
func (h *handler) serveFault(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, h.log, http.StatusNotFound, struct {
		Error string `json:"Error"`
	}{"Fault injection is not supported by this agent"})
}

// serveUnknown answers any other path under /api/.
func (h *handler) serveUnknown(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, h.log, http.StatusNotFound, errorResponse("", "", codeResourceNotFound,
		"No agent API at this path"))
}
