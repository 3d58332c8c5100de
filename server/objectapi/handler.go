package objectapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/ecsd/ecsd/store"
)

// Options configure the object API.
type Options struct {
	// Store is read for every response. Required.
	Store *store.Store
	// DataDir is ECS_DATADIR, under which the container logs the log subresource serves
	// live (api.ContainerLogPath).
	DataDir string
	Logger  logr.Logger
	// Now is the clock for AGE columns; nil means time.Now.
	Now func() time.Time
}

// Handler serves the object API. Watches and log follows are long-lived; Close ends them
// so that a server shutdown does not wait for clients to go away.
type Handler struct {
	o         Options
	log       logr.Logger
	resources resourceSet
	// done ends every stream when the handler is closed.
	done  context.Context
	close context.CancelFunc
}

// NewHandler returns the object API handler for the kinds o.Store holds.
func NewHandler(o Options) (*Handler, error) {
	if o.Store == nil {
		return nil, fmt.Errorf("object api: no store")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	res, err := newResources(o.Store)
	if err != nil {
		return nil, err
	}
	done, cancel := context.WithCancel(context.Background())
	return &Handler{o: o, log: o.Logger, resources: res, done: done, close: cancel}, nil
}

// Close ends every watch and log follow in progress; later ones end at once. It suits
// http.Server.RegisterOnShutdown.
func (h *Handler) Close() { h.close() }

// ServeHTTP routes a request. The API is read-only: every method but GET is refused with
// 405, as the API server refuses a verb a resource does not support.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := h.parse(r.URL.Path)
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		gr := schema.GroupResource{}
		if rt.resource != nil {
			gr = rt.resource.groupResource()
		}
		writeStatus(w, apierrors.NewMethodNotSupported(gr, verbOf(r.Method)))
		return
	}
	// Streams end with the request, the handler, or whichever comes first.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(h.done, cancel)
	defer stop()

	switch rt.kind {
	case routeCoreVersions:
		writeJSON(w, http.StatusOK, coreVersions())
	case routeGroups:
		writeJSON(w, http.StatusOK, groupList())
	case routeGroup:
		writeJSON(w, http.StatusOK, group())
	case routeResources:
		writeJSON(w, http.StatusOK, h.resourceList())
	case routeCollection:
		h.serveCollection(ctx, w, r, rt)
	case routeObject:
		h.serveObject(ctx, w, r, rt)
	case routeSubresource: // containers/<name>/log is the only subresource
		h.serveLog(ctx, w, r, rt)
	case routeNamespace:
		serveNamespace(w, rt.name)
	default:
		writeStatus(w, notFoundPath(r.URL.Path))
	}
}

// verbOf names an HTTP method the way the API server names the verb it refuses.
func verbOf(method string) string {
	switch method {
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return method
}
