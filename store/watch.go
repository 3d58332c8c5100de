package store

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// watchBuffer is how many events a watcher may lag behind, beyond a full history replay,
// before the store cuts it off. Writers never wait for watchers; a cut-off informer re-watches
// from its last resourceVersion (or relists when that fell out of the history).
const watchBuffer = 1024

// event is a committed change as kept in the history. Objects are immutable stored versions;
// they are deep-copied only when handed to a watcher's consumer.
type event struct {
	typ watch.EventType
	obj client.Object // new state; for Deleted the last state, at the deletion's resourceVersion
	old client.Object // previous state, for Modified
	rv  uint64
}

// ring is a per-kind bounded history of events. floor is the resourceVersion after which the
// history is complete: a watch from rv >= floor can be served, an older one gets 410 Gone.
type ring struct {
	buf   []event
	start int
	n     int
	floor uint64
}

func newRing(size int) ring { return ring{buf: make([]event, size)} }

func (r *ring) push(e event) {
	if r.n == len(r.buf) {
		r.floor = r.buf[r.start].rv
		r.buf[r.start] = e
		r.start = (r.start + 1) % len(r.buf)
		return
	}
	r.buf[(r.start+r.n)%len(r.buf)] = e
	r.n++
}

// since calls fn for each event after rv, oldest first.
func (r *ring) since(rv uint64, fn func(event)) {
	for i := range r.n {
		if e := r.buf[(r.start+i)%len(r.buf)]; e.rv > rv {
			fn(e)
		}
	}
}

// Watch watches one kind for changes after resourceVersion ("" or "0": from now), filtered by
// selector (nil: everything). A resourceVersion older than the kept history yields a watch
// that delivers a single 410 Gone error, which makes an informer relist. The watch ends when
// ctx is done, Stop is called, the store closes, or the consumer falls too far behind.
func (s *Store) Watch(ctx context.Context, gvk schema.GroupVersionKind, resourceVersion string, selector labels.Selector) (watch.Interface, error) {
	k, err := s.kindForGVK(gvk)
	if err != nil {
		return nil, err
	}
	m := matcher{}
	if selector != nil && !selector.Empty() {
		m.labels = selector
	}
	return s.watch(ctx, k, resourceVersion, m)
}

func (s *Store) watch(ctx context.Context, k *kindInfo, resourceVersion string, m matcher) (watch.Interface, error) {
	var from uint64
	if resourceVersion != "" && resourceVersion != "0" {
		rv, err := parseRV(resourceVersion)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", resourceVersion))
		}
		from = rv
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	st := s.state[k.idx]
	if from == 0 {
		from = s.applied
	}
	if from < st.hist.floor {
		s.mu.Unlock()
		return goneWatch(fmt.Sprintf("too old resource version: %d (%d)", from, st.hist.floor)), nil
	}
	w := &watcher{
		s:      s,
		kind:   k,
		match:  m,
		in:     make(chan watch.Event, s.history+watchBuffer),
		out:    make(chan watch.Event),
		stopCh: make(chan struct{}),
	}
	st.hist.since(from, func(e event) {
		if we, ok := w.translate(e); ok {
			w.in <- we // cannot block: capacity exceeds the history
		}
	})
	st.watchers[w] = struct{}{}
	s.mu.Unlock()

	w.stopCtx = context.AfterFunc(ctx, w.Stop)
	go w.forward()
	return w, nil
}

// publishLocked records e in the kind's history and offers it to every watcher. A watcher
// whose buffer is full is terminated rather than allowed to block the writer.
func (s *Store) publishLocked(k *kindInfo, st *kindState, e event) {
	st.hist.push(e)
	for w := range st.watchers {
		we, ok := w.translate(e)
		if !ok {
			continue
		}
		select {
		case w.in <- we:
		default:
			s.log.Info("watcher fell behind, closing it; its informer will re-watch or relist",
				"kind", k.gvk.Kind, "resourceVersion", e.rv)
			s.terminateLocked(st, w)
		}
	}
}

// terminateLocked removes w and closes its input; the forwarder delivers what is buffered and
// then closes the result channel, which a reflector treats as "watch again".
func (s *Store) terminateLocked(st *kindState, w *watcher) {
	if _, ok := st.watchers[w]; ok {
		delete(st.watchers, w)
		close(w.in)
	}
}

// watcher is one watch on one kind.
type watcher struct {
	s       *Store
	kind    *kindInfo
	match   matcher
	in      chan watch.Event // filtered events holding immutable stored objects
	out     chan watch.Event // deep-copied events for the consumer
	stopCh  chan struct{}
	once    sync.Once
	stopCtx func() bool
}

// translate filters e through the watcher's selector. As with an API server, an object that
// starts matching is Added and one that stops matching is Deleted.
func (w *watcher) translate(e event) (watch.Event, bool) {
	now := w.match.matches(e.obj)
	switch e.typ {
	case watch.Modified:
		was := w.match.matches(e.old)
		switch {
		case now && was:
			return watch.Event{Type: watch.Modified, Object: e.obj}, true
		case now:
			return watch.Event{Type: watch.Added, Object: e.obj}, true
		case was:
			return watch.Event{Type: watch.Deleted, Object: e.obj}, true
		}
		return watch.Event{}, false
	default:
		return watch.Event{Type: e.typ, Object: e.obj}, now
	}
}

// forward deep-copies events to the consumer so writers never pay for copies or wait on a
// slow reader.
func (w *watcher) forward() {
	defer w.stopCtx() // release the context hook; set before forward starts
	defer close(w.out)
	for {
		select {
		case <-w.stopCh:
			return
		case e, ok := <-w.in:
			if !ok {
				return
			}
			e.Object = w.kind.deepCopy(e.Object.(client.Object))
			select {
			case w.out <- e:
			case <-w.stopCh:
				return
			}
		}
	}
}

// Stop ends the watch; the result channel is closed shortly after.
func (w *watcher) Stop() {
	w.once.Do(func() {
		// Deregister first so that once the result channel is closed, the store no longer
		// holds the watcher. in is not closed here: the forwarder exits on stopCh.
		w.s.mu.Lock()
		delete(w.s.state[w.kind.idx].watchers, w)
		w.s.mu.Unlock()
		close(w.stopCh)
	})
}

// ResultChan returns the event channel.
func (w *watcher) ResultChan() <-chan watch.Event { return w.out }

// goneWatch is a finished watch carrying one 410 Gone error.
func goneWatch(msg string) watch.Interface {
	ch := make(chan watch.Event, 1)
	status := apierrors.NewResourceExpired(msg).ErrStatus
	ch <- watch.Event{Type: watch.Error, Object: &status}
	close(ch)
	return staticWatch(ch)
}

type staticWatch chan watch.Event

func (w staticWatch) Stop()                          {}
func (w staticWatch) ResultChan() <-chan watch.Event { return w }
