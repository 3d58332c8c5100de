package objectapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
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
// client going away, the handler closing, or the store ending the watch (a client that
// fell too far behind watches again, as after any watch ends).
func (h *Handler) serveWatch(ctx context.Context, w http.ResponseWriter, q url.Values, rt route, f format, opts metav1.ListOptions) {
	wr, err := parseWatch(q, opts.ResourceVersion)
	if err != nil {
		h.fail(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, wr.timeout)
	defer cancel()
	lw, err := h.o.Store.ListerWatcher(rt.resource.gvk)
	if err != nil {
		h.fail(w, err)
		return
	}
	var initial []runtime.Object
	if wr.initial {
		// The watch starts at the list's resourceVersion, so nothing falls in between.
		list, err := lw.ListWithContext(ctx, opts)
		if err != nil {
			h.fail(w, err)
			return
		}
		if initial, err = meta.ExtractList(list); err != nil {
			h.fail(w, fmt.Errorf("object api: list items: %w", err))
			return
		}
		lm, err := meta.ListAccessor(list)
		if err != nil {
			h.fail(w, fmt.Errorf("object api: list metadata: %w", err))
			return
		}
		opts.ResourceVersion = lm.GetResourceVersion()
	}
	wi, err := lw.WatchWithContext(ctx, opts)
	if err != nil {
		h.fail(w, err)
		return
	}
	defer wi.Stop()

	s, err := startStream(w, "application/json")
	if err != nil {
		return
	}
	h.log.V(1).Info("watch started", "resource", rt.resource.plural, "namespace", rt.namespace,
		"resourceVersion", opts.ResourceVersion, "labelSelector", opts.LabelSelector, "fieldSelector", opts.FieldSelector)
	ew := &eventWriter{h: h, enc: newEncoder(s), f: f, res: rt.resource, ctx: ctx, lastRV: opts.ResourceVersion}
	for _, obj := range initial {
		if err := ew.send(watch.Added, obj); err != nil {
			return
		}
	}
	if wr.initialEndBookmark {
		if err := ew.bookmark(map[string]string{metav1.InitialEventsAnnotationKey: "true"}); err != nil {
			return
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-wi.ResultChan():
			if !ok {
				return
			}
			if err := ew.send(e.Type, e.Object); err != nil {
				h.log.V(1).Info("watch ended", "resource", rt.resource.plural, "reason", err.Error())
				return
			}
			if e.Type == watch.Error {
				return
			}
		}
	}
}

// eventWriter encodes watch events in the negotiated representation.
type eventWriter struct {
	h      *Handler
	enc    *json.Encoder
	f      format
	res    *resource
	ctx    context.Context
	lastRV string // resourceVersion of the last event sent: where a bookmark may point
}

func (ew *eventWriter) send(typ watch.EventType, obj runtime.Object) error {
	var out runtime.Object
	switch typ {
	case watch.Error:
		st := statusOf(apierrors.FromObject(obj))
		out = &st
	case watch.Bookmark:
		return nil // the store sends none; bookmarks are written by bookmark
	default:
		// A fresh row context per event: a task's READY column reflects its containers now.
		var err error
		if out, err = ew.h.presentObject(ew.h.newRowContext(ew.ctx), ew.f, ew.res, obj); err != nil {
			st := statusOf(err)
			return ew.enc.Encode(wireEvent{Type: watch.Error, Object: &st})
		}
		if m, err := meta.Accessor(obj); err == nil {
			ew.lastRV = m.GetResourceVersion()
		}
	}
	if err := ew.enc.Encode(wireEvent{Type: typ, Object: out}); err != nil {
		return fmt.Errorf("write watch event: %w", err)
	}
	return nil
}

// bookmark sends a BOOKMARK at the last resourceVersion sent: an object of the kind (or an
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
