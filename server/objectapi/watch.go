package objectapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// defaultWatchTimeout ends a watch that did not ask for a timeout, as the API server's
// request timeout does: the client watches again from where it was.
const defaultWatchTimeout = 30 * time.Minute

// wireEvent is one line of a watch response, the API server's JSON watch format.
type wireEvent struct {
	Type   watch.EventType `json:"type"`
	Object runtime.Object  `json:"object"`
}

// watchRequest is a watch's parameters beyond the list options.
type watchRequest struct {
	timeout time.Duration
	// initial sends the current objects as ADDED events first.
	initial bool
	// initialEndBookmark marks the end of the initial events with a bookmark, for a
	// client that asked for them explicitly (client-go's WatchList).
	initialEndBookmark bool
}

// parseWatch reads timeoutSeconds, sendInitialEvents and allowWatchBookmarks. Without
// sendInitialEvents, a watch from no resourceVersion (or "0") starts with the current
// objects, as the API server's does; from a given resourceVersion it sends only the
// changes after it.
func parseWatch(q url.Values, resourceVersion string) (watchRequest, error) {
	wr := watchRequest{timeout: defaultWatchTimeout}
	if v := q.Get("timeoutSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return wr, apierrors.NewBadRequest(fmt.Sprintf("invalid timeoutSeconds %q", v))
		}
		if n > 0 {
			wr.timeout = time.Duration(n) * time.Second
		}
	}
	bookmarks, err := boolParam(q, "allowWatchBookmarks")
	if err != nil {
		return wr, err
	}
	if q.Has("sendInitialEvents") {
		if wr.initial, err = boolParam(q, "sendInitialEvents"); err != nil {
			return wr, err
		}
		wr.initialEndBookmark = wr.initial && bookmarks
	} else {
		wr.initial = resourceVersion == "" || resourceVersion == "0"
	}
	return wr, nil
}

// serveWatch streams changes as newline-delimited watch events until the timeout, the
// client going away, the handler closing, or the watch falling out of its hub's ring (a
// client that fell too far behind gets 410 Expired and watches again, as after any watch
// ends). The initial objects are sent one at a time from the hub's snapshot, never as one
// materialised list, and the changes come from the kind's shared hub.
func (h *Handler) serveWatch(ctx context.Context, w http.ResponseWriter, q url.Values, rt route, f format, opts metav1.ListOptions) {
	wr, err := parseWatch(q, opts.ResourceVersion)
	if err != nil {
		h.fail(w, err)
		return
	}
	lw, err := h.o.Store.ListerWatcher(rt.resource.gvk)
	if err != nil {
		h.fail(w, err)
		return
	}
	matches, err := lw.Selector(opts)
	if err != nil {
		h.fail(w, err)
		return
	}
	var from uint64
	if v := opts.ResourceVersion; v != "" && v != "0" {
		if from, err = strconv.ParseUint(v, 10, 64); err != nil {
			h.fail(w, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", v)))
			return
		}
	}
	hb, err := h.hubFor(rt.resource)
	if err != nil {
		h.fail(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, wr.timeout)
	defer cancel()

	var initial []client.Object
	var seq uint64
	var expired error
	if wr.initial {
		initial, from, seq = hb.snapshot()
		slices.SortFunc(initial, func(a, b client.Object) int { return strings.Compare(keyOf(a), keyOf(b)) })
	} else {
		seq, expired = hb.position(from)
	}

	s, err := startStream(w, "application/json")
	if err != nil {
		return
	}
	if expired != nil {
		// As the API server does: the watch starts, and its one event says 410 Expired,
		// which makes the client list again.
		st := statusOf(expired)
		_ = newEncoder(s).Encode(wireEvent{Type: watch.Error, Object: &st})
		return
	}
	h.log.V(1).Info("watch started", "resource", rt.resource.plural, "namespace", rt.namespace,
		"resourceVersion", opts.ResourceVersion, "labelSelector", opts.LabelSelector, "fieldSelector", opts.FieldSelector)
	ew := &eventWriter{h: h, enc: newEncoder(s), f: f, res: rt.resource, ctx: ctx, lastRV: strconv.FormatUint(from, 10)}
	for _, obj := range initial {
		if !matches(obj) {
			continue
		}
		if err := ew.send(watch.Added, obj.DeepCopyObject()); err != nil {
			return
		}
	}
	if wr.initialEndBookmark {
		if err := ew.bookmark(map[string]string{metav1.InitialEventsAnnotationKey: "true"}); err != nil {
			return
		}
	}
	err = h.followHub(ctx, s, hb, seq, from, matches, ew)
	h.log.V(1).Info("watch ended", "resource", rt.resource.plural, "reason", err.Error())
}

// followHub sends the hub's events from seq on that come after resourceVersion from and
// match, until ctx ends or the hub says the watch is over.
func (h *Handler) followHub(ctx context.Context, s *stream, hb *hub, seq, from uint64, matches func(client.Object) bool, ew *eventWriter) error {
	var buf []*hubEvent
	for {
		evs, wake, err := hb.since(seq, buf[:0])
		if err != nil {
			if apierrors.IsResourceExpired(err) {
				st := statusOf(err)
				_ = ew.enc.Encode(wireEvent{Type: watch.Error, Object: &st})
			}
			return err
		}
		for _, e := range evs {
			seq = e.seq + 1
			if e.rv <= from {
				continue
			}
			typ, ok := e.translate(matches)
			if !ok {
				continue
			}
			line, err := e.encoded(encKey{f: ew.f, typ: typ}, func() ([]byte, error) { return ew.line(typ, e.obj) })
			if err != nil {
				st := statusOf(err)
				_ = ew.enc.Encode(wireEvent{Type: watch.Error, Object: &st})
				return err
			}
			if _, err := s.Write(line); err != nil {
				return fmt.Errorf("write watch event: %w", err)
			}
		}
		buf = evs
		if len(evs) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

// hubFor returns the hub of res, or 503 once the handler is closing.
func (h *Handler) hubFor(res *resource) (*hub, error) {
	hb := h.hubs[res]
	if hb == nil || hb.stopped() != nil {
		return nil, apierrors.NewServiceUnavailable("the object API is shutting down")
	}
	return hb, nil
}

// eventWriter encodes watch events in the negotiated representation.
type eventWriter struct {
	h      *Handler
	enc    *json.Encoder
	f      format
	res    *resource
	ctx    context.Context
	lastRV string // the resourceVersion the initial events reflect: where their bookmark points
}

// line is the wire line of one ADDED, MODIFIED or DELETED event of obj, presented from a
// private copy (presentation redacts in place; obj may be shared).
func (ew *eventWriter) line(typ watch.EventType, obj runtime.Object) ([]byte, error) {
	out, err := ew.h.presentObject(ew.h.newRowContext(ew.ctx), ew.f, ew.res, obj.DeepCopyObject())
	if err != nil {
		return nil, err
	}
	return marshal(wireEvent{Type: typ, Object: out})
}

// send writes one event of obj, the caller's own copy; a presentation failure is sent
// as an Error event and ends the watch.
func (ew *eventWriter) send(typ watch.EventType, obj runtime.Object) error {
	out, err := ew.h.presentObject(ew.h.newRowContext(ew.ctx), ew.f, ew.res, obj)
	if err != nil {
		st := statusOf(err)
		_ = ew.enc.Encode(wireEvent{Type: watch.Error, Object: &st})
		return err
	}
	if err := ew.enc.Encode(wireEvent{Type: typ, Object: out}); err != nil {
		return fmt.Errorf("write watch event: %w", err)
	}
	return nil
}

// bookmark sends a BOOKMARK at lastRV: an object of the kind (or an
// empty Table) carrying nothing but that and the annotations.
func (ew *eventWriter) bookmark(annotations map[string]string) error {
	var out runtime.Object
	switch ew.f.shape {
	case shapeTable:
		out = &metav1.Table{
			TypeMeta: metav1.TypeMeta{APIVersion: metav1.GroupName + "/" + ew.f.metaVersion, Kind: "Table"},
			ListMeta: metav1.ListMeta{ResourceVersion: ew.lastRV},
		}
	case shapeMetadata:
		out = &metav1.PartialObjectMetadata{
			TypeMeta:   metav1.TypeMeta{APIVersion: metav1.GroupName + "/" + ew.f.metaVersion, Kind: "PartialObjectMetadata"},
			ObjectMeta: metav1.ObjectMeta{ResourceVersion: ew.lastRV, Annotations: annotations},
		}
	default:
		obj, err := ew.res.newObject(ew.h.o.Store.Scheme())
		if err != nil {
			return err
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			return fmt.Errorf("object api: bookmark metadata: %w", err)
		}
		m.SetResourceVersion(ew.lastRV)
		m.SetAnnotations(annotations)
		obj.GetObjectKind().SetGroupVersionKind(ew.res.gvk)
		out = obj
	}
	if err := ew.enc.Encode(wireEvent{Type: watch.Bookmark, Object: out}); err != nil {
		return fmt.Errorf("write watch bookmark: %w", err)
	}
	return nil
}
