package store

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ListerWatcher lists and watches one kind of the store for a client-go Reflector or
// SharedIndexInformer.
type ListerWatcher struct {
	s    *Store
	kind *kindInfo
}

var (
	_ toolscache.ListerWatcher            = (*ListerWatcher)(nil)
	_ toolscache.ListerWatcherWithContext = (*ListerWatcher)(nil)
)

// ListerWatcher returns the ListerWatcher for gvk.
func (s *Store) ListerWatcher(gvk schema.GroupVersionKind) (*ListerWatcher, error) {
	k, err := s.kindForGVK(gvk)
	if err != nil {
		return nil, err
	}
	return &ListerWatcher{s: s, kind: k}, nil
}

// IsWatchListSemanticsUnSupported tells client-go (v0.35+) not to use WatchList (a watch
// that streams the initial state and ends it with a bookmark): the store does not implement
// it, and without this the reflector would wait forever for that bookmark and never sync.
func (lw *ListerWatcher) IsWatchListSemanticsUnSupported() bool { return true }

// List returns the typed list of every matching object with the store's resourceVersion.
// The options' resourceVersion, limit and continue are ignored: a list is always complete
// and current.
func (lw *ListerWatcher) List(options metav1.ListOptions) (runtime.Object, error) {
	return lw.ListWithContext(context.Background(), options)
}

// ListWithContext is List with a context.
func (lw *ListerWatcher) ListWithContext(_ context.Context, options metav1.ListOptions) (runtime.Object, error) {
	m, err := lw.matcher(options)
	if err != nil {
		return nil, err
	}
	items, rv := lw.s.snapshot(lw.kind, m)
	list := lw.kind.newList()
	if err := fillList(lw.kind, list, items, rv); err != nil {
		return nil, err
	}
	return list, nil
}

// Watch watches from options.ResourceVersion.
func (lw *ListerWatcher) Watch(options metav1.ListOptions) (watch.Interface, error) {
	return lw.WatchWithContext(context.Background(), options)
}

// WatchWithContext is Watch with a context; the watch ends when ctx is done.
func (lw *ListerWatcher) WatchWithContext(ctx context.Context, options metav1.ListOptions) (watch.Interface, error) {
	m, err := lw.matcher(options)
	if err != nil {
		return nil, err
	}
	return lw.s.watch(ctx, lw.kind, options.ResourceVersion, m)
}

// Selector returns the test List and Watch apply for options' label and field selectors,
// for a caller that filters shared events itself (the object API's watch fan-out). The
// objects it is given must not be modified.
func (lw *ListerWatcher) Selector(options metav1.ListOptions) (func(client.Object) bool, error) {
	m, err := lw.matcher(options)
	if err != nil {
		return nil, err
	}
	return m.matches, nil
}

func (lw *ListerWatcher) matcher(options metav1.ListOptions) (matcher, error) {
	lo := &client.ListOptions{}
	if options.LabelSelector != "" {
		sel, err := labels.Parse(options.LabelSelector)
		if err != nil {
			return matcher{}, apierrors.NewBadRequest(err.Error())
		}
		lo.LabelSelector = sel
	}
	if options.FieldSelector != "" {
		sel, err := fields.ParseSelector(options.FieldSelector)
		if err != nil {
			return matcher{}, apierrors.NewBadRequest(err.Error())
		}
		lo.FieldSelector = sel
	}
	return newMatcher(lw.kind, lo)
}
