package store

import (
	"context"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// op is one object's part of a write. fn computes the next state from the current stored one
// (nil when absent) while the store is locked and the key is not being written by anyone else.
// Returning cur itself means "nothing to do"; remove deletes the object. fn may mutate only
// objects it owns (its own deep copy of the caller's input, or a shallow copy of cur).
type op struct {
	kind *kindInfo
	key  string
	fn   func(cur client.Object) (next client.Object, remove bool, err error)
	// out, when set, receives a deep copy of the resulting object (like a real client
	// decoding the API server's response into the caller's object).
	out client.Object
	// observed marks a status write: observed state the agent can derive again from the
	// runtime, which does not wait for fsync (see lazySyncDelay).
	observed bool
}

// change is one object's transition, as persisted and as published to watchers.
type change struct {
	kind *kindInfo
	key  string
	old  client.Object // nil when the object is created
	obj  client.Object // nil when the object is removed
	rv   uint64
}

// pendingWrite is a write whose resourceVersions are assigned and whose persistence is in
// progress or finished; it becomes visible when every earlier pending write has.
type pendingWrite struct {
	changes []change
	done    bool  // persistence finished
	err     error // persistence error: the write is discarded
	// durable is set by the committer, under Store.mu, once the write is in the file: from
	// then on a checkpoint rebuilt from memory must include it, visible or not yet.
	durable bool
	visible bool // applied (or discarded) and removed from Store.pending
}

// commit runs ops as one all-or-nothing write: every fn succeeds and every change is persisted
// in one bbolt transaction, or nothing changes. It returns once the write is durable and
// visible to Get/List; watchers are notified before it returns.
func (s *Store) commit(ctx context.Context, ops []op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	for {
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		if !s.anyInflightLocked(ops) {
			break
		}
		// Another write to one of our keys is being persisted; its outcome decides what we
		// validate against, so wait for it rather than build on state that may be discarded.
		s.cond.Wait()
	}

	results := make([]client.Object, len(ops))
	var changes []change
	for i, o := range ops {
		cur := s.state[o.kind.idx].objs[o.key]
		next, remove, err := o.fn(cur)
		if err != nil {
			s.mu.Unlock()
			return err
		}
		switch {
		case remove:
			changes = append(changes, change{kind: o.kind, key: o.key, old: cur})
		case next == cur:
			results[i] = cur
		default:
			changes = append(changes, change{kind: o.kind, key: o.key, old: cur, obj: next})
			results[i] = next
		}
	}
	for i := range changes {
		s.rv++
		changes[i].rv = s.rv
		if changes[i].obj != nil {
			changes[i].obj.SetResourceVersion(formatRV(s.rv))
		}
	}

	if len(changes) == 0 || !s.durable {
		s.applyLocked(changes)
		s.mu.Unlock()
		handOut(ops, results)
		return nil
	}

	p := &pendingWrite{changes: changes}
	s.pending = append(s.pending, p)
	for _, c := range changes {
		s.inflight[inflightKey{c.kind, c.key}] = struct{}{}
	}
	s.writers.Add(1)
	s.mu.Unlock()

	lazy := true
	for _, o := range ops {
		lazy = lazy && o.observed
	}
	err := s.persist(p, changes, lazy)

	s.mu.Lock()
	p.done, p.err = true, err
	s.drainLocked()
	for !p.visible {
		s.cond.Wait()
	}
	s.mu.Unlock()
	s.writers.Done()
	if err != nil {
		return err
	}
	handOut(ops, results)
	return nil
}

func (s *Store) anyInflightLocked(ops []op) bool {
	if len(s.inflight) == 0 {
		return false
	}
	for _, o := range ops {
		if _, ok := s.inflight[inflightKey{o.kind, o.key}]; ok {
			return true
		}
	}
	return false
}

// drainLocked makes the finished prefix of pending writes visible, in resourceVersion order.
func (s *Store) drainLocked() {
	n := 0
	for _, p := range s.pending {
		if !p.done {
			break
		}
		if p.err == nil {
			s.applyLocked(p.changes)
		}
		for _, c := range p.changes {
			delete(s.inflight, inflightKey{c.kind, c.key})
		}
		p.visible = true
		n++
	}
	if n == 0 {
		return
	}
	clear(s.pending[:n])
	s.pending = s.pending[n:]
	s.cond.Broadcast()
}

// applyLocked makes changes visible and publishes their events.
func (s *Store) applyLocked(changes []change) {
	for _, c := range changes {
		st := s.state[c.kind.idx]
		ev := event{rv: c.rv}
		switch {
		case c.obj == nil:
			delete(st.objs, c.key)
			// Like an API server, the deleted object carries the deletion's resourceVersion
			// so a watcher's last-seen version keeps moving forward.
			last := c.kind.shallowCopy(c.old)
			last.SetResourceVersion(formatRV(c.rv))
			ev.typ, ev.obj = watch.Deleted, last
		case c.old == nil:
			st.objs[c.key] = c.obj
			ev.typ, ev.obj = watch.Added, c.obj
		default:
			st.objs[c.key] = c.obj
			ev.typ, ev.obj, ev.old = watch.Modified, c.obj, c.old
		}
		s.applied = c.rv
		s.publishLocked(c.kind, st, ev)
	}
}

// handOut copies each op's result into the caller's object. Results are immutable stored
// objects, so this runs without the lock.
func handOut(ops []op, results []client.Object) {
	for i, o := range ops {
		if o.out != nil && results[i] != nil {
			setInto(o.out, o.kind.deepCopy(results[i]))
		}
	}
}
