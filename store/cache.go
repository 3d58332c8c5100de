package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// allNamespaces is controller-runtime's key prefix for cluster-wide field index lookups; the
// index format must match controller-runtime's so client.MatchingFields behaves the same.
const allNamespaces = "__all_namespaces"

// informerCache is a controller-runtime cache.Cache over one client-go SharedIndexInformer
// per kind, each fed by the store's ListerWatcher. A SharedIndexInformer already satisfies
// cache.Informer, so informers are handed out as they are.
type informerCache struct {
	s *Store

	mu        sync.Mutex
	informers map[*kindInfo]*kindInformer
	ctx       context.Context // Start's context, once started
	started   bool
	stopped   bool
	startWait chan struct{}
	wg        sync.WaitGroup
}

type kindInformer struct {
	inf    toolscache.SharedIndexInformer
	cancel context.CancelFunc // set when running
}

var (
	_ cache.Cache    = (*informerCache)(nil)
	_ cache.Informer = toolscache.SharedIndexInformer(nil)
)

// Cache returns the store's controller-runtime cache. Informers for every kind are created at
// Start; GetInformer before Start creates them early so handlers can be registered.
func (s *Store) Cache() cache.Cache {
	s.adapters()
	return s.cache
}

// IndexField adds a field index to the cache's informer for obj's kind (see cache.Cache).
func (s *Store) IndexField(ctx context.Context, obj client.Object, field string, extract client.IndexerFunc) error {
	return s.Cache().IndexField(ctx, obj, field, extract)
}

func newInformerCache(s *Store) *informerCache {
	return &informerCache{s: s, informers: make(map[*kindInfo]*kindInformer), startWait: make(chan struct{})}
}

// informer returns the kind's informer, creating (and, once started, running) it if needed.
func (c *informerCache) informer(k *kindInfo) (*kindInformer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ki, ok := c.informers[k]
	if !ok {
		lw := &ListerWatcher{s: c.s, kind: k}
		ki = &kindInformer{inf: toolscache.NewSharedIndexInformerWithOptions(lw, k.newObject(),
			toolscache.SharedIndexInformerOptions{
				Indexers:          toolscache.Indexers{toolscache.NamespaceIndex: toolscache.MetaNamespaceIndexFunc},
				ObjectDescription: k.gvk.String(),
			})}
		c.informers[k] = ki
		if c.started {
			c.runLocked(ki)
		}
	}
	return ki, c.started
}

func (c *informerCache) runLocked(ki *kindInformer) {
	if c.stopped || ki.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	ki.cancel = cancel
	c.wg.Go(func() { ki.inf.RunWithContext(ctx) })
}

// get returns the informer for k, waiting for it to sync when the cache runs and block is set.
func (c *informerCache) get(ctx context.Context, k *kindInfo, opts []cache.InformerGetOption) (*kindInformer, bool, error) {
	o := cache.InformerGetOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	ki, started := c.informer(k)
	if started && (o.BlockUntilSynced == nil || *o.BlockUntilSynced) && !ki.inf.HasSynced() {
		select {
		case <-ki.inf.HasSyncedChecker().Done():
		case <-ctx.Done():
			return nil, started, apierrors.NewTimeoutError(fmt.Sprintf("waiting for %s informer to sync", k.gvk.Kind), 0)
		}
	}
	return ki, started, nil
}

// GetInformer returns the informer for obj's kind.
func (c *informerCache) GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error) {
	k, err := c.s.kindFor(obj)
	if err != nil {
		return nil, err
	}
	ki, _, err := c.get(ctx, k, opts)
	if err != nil {
		return nil, err
	}
	return ki.inf, nil
}

// GetInformerForKind returns the informer for gvk.
func (c *informerCache) GetInformerForKind(ctx context.Context, gvk schema.GroupVersionKind, opts ...cache.InformerGetOption) (cache.Informer, error) {
	k, err := c.s.kindForGVK(gvk)
	if err != nil {
		return nil, err
	}
	ki, _, err := c.get(ctx, k, opts)
	if err != nil {
		return nil, err
	}
	return ki.inf, nil
}

// RemoveInformer stops and forgets the informer for obj's kind.
func (c *informerCache) RemoveInformer(_ context.Context, obj client.Object) error {
	k, err := c.s.kindFor(obj)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ki, ok := c.informers[k]; ok {
		if ki.cancel != nil {
			ki.cancel()
		}
		delete(c.informers, k)
	}
	return nil
}

// Start runs an informer for every kind (and any created later) until ctx is done, then waits
// for them to stop. It can be called once.
func (c *informerCache) Start(ctx context.Context) error {
	for _, k := range c.s.kinds {
		c.informer(k)
	}
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return errors.New("store: cache already started")
	}
	c.ctx, c.started = ctx, true
	for _, ki := range c.informers {
		c.runLocked(ki)
	}
	close(c.startWait)
	c.mu.Unlock()

	<-ctx.Done()
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	c.wg.Wait()
	return nil
}

// WaitForCacheSync waits until the cache is started and every informer has synced.
func (c *informerCache) WaitForCacheSync(ctx context.Context) bool {
	select {
	case <-c.startWait:
	case <-ctx.Done():
		return false
	}
	c.mu.Lock()
	checkers := make([]toolscache.DoneChecker, 0, len(c.informers))
	for _, ki := range c.informers {
		checkers = append(checkers, ki.inf.HasSyncedChecker())
	}
	c.mu.Unlock()
	for _, ch := range checkers {
		select {
		case <-ch.Done():
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// IndexField adds a field index in controller-runtime's format, so List with
// client.MatchingFields{field: value} (optionally with client.InNamespace) uses it.
func (c *informerCache) IndexField(ctx context.Context, obj client.Object, field string, extract client.IndexerFunc) error {
	inf, err := c.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
	if err != nil {
		return err
	}
	return inf.AddIndexers(toolscache.Indexers{fieldIndexName(field): func(raw any) ([]string, error) {
		o, ok := raw.(client.Object)
		if !ok {
			return nil, fmt.Errorf("store: cannot index %T", raw)
		}
		vals := extract(o)
		out := make([]string, 0, 2*len(vals))
		for _, v := range vals {
			out = append(out, namespacedIndexKey(o.GetNamespace(), v), namespacedIndexKey("", v))
		}
		return out, nil
	}})
}

func fieldIndexName(field string) string { return "field:" + field }

func namespacedIndexKey(ns, v string) string {
	if ns == "" {
		ns = allNamespaces
	}
	return ns + "/" + v
}

// Get reads obj from the informer's indexer. It fails with cache.ErrCacheNotStarted before
// Start, like controller-runtime's cache.
func (c *informerCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	k, err := c.s.kindFor(obj)
	if err != nil {
		return err
	}
	ki, started, err := c.get(ctx, k, nil)
	if err != nil {
		return err
	}
	if !started {
		return &cache.ErrCacheNotStarted{}
	}
	item, exists, err := ki.inf.GetIndexer().GetByKey(objectKey(key.Namespace, key.Name))
	if err != nil {
		return fmt.Errorf("store: cache get: %w", err)
	}
	if !exists {
		return apierrors.NewNotFound(k.gr, key.Name)
	}
	setInto(obj, k.deepCopy(item.(client.Object)))
	return nil
}

// List reads from the informer's indexer. Field selectors use indexes added with IndexField
// (exact matches only); metadata.name and metadata.namespace work without an index.
func (c *informerCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	k, err := c.s.kindForList(list)
	if err != nil {
		return err
	}
	lo := (&client.ListOptions{}).ApplyOptions(opts)
	if lo.Continue != "" {
		return apierrors.NewBadRequest("continue is not supported by the cache")
	}
	ki, started, err := c.get(ctx, k, nil)
	if err != nil {
		return err
	}
	if !started {
		return &cache.ErrCacheNotStarted{}
	}
	indexer := ki.inf.GetIndexer()

	var (
		items []any
		rest  matcher // filters applied after the index lookup
	)
	rest.namespace, rest.labels = lo.Namespace, lo.LabelSelector
	indexed := false
	if lo.FieldSelector != nil && !lo.FieldSelector.Empty() {
		var meta []string
		for _, r := range lo.FieldSelector.Requirements() {
			if r.Operator != selection.Equals && r.Operator != selection.DoubleEquals {
				return apierrors.NewBadRequest("non-exact field matches are not supported by the cache")
			}
			if r.Field == "metadata.name" || r.Field == "metadata.namespace" {
				if _, ok := indexer.GetIndexers()[fieldIndexName(r.Field)]; !ok {
					meta = append(meta, r.Field)
					continue
				}
			}
			idx := fieldIndexName(r.Field)
			fn, ok := indexer.GetIndexers()[idx]
			if !ok {
				return apierrors.NewBadRequest(fmt.Sprintf("index with name %s does not exist", idx))
			}
			want := namespacedIndexKey(lo.Namespace, r.Value)
			if !indexed {
				if items, err = indexer.ByIndex(idx, want); err != nil {
					return fmt.Errorf("store: cache list: %w", err)
				}
				indexed = true
				continue
			}
			items = slices.DeleteFunc(items, func(o any) bool {
				vals, err := fn(o)
				return err != nil || !slices.Contains(vals, want)
			})
		}
		if len(meta) > 0 {
			rest.fields = metaFieldSelector(lo, meta)
		}
	}
	if !indexed {
		if lo.Namespace != "" {
			items, err = indexer.ByIndex(toolscache.NamespaceIndex, lo.Namespace)
		} else {
			items = indexer.List()
		}
		if err != nil {
			return fmt.Errorf("store: cache list: %w", err)
		}
	}
	if rest.labels != nil && rest.labels.Empty() {
		rest.labels = nil
	}

	out := make([]client.Object, 0, len(items))
	for _, it := range items {
		o, ok := it.(client.Object)
		if !ok || !rest.matches(o) {
			continue
		}
		if lo.Limit > 0 && int64(len(out)) >= lo.Limit {
			break
		}
		out = append(out, o)
	}
	if err := fillList(k, list, out, 0); err != nil {
		return err
	}
	list.SetResourceVersion(ki.inf.LastSyncResourceVersion())
	return nil
}

// metaFieldSelector keeps only the metadata.name/namespace requirements of lo's selector.
func metaFieldSelector(lo *client.ListOptions, keep []string) fields.Selector {
	var sels []fields.Selector
	for _, r := range lo.FieldSelector.Requirements() {
		if slices.Contains(keep, r.Field) {
			sels = append(sels, fields.OneTermEqualSelector(r.Field, r.Value))
		}
	}
	return fields.AndSelectors(sels...)
}
