package store

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Get reads an object straight from the store (strongly consistent: it sees every write that
// has returned). An empty namespace means v1alpha1.Namespace.
func (s *Store) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	k, err := s.kindFor(obj)
	if err != nil {
		return err
	}
	cur := s.current(k, objectKey(key.Namespace, key.Name))
	if cur == nil {
		return apierrors.NewNotFound(k.gr, key.Name)
	}
	setInto(obj, k.deepCopy(cur))
	return nil
}

// List reads objects straight from the store. It honours client.InNamespace, label selectors
// and field selectors on metadata.name and metadata.namespace. The list's resourceVersion is
// the store's, suitable for starting a watch.
func (s *Store) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	k, err := s.kindForList(list)
	if err != nil {
		return err
	}
	m, err := newMatcher(k, (&client.ListOptions{}).ApplyOptions(opts))
	if err != nil {
		return err
	}
	items, rv := s.snapshot(k, m)
	return fillList(k, list, items, rv)
}

// snapshot returns the matching immutable stored objects and the resourceVersion they are at.
func (s *Store) snapshot(k *kindInfo, m matcher) ([]client.Object, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.state[k.idx]
	items := make([]client.Object, 0, len(st.objs))
	for _, o := range st.objs {
		if m.matches(o) {
			items = append(items, o)
		}
	}
	return items, s.applied
}

// fillList deep-copies items into list and sets its resourceVersion.
func fillList(k *kindInfo, list client.ObjectList, items []client.Object, rv uint64) error {
	objs := make([]runtime.Object, len(items))
	for i, o := range items {
		objs[i] = k.deepCopy(o)
	}
	if err := meta.SetList(list, objs); err != nil {
		return fmt.Errorf("store: fill %s: %w", k.listGVK.Kind, err)
	}
	list.SetResourceVersion(formatRV(rv))
	list.SetContinue("")
	list.GetObjectKind().SetGroupVersionKind(k.listGVK)
	return nil
}

// matcher selects objects by namespace, labels and metadata fields.
type matcher struct {
	namespace string
	labels    labels.Selector // nil matches everything
	fields    fields.Selector // nil matches everything
}

// newMatcher validates list options; field selectors may only use metadata.name and
// metadata.namespace, which is what the store (not the cache's indexes) can evaluate.
func newMatcher(k *kindInfo, o *client.ListOptions) (matcher, error) {
	m := matcher{namespace: o.Namespace}
	if o.LabelSelector != nil && !o.LabelSelector.Empty() {
		m.labels = o.LabelSelector
	}
	if o.FieldSelector != nil && !o.FieldSelector.Empty() {
		for _, r := range o.FieldSelector.Requirements() {
			if r.Field != "metadata.name" && r.Field != "metadata.namespace" {
				return matcher{}, apierrors.NewBadRequest(fmt.Sprintf(
					"field label %q not supported for %s: use metadata.name or metadata.namespace", r.Field, k.gr))
			}
			if r.Operator != selection.Equals && r.Operator != selection.DoubleEquals && r.Operator != selection.NotEquals {
				return matcher{}, apierrors.NewBadRequest(fmt.Sprintf("field selector operator %q not supported", r.Operator))
			}
		}
		m.fields = o.FieldSelector
	}
	return m, nil
}

func (m matcher) matches(o client.Object) bool {
	if m.namespace != "" && o.GetNamespace() != m.namespace {
		return false
	}
	if m.labels != nil && !m.labels.Matches(labels.Set(o.GetLabels())) {
		return false
	}
	if m.fields != nil && !m.fields.Matches(objectFields{o}) {
		return false
	}
	return true
}

// objectFields exposes an object's metadata fields to a field selector without allocating.
type objectFields struct{ o client.Object }

func (f objectFields) Has(field string) bool {
	return field == "metadata.name" || field == "metadata.namespace"
}

func (f objectFields) Get(field string) string {
	switch field {
	case "metadata.name":
		return f.o.GetName()
	case "metadata.namespace":
		return f.o.GetNamespace()
	}
	return ""
}
