package objectapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/server/bearer"
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
	// Token is the bearer token every request must carry (ECSD_API_TOKEN_FILE). The zero
	// Token refuses every request: the API shows every task's objects, environment and
	// output, so it is never open to whoever can reach the port.
	Token bearer.Token
	// HostCaller reports whether a request comes from a root process on the host outside
	// every task (peer.HostRoot): a caller the kernel vouches for, who could read the token
	// file anyway. Without the token it may read discovery, every kind as Tables, and the
	// objects of kinds that hold no task's own data (tasks, images, attachments, the
	// instance): what kubectl reads, which never sends a token over plain HTTP. Container
	// objects (environment, command) and their logs still need the token, so reading a
	// task's secrets is always a deliberate act. nil admits nobody this way.
	HostCaller func(*http.Request) bool
	// Limits bound concurrent watches, log follows, exec sessions and other requests.
	Limits Limits
	// Exec runs the exec subresource's commands (the runtime); nil refuses every exec.
	Exec Executor
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

	watches, follows, execs, inFlight *slots

	// hubs are the kinds' shared store watches, one per kind, started with the handler so
	// that any resourceVersion a client listed at can be watched from.
	hubs map[*resource]*hub
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
	if !o.Token.Set() {
		o.Logger.Info("object API has no token: every request is refused")
	}
	l := o.Limits.withDefaults()
	done, cancel := context.WithCancel(context.Background())
	h := &Handler{o: o, log: o.Logger, resources: res, done: done, close: cancel,
		watches:  newSlots("watches", l.MaxWatches, l.MaxWatchesPerClient),
		follows:  newSlots("log follows", l.MaxFollows, l.MaxFollowsPerClient),
		execs:    newSlots("exec sessions", l.MaxExecs, l.MaxExecsPerClient),
		inFlight: newSlots("requests", l.MaxInFlight, l.MaxInFlight),
		hubs:     map[*resource]*hub{},
	}
	for _, r := range res {
		lw, err := o.Store.ListerWatcher(r.gvk)
		if err == nil {
			h.hubs[r], err = startHub(done, r, lw, o.Store.History(), o.Logger.WithName("hub"))
		}
		if err != nil {
			cancel()
			return nil, fmt.Errorf("object api: watch %s: %w", r.plural, err)
		}
	}
	return h, nil
}

// Close ends every watch and log follow in progress; later ones end at once. It suits
// http.Server.RegisterOnShutdown.
func (h *Handler) Close() { h.close() }

// ServeHTTP routes a request. Only callers with the bearer token are answered (401 for
// everyone else, before anything is read or routed). The API is read-only but for exec:
// every method but GET (and POST for exec, the verb SPDY clients use) is refused with 405,
// as the API server refuses a verb a resource does not support.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := h.parse(r.URL.Path)
	if !h.o.Token.Allows(r) && !(h.hostReadable(r, rt) && h.o.HostCaller != nil && h.o.HostCaller(r)) {
		w.Header().Set("WWW-Authenticate", bearer.Challenge)
		writeStatus(w, apierrors.NewUnauthorized("the object API needs the agent's bearer token: `ecsctl token` prints it (as root)"))
		return
	}
	if r.Method != http.MethodGet && !(r.Method == http.MethodPost && rt.isExec()) {
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

	release, err := h.admit(r, rt)
	if err != nil {
		writeStatus(w, err)
		return
	}
	defer release()

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
	case routeCoreResources:
		writeJSON(w, http.StatusOK, coreResourceList())
	case routePod:
		h.servePod(ctx, w, rt)
	case routePodExec:
		h.servePodExec(ctx, w, r, rt)
	case routeSubresource:
		if rt.isExec() {
			h.serveExec(ctx, w, r, client.ObjectKey{Namespace: rt.namespace, Name: rt.name})
		} else {
			h.serveLog(ctx, w, r, rt)
		}
	case routeNamespace:
		serveNamespace(w, rt.name)
	default:
		writeStatus(w, notFoundPath(r.URL.Path))
	}
}

// hostReadable reports whether r asks only for what a host caller may read without the
// token: discovery, namespaces, any kind as Table rows or metadata, and whole objects of
// kinds that are not private; never a private kind's objects or logs.
func (h *Handler) hostReadable(r *http.Request, rt route) bool {
	if r.Method != http.MethodGet {
		return false
	}
	switch rt.kind {
	case routeCoreVersions, routeGroups, routeGroup, routeResources, routeNamespace, routeCoreResources:
		return true
	case routeCollection, routeObject:
		if !rt.resource.private {
			return true
		}
		f, err := negotiate(r.Header.Get("Accept"), r.URL.Query().Get("includeObject"))
		return err == nil && f.shape != shapeObject && f.includeObject != metav1.IncludeObject
	}
	return false
}

// admit takes the slot a request needs: a watch, a log follow, or any other request.
func (h *Handler) admit(r *http.Request, rt route) (func(), error) {
	client := clientOf(r)
	q := r.URL.Query()
	switch {
	case rt.kind == routeCollection && isTrue(q.Get("watch")):
		return h.watches.acquire(client)
	case rt.isExec():
		return h.execs.acquire(client)
	case rt.kind == routeSubresource && isTrue(q.Get("follow")):
		return h.follows.acquire(client)
	}
	return h.inFlight.acquire(client)
}

// isTrue is boolParam's reading of a value, for admission only: a bad value is refused
// later, with the parameter named.
func isTrue(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && b
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
