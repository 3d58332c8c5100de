package tmds

import (
	"errors"
	"net/http"
	"path"
	"runtime/debug"
	"strings"

	"github.com/go-logr/logr"
)

// handler serves every route of the task metadata server.
type handler struct {
	o     Options
	lim   *limiter
	log   logr.Logger
	audit logr.Logger
}

// NewHandler returns the task metadata server's handler. Timeouts and the listener are the
// caller's; everything a request sees (path cleaning, rate limiting, routing) is here.
func NewHandler(o Options) (http.Handler, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	return &handler{
		o:     o,
		lim:   newLimiter(o.SteadyRPS, o.BurstRPS),
		log:   o.Logger,
		audit: o.Logger.WithName("audit"),
	}, nil
}

// ServeHTTP cleans the path, rate-limits, then routes. The order is the reference agent's:
// its outer router redirects unclean paths before its limiter runs.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := cleanPath(r.URL.Path); p != r.URL.Path {
		u := *r.URL
		u.Path, u.RawPath = p, ""
		w.Header().Set("Location", u.String())
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	if !h.lim.allow(clientIP(r), r.URL.Path, h.o.Now()) {
		h.audit.Info("request throttled", "status", http.StatusTooManyRequests, "source", r.RemoteAddr,
			"path", redactPath(r.URL.Path), "userAgent", r.UserAgent())
		w.Header().Set("Content-Type", limitContentType)
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(limitMessage))
		return
	}
	defer h.recoverPanic(w, r)
	h.log.V(1).Info("task metadata request", "method", r.Method, "path", redactPath(r.URL.Path), "source", r.RemoteAddr)
	h.route(w, r)
}

// recoverPanic turns a handler bug into a 500 for this request instead of a dropped
// connection, and logs it.
func (h *handler) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
		panic(v)
	}
	h.log.Error(nil, "task metadata handler panicked", "path", redactPath(r.URL.Path), "panic", v, "stack", string(debug.Stack()))
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusInternalServerError)
}

// cleanPath is the canonical form of p (gorilla/mux rules): rooted, no "//", "." or "..",
// and a trailing slash kept when there was one.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// route dispatches a clean path (spec §2.2).
func (h *handler) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/v1/credentials":
		h.serveCredentials(w, r, 1, r.URL.Query().Get("id"))
	case strings.HasPrefix(p, credentialsPathV2):
		h.serveCredentials(w, r, 2, strings.TrimPrefix(p, credentialsPathV2))
	case p == "/v2/metadata" || p == "/v2/metadata/":
		h.v2Task(w, r, false)
	case p == "/v2/metadataWithTags" || p == "/v2/metadataWithTags/":
		h.v2Task(w, r, true)
	case strings.HasPrefix(p, "/v2/metadata/"):
		h.v2Container(w, r, strings.TrimPrefix(p, "/v2/metadata/"))
	case p == "/v2/stats" || p == "/v2/stats/":
		h.v2TaskStats(w, r)
	case strings.HasPrefix(p, "/v2/stats/"):
		h.v2ContainerStats(w, r, strings.TrimPrefix(p, "/v2/stats/"))
	case strings.HasPrefix(p, "/v3/"):
		h.routeEndpoint(w, r, 3, strings.TrimPrefix(p, "/v3/"))
	case strings.HasPrefix(p, "/v4/"):
		h.routeEndpoint(w, r, 4, strings.TrimPrefix(p, "/v4/"))
	case strings.HasPrefix(p, "/api/") && h.o.AgentAPI != nil:
		h.o.AgentAPI.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

// routeEndpoint dispatches /v3/<id>… and /v4/<id>…; rest is the path after the version.
// The endpoint ID never contains a slash; association names may.
func (h *handler) routeEndpoint(w http.ResponseWriter, r *http.Request, ver int, rest string) {
	id, sub, hasSub := strings.Cut(rest, "/")
	if !hasSub {
		h.endpointContainer(w, r, ver, id)
		return
	}
	switch sub {
	case "task":
		h.endpointTask(w, r, ver, id, false)
	case "taskWithTags":
		h.endpointTask(w, r, ver, id, true)
	case "stats":
		h.endpointContainerStats(w, r, ver, id)
	case "task/stats":
		h.endpointTaskStats(w, r, ver, id)
	default:
		a, ok := strings.CutPrefix(sub, "associations/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		typ, name, hasName := strings.Cut(a, "/")
		if !hasName {
			h.associations(w, r, ver, id, typ)
			return
		}
		h.association(w, r, ver, id, typ, name)
	}
}
