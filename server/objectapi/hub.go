package objectapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/store"
)

// hubRetry is how long a hub waits before watching the store again after a failure.
const hubRetry = time.Second

// errHubStopped ends the watches of a hub whose handler closed.
var errHubStopped = errors.New("object api closed")

// A hub is one kind's shared watch. However many clients watch that kind, the store is
// watched once: the hub keeps the kind's current objects (the store's own immutable copies,
// shared, never modified) and a bounded ring of recent events, and each client's watch is
// only a position in that ring plus its selector. So a watch costs a goroutine and a
// connection, not a copy of the list or an event buffer of its own, and an event is
// encoded once per representation however many watchers send it (hubEvent.encoded).
type hub struct {
	res *resource
	lw  *store.ListerWatcher
	log logr.Logger

	mu    sync.Mutex
	objs  map[string]client.Object // namespace/name -> current object
	rv    uint64                   // the resourceVersion objs reflect
	floor uint64                   // every event after this resourceVersion is in the ring
	// ring holds the last events, as many as the store keeps (store.History): a watcher that
	// falls further behind is ended with 410 Expired, as the API server ends one that falls
	// out of its watch cache, and its client watches again.
	ring  []*hubEvent
	first uint64        // seq of the oldest event in the ring
	next  uint64        // seq the next event gets
	wake  chan struct{} // closed at the next append (or stop), then replaced
	err   error         // set once the hub has stopped
}

// hubEvent is one change of the kind, shared by every watcher.
type hubEvent struct {
	seq uint64
	typ watch.EventType
	obj client.Object // the new state; for Deleted the last state
	old client.Object // the previous state, for Modified
	rv  uint64

	mu  sync.Mutex
	enc map[encKey]encoded
}

// encKey is a representation of an event on the wire: the format and the event type, which
// a watcher's selector may turn from Modified into Added or Deleted.
type encKey struct {
	f   format
	typ watch.EventType
}

type encoded struct {
	line []byte
	err  error
}

// startHub lists the kind and starts following the store from that list's resourceVersion.
func startHub(ctx context.Context, res *resource, lw *store.ListerWatcher, history int, log logr.Logger) (*hub, error) {
	h := &hub{res: res, lw: lw, log: log, objs: map[string]client.Object{}, ring: make([]*hubEvent, max(history, 1)), wake: make(chan struct{})}
	items, rv, err := h.list(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range items {
		h.objs[keyOf(o)] = o
	}
	h.rv, h.floor = rv, rv
	go h.run(ctx)
	return h, nil
}

// list reads every object of the kind and the resourceVersion they are at.
func (h *hub) list(ctx context.Context) ([]client.Object, uint64, error) {
	list, err := h.lw.ListWithContext(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, 0, err
	}
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return nil, 0, fmt.Errorf("object api: list metadata: %w", err)
	}
	rv, err := strconv.ParseUint(lm.GetResourceVersion(), 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("object api: list resourceVersion %q: %w", lm.GetResourceVersion(), err)
	}
	raw, err := meta.ExtractList(list)
	if err != nil {
		return nil, 0, fmt.Errorf("object api: list items: %w", err)
	}
	items := make([]client.Object, 0, len(raw))
	for _, o := range raw {
		if co, ok := o.(client.Object); ok {
			items = append(items, co)
		}
	}
	return items, rv, nil
}

// run follows the store until ctx ends. A store watch that ends (the hub fell behind, or the
// store cut it) is replaced by a relist whose differences become events, so the hub's
// watchers see one unbroken stream.
func (h *hub) run(ctx context.Context) {
	defer h.stop(errHubStopped)
	for ctx.Err() == nil {
		h.mu.Lock()
		from := h.rv
		h.mu.Unlock()
		w, err := h.lw.WatchWithContext(ctx, metav1.ListOptions{ResourceVersion: strconv.FormatUint(from, 10)})
		if err == nil {
			h.follow(ctx, w)
			w.Stop()
		} else if ctx.Err() == nil {
			h.log.Error(err, "object api: watch the store", "resource", h.res.plural)
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(hubRetry):
		}
		if err := h.resync(ctx); err != nil && ctx.Err() == nil {
			h.log.Error(err, "object api: relist after the store watch ended", "resource", h.res.plural)
		}
	}
}

// follow appends the store watch's events until it ends.
func (h *hub) follow(ctx context.Context, w watch.Interface) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.ResultChan():
			if !ok || e.Type == watch.Error {
				return
			}
			obj, ok := e.Object.(client.Object)
			if !ok {
				continue
			}
			rv, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
			if err != nil {
				continue
			}
			h.mu.Lock()
			h.applyLocked(e.Type, obj, rv)
			h.mu.Unlock()
		}
	}
}

// resync relists and turns every difference from what the hub holds into an event.
func (h *hub) resync(ctx context.Context) error {
	items, rv, err := h.list(ctx)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := make(map[string]bool, len(items))
	for _, o := range items {
		k := keyOf(o)
		seen[k] = true
		switch cur, ok := h.objs[k]; {
		case !ok:
			h.applyLocked(watch.Added, o, rv)
		case cur.GetResourceVersion() != o.GetResourceVersion():
			h.applyLocked(watch.Modified, o, rv)
		}
	}
	for k, o := range h.objs {
		if !seen[k] {
			h.applyLocked(watch.Deleted, o, rv)
		}
	}
	h.rv = max(h.rv, rv)
	return nil
}

// applyLocked records one change in objs and the ring and wakes the watchers.
func (h *hub) applyLocked(typ watch.EventType, obj client.Object, rv uint64) {
	k := keyOf(obj)
	old := h.objs[k]
	switch typ {
	case watch.Added, watch.Modified:
		h.objs[k] = obj
	case watch.Deleted:
		delete(h.objs, k)
	default:
		return
	}
	if typ != watch.Modified {
		old = nil
	}
	size := uint64(len(h.ring))
	slot := h.next % size
	if h.next-h.first == size {
		h.floor = h.ring[slot].rv
		h.first++
	}
	h.ring[slot] = &hubEvent{seq: h.next, typ: typ, obj: obj, old: old, rv: rv}
	h.next++
	h.rv = max(h.rv, rv)
	close(h.wake)
	h.wake = make(chan struct{})
}

// stop ends the hub: its watchers finish with err.
func (h *hub) stop(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		h.err = err
		close(h.wake)
	}
}

// stopped reports the error the hub stopped with, or nil while it runs.
func (h *hub) stopped() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// snapshot returns the current objects (shared: not to be modified), the resourceVersion
// they reflect and the seq of the first event after them.
func (h *hub) snapshot() ([]client.Object, uint64, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	objs := make([]client.Object, 0, len(h.objs))
	for _, o := range h.objs {
		objs = append(objs, o)
	}
	return objs, h.rv, h.next
}

// position returns the seq of the first event after resourceVersion rv, or 410 Expired when
// events after rv have already left the ring (or came before the hub started).
func (h *hub) position(rv uint64) (uint64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rv < h.floor {
		return 0, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", rv, h.floor))
	}
	seq := h.first
	for ; seq < h.next && h.ring[seq%uint64(len(h.ring))].rv <= rv; seq++ {
	}
	return seq, nil
}

// since appends to buf the events from seq on and returns them with a channel that is
// closed at the next event. A seq that has left the ring gets 410 Expired; a stopped hub
// returns its error once the events before it are read.
func (h *hub) since(seq uint64, buf []*hubEvent) ([]*hubEvent, <-chan struct{}, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if seq < h.first {
		return buf, nil, apierrors.NewResourceExpired(fmt.Sprintf("watch fell behind by more than %d events; watch again", len(h.ring)))
	}
	for ; seq < h.next; seq++ {
		buf = append(buf, h.ring[seq%uint64(len(h.ring))])
	}
	if len(buf) == 0 && h.err != nil {
		return buf, nil, h.err
	}
	return buf, h.wake, nil
}

// encoded returns the event's wire line for key, made by enc the first time it is asked
// for and shared by every watcher after that.
func (e *hubEvent) encoded(key encKey, enc func() ([]byte, error)) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v, ok := e.enc[key]; ok {
		return v.line, v.err
	}
	line, err := enc()
	if e.enc == nil {
		e.enc = map[encKey]encoded{}
	}
	e.enc[key] = encoded{line: line, err: err}
	return line, err
}

// translate is the event as a watcher with selector matches sees it: an object that starts
// matching is Added, one that stops matching is Deleted, as with the API server.
func (e *hubEvent) translate(matches func(client.Object) bool) (watch.EventType, bool) {
	now := matches(e.obj)
	if e.typ != watch.Modified || e.old == nil {
		return e.typ, now
	}
	was := matches(e.old)
	switch {
	case now && was:
		return watch.Modified, true
	case now:
		return watch.Added, true
	case was:
		return watch.Deleted, true
	}
	return "", false
}

func keyOf(o client.Object) string { return o.GetNamespace() + "/" + o.GetName() }
