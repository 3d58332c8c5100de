package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	bolt "go.etcd.io/bbolt"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("store: closed")

// Store is the authoritative store of every ecsd object. It is safe for concurrent use.
type Store struct {
	scheme  *runtime.Scheme
	log     logr.Logger
	history int
	kinds   []*kindInfo
	byType  map[reflect.Type]*kindInfo // object struct type -> kind
	byList  map[reflect.Type]*kindInfo // list struct type -> kind
	byGVK   map[schema.GroupVersionKind]*kindInfo
	mapper  meta.RESTMapper

	// durable is set, once, when the store has a checkpoint; it never changes afterwards.
	durable bool
	// db is the checkpoint, nil for a memory-only store. Once the committer runs, only the
	// committer touches it (it may replace it, see rebuildCheckpoint), and Close after it.
	db            *bolt.DB
	path          string
	space         *reserve // room kept in the checkpoint file for a full disk (reserve.go)
	commitCh      chan *commitReq
	committerDone chan struct{}
	// unsynced is set while lazy commits wait for their fsync (written by the committer).
	unsynced    atomic.Bool
	now         func() time.Time
	keepCorrupt int

	// mu guards everything below; cond (on mu) wakes writers waiting for an in-flight key or
	// for their batch to become visible.
	mu   sync.RWMutex
	cond *sync.Cond
	// rv is the last resourceVersion handed out; applied is the last one made visible. They
	// differ only while writes are being persisted.
	rv, applied uint64
	state       []*kindState // by kindInfo.idx
	// pending holds persisted-or-persisting writes in resourceVersion order; they become
	// visible strictly in that order so watchers never see resourceVersions go backwards.
	pending  []*pendingWrite
	inflight map[inflightKey]struct{}
	// memMeta holds GetMeta/PutMeta values: all of them for a memory-only store, those
	// known durable for a checkpointed one.
	memMeta map[string]string
	// quarantined holds the checkpoint's quarantined records (bucket/key → raw value), so a
	// checkpoint rebuilt from memory keeps them for diagnosis.
	quarantined map[string][]byte
	// recoveries lists the damaged checkpoints moved aside (at open and while running).
	recoveries []Recovery
	closed     bool
	writers    sync.WaitGroup // writers between pending and visible; Close waits for them

	adaptersOnce sync.Once
	cache        *informerCache
	client       *storeClient
	direct       *storeClient
}

// kindState is the mutable per-kind state, guarded by Store.mu.
type kindState struct {
	objs     map[string]client.Object // key -> immutable stored object
	hist     ring
	watchers map[*watcher]struct{}
}

type inflightKey struct {
	kind *kindInfo
	key  string
}

// New returns a store for the ecsd kinds registered in scheme (group ecs.ecsd.io). With
// WithCheckpoint it loads the checkpoint first; undecodable records are quarantined, and a
// damaged file is moved aside (see Recoveries) so the store starts empty: neither is fatal.
func New(ctx context.Context, scheme *runtime.Scheme, opts ...Option) (*Store, error) {
	o := options{log: logr.Discard(), history: DefaultHistory, now: time.Now, keepCorrupt: DefaultKeepCorrupt}
	for _, opt := range opts {
		opt(&o)
	}
	kinds, err := discoverKinds(scheme, v1alpha1.GroupVersion.Group)
	if err != nil {
		return nil, err
	}
	s := &Store{
		scheme:      scheme,
		log:         o.log,
		history:     o.history,
		kinds:       kinds,
		byType:      make(map[reflect.Type]*kindInfo, len(kinds)),
		byList:      make(map[reflect.Type]*kindInfo, len(kinds)),
		byGVK:       make(map[schema.GroupVersionKind]*kindInfo, len(kinds)),
		inflight:    make(map[inflightKey]struct{}),
		memMeta:     make(map[string]string),
		quarantined: make(map[string][]byte),
		now:         o.now,
		keepCorrupt: o.keepCorrupt,
	}
	s.cond = sync.NewCond(&s.mu)
	var gvs []schema.GroupVersion
	for _, k := range kinds {
		s.byType[k.typ] = k
		s.byList[k.listType] = k
		s.byGVK[k.gvk] = k
		s.state = append(s.state, &kindState{
			objs:     make(map[string]client.Object),
			hist:     newRing(o.history),
			watchers: make(map[*watcher]struct{}),
		})
		gvs = append(gvs, k.gvk.GroupVersion())
	}
	mapper := meta.NewDefaultRESTMapper(gvs)
	for _, k := range kinds {
		mapper.Add(k.gvk, meta.RESTScopeNamespace)
	}
	s.mapper = mapper

	// A fresh store starts at resourceVersion 1 so that no list ever reports "0", which a
	// watch would read as "from now" and so could miss a write between list and watch.
	s.rv = 1
	if o.checkpoint != "" {
		size := int64(DefaultCheckpointReserve)
		if o.reserve != nil {
			size = *o.reserve
		}
		s.space = newReserve(size, o.checkpoint, o.log)
		if err := s.openCheckpoint(ctx, o.checkpoint); err != nil {
			return nil, err
		}
	}
	s.applied = s.rv
	for _, st := range s.state {
		st.hist.floor = s.rv
	}
	return s, nil
}

// Close stops accepting writes, waits for writes in flight, ends every watch and closes the
// checkpoint. Reads of a closed store keep working on the last state.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()

	s.writers.Wait()

	s.mu.Lock()
	for _, st := range s.state {
		for w := range st.watchers {
			s.terminateLocked(st, w)
		}
	}
	s.mu.Unlock()

	if !s.durable {
		return nil
	}
	close(s.commitCh)
	<-s.committerDone
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close checkpoint: %w", err)
	}
	return nil
}

// Scheme returns the scheme the store was built with.
func (s *Store) Scheme() *runtime.Scheme { return s.scheme }

// RESTMapper maps the store's kinds to their (namespaced, plural lowercase) resources.
func (s *Store) RESTMapper() meta.RESTMapper { return s.mapper }

// Kinds returns the GroupVersionKinds the store holds.
func (s *Store) Kinds() []schema.GroupVersionKind {
	out := make([]schema.GroupVersionKind, len(s.kinds))
	for i, k := range s.kinds {
		out[i] = k.gvk
	}
	return out
}

// ResourceVersion returns the store's current resourceVersion: every write visible now has a
// resourceVersion at most this, and every later write has a larger one.
func (s *Store) ResourceVersion() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return strconv.FormatUint(s.applied, 10)
}

// History returns how many watch events the store keeps per kind (WithHistory): how far back
// a watch can start. Caches of the store's events in front of it keep as many, so that a
// resourceVersion the store would serve is served by them too.
func (s *Store) History() int { return s.history }

// kindFor returns the kind of a typed object.
func (s *Store) kindFor(obj runtime.Object) (*kindInfo, error) {
	t := reflect.TypeOf(obj)
	if t != nil && t.Kind() == reflect.Pointer {
		if k, ok := s.byType[t.Elem()]; ok {
			return k, nil
		}
	}
	return nil, s.noKind(obj)
}

// kindForList returns the item kind of a typed list.
func (s *Store) kindForList(list runtime.Object) (*kindInfo, error) {
	t := reflect.TypeOf(list)
	if t != nil && t.Kind() == reflect.Pointer {
		if k, ok := s.byList[t.Elem()]; ok {
			return k, nil
		}
	}
	return nil, s.noKind(list)
}

// kindForGVK returns the kind for a GroupVersionKind.
func (s *Store) kindForGVK(gvk schema.GroupVersionKind) (*kindInfo, error) {
	if k, ok := s.byGVK[gvk]; ok {
		return k, nil
	}
	return nil, &meta.NoKindMatchError{GroupKind: gvk.GroupKind(), SearchedVersions: []string{gvk.Version}}
}

// noKind explains why obj is not a stored kind, with the error types callers test for.
func (s *Store) noKind(obj runtime.Object) error {
	gvk, err := apiutil.GVKForObject(obj, s.scheme)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return &meta.NoKindMatchError{GroupKind: gvk.GroupKind(), SearchedVersions: []string{gvk.Version}}
}

// setInto overwrites *dst with *src (same type); used to hand results back to callers.
func setInto(dst, src client.Object) {
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
}

func formatRV(rv uint64) string { return strconv.FormatUint(rv, 10) }

func parseRV(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }
