package objectapi

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Every object leaves through presentObject or presentList, which redact it first: there
// is no other path from the store to a response body.

// presentObject is one object in the negotiated representation: the object, a one-row
// Table, or its PartialObjectMetadata. obj must be the caller's own copy.
func (h *Handler) presentObject(rc *rowContext, f format, res *resource, obj runtime.Object) (runtime.Object, error) {
	redact(obj)
	obj.GetObjectKind().SetGroupVersionKind(res.gvk)
	switch f.shape {
	case shapeTable:
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, fmt.Errorf("object api: metadata: %w", err)
		}
		return h.table(rc, f, res, []runtime.Object{obj}, m.GetResourceVersion())
	case shapeMetadata:
		return partialMetadata(f.metaVersion, obj)
	}
	return obj, nil
}

// presentList is a list from the store in the negotiated representation. list must be the
// caller's own copy.
func (h *Handler) presentList(rc *rowContext, f format, res *resource, list runtime.Object) (runtime.Object, error) {
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, fmt.Errorf("object api: list items: %w", err)
	}
	for _, it := range items {
		redact(it)
		it.GetObjectKind().SetGroupVersionKind(res.gvk)
	}
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return nil, fmt.Errorf("object api: list metadata: %w", err)
	}
	rv := lm.GetResourceVersion()
	switch f.shape {
	case shapeTable:
		return h.table(rc, f, res, items, rv)
	case shapeMetadata:
		out := &metav1.PartialObjectMetadataList{
			TypeMeta: metav1.TypeMeta{APIVersion: metav1.GroupName + "/" + f.metaVersion, Kind: "PartialObjectMetadataList"},
			ListMeta: metav1.ListMeta{ResourceVersion: rv},
			Items:    make([]metav1.PartialObjectMetadata, 0, len(items)),
		}
		for _, it := range items {
			pom, err := partialMetadata(f.metaVersion, it)
			if err != nil {
				return nil, err
			}
			out.Items = append(out.Items, *pom)
		}
		return out, nil
	}
	// ExtractList returned pointers into list, so list holds the redacted items.
	list.GetObjectKind().SetGroupVersionKind(res.gvk.GroupVersion().WithKind(res.gvk.Kind + "List"))
	return list, nil
}
