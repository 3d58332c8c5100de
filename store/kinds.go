package store

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// kindInfo is everything the store needs to know about one kind, computed once from the
// scheme so the write path never consults the scheme or walks struct tags.
type kindInfo struct {
	idx     int
	gvk     schema.GroupVersionKind
	listGVK schema.GroupVersionKind
	// gr names the kind in API errors (plural resource, like an API server would).
	gr       schema.GroupResource
	typ      reflect.Type // the struct type, e.g. v1alpha1.Task
	listType reflect.Type // the list struct type, e.g. v1alpha1.TaskList
	bucket   []byte
	// statusIdx is the index of the Status field, or -1 when the kind has no status.
	statusIdx int
	// specIdx lists every field that is neither TypeMeta, ObjectMeta nor Status: the part of
	// the object Update writes and whose change bumps metadata.generation.
	specIdx []int
}

var (
	typeMetaType   = reflect.TypeFor[metav1.TypeMeta]()
	objectMetaType = reflect.TypeFor[metav1.ObjectMeta]()
	listMetaType   = reflect.TypeFor[metav1.ListMeta]()
)

// discoverKinds finds every object kind of the ecsd group in the scheme that has a List kind,
// in a stable order.
func discoverKinds(scheme *runtime.Scheme, group string) ([]*kindInfo, error) {
	all := scheme.AllKnownTypes()
	var gvks []schema.GroupVersionKind
	for gvk := range all {
		if gvk.Group == group && !strings.HasSuffix(gvk.Kind, "List") {
			gvks = append(gvks, gvk)
		}
	}
	sort.Slice(gvks, func(i, j int) bool { return gvks[i].String() < gvks[j].String() })

	var kinds []*kindInfo
	for _, gvk := range gvks {
		listGVK := gvk.GroupVersion().WithKind(gvk.Kind + "List")
		listType, ok := all[listGVK]
		if !ok {
			continue // not a top-level kind (e.g. an options type)
		}
		k, err := newKindInfo(len(kinds), gvk, listGVK, all[gvk], listType)
		if err != nil {
			return nil, err
		}
		kinds = append(kinds, k)
	}
	if len(kinds) == 0 {
		return nil, fmt.Errorf("scheme has no kinds of group %q: call v1alpha1.AddToScheme first", group)
	}
	return kinds, nil
}

func newKindInfo(idx int, gvk, listGVK schema.GroupVersionKind, typ, listType reflect.Type) (*kindInfo, error) {
	if _, ok := reflect.New(typ).Interface().(client.Object); !ok {
		return nil, fmt.Errorf("kind %s: %s is not a client.Object", gvk, typ)
	}
	if _, ok := reflect.New(listType).Interface().(client.ObjectList); !ok {
		return nil, fmt.Errorf("kind %s: %s is not a client.ObjectList", listGVK, listType)
	}
	plural, _ := meta.UnsafeGuessKindToResource(gvk)
	k := &kindInfo{
		idx:       idx,
		gvk:       gvk,
		listGVK:   listGVK,
		gr:        plural.GroupResource(),
		typ:       typ,
		listType:  listType,
		bucket:    []byte(gvk.Kind + "." + gvk.Version + "." + gvk.Group),
		statusIdx: -1,
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		switch {
		case f.Type == typeMetaType || f.Type == objectMetaType:
		case f.Name == "Status":
			k.statusIdx = i
		case f.IsExported():
			k.specIdx = append(k.specIdx, i)
		}
	}
	return k, nil
}

// newObject returns a new, empty object of the kind with its GVK set.
func (k *kindInfo) newObject() client.Object {
	obj := reflect.New(k.typ).Interface().(client.Object)
	obj.GetObjectKind().SetGroupVersionKind(k.gvk)
	return obj
}

// newList returns a new, empty list of the kind with its GVK set.
func (k *kindInfo) newList() client.ObjectList {
	l := reflect.New(k.listType).Interface().(client.ObjectList)
	l.GetObjectKind().SetGroupVersionKind(k.listGVK)
	return l
}

// shallowCopy copies the struct but shares every map, slice and pointer with obj. That is safe
// only because stored objects are immutable: the copy is itself a new stored version.
func (k *kindInfo) shallowCopy(obj client.Object) client.Object {
	p := reflect.New(k.typ)
	p.Elem().Set(reflect.ValueOf(obj).Elem())
	return p.Interface().(client.Object)
}

// deepCopy returns an independent copy of obj with its GVK set.
func (k *kindInfo) deepCopy(obj client.Object) client.Object {
	out := obj.DeepCopyObject().(client.Object)
	out.GetObjectKind().SetGroupVersionKind(k.gvk)
	return out
}

// copyStatus sets dst's status to src's (shared, see shallowCopy).
func (k *kindInfo) copyStatus(dst, src client.Object) {
	if k.statusIdx < 0 {
		return
	}
	reflect.ValueOf(dst).Elem().Field(k.statusIdx).Set(reflect.ValueOf(src).Elem().Field(k.statusIdx))
}

// statusEqual reports whether a and b have semantically equal status.
func (k *kindInfo) statusEqual(a, b client.Object) bool {
	if k.statusIdx < 0 {
		return true
	}
	return equality.Semantic.DeepEqual(
		reflect.ValueOf(a).Elem().Field(k.statusIdx).Interface(),
		reflect.ValueOf(b).Elem().Field(k.statusIdx).Interface())
}

// specEqual reports whether a and b agree on everything but metadata and status.
func (k *kindInfo) specEqual(a, b client.Object) bool {
	av, bv := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for _, i := range k.specIdx {
		if !equality.Semantic.DeepEqual(av.Field(i).Interface(), bv.Field(i).Interface()) {
			return false
		}
	}
	return true
}

// key is the store key of an object: namespace/name, like client-go's MetaNamespaceKeyFunc.
func objectKey(namespace, name string) string {
	return defaultNamespace(namespace) + "/" + name
}

// defaultNamespace maps the empty namespace to v1alpha1.Namespace. Every ecsd kind is
// namespaced and lives in that one namespace, so an empty namespace can only mean it.
func defaultNamespace(ns string) string {
	if ns == "" {
		return v1alpha1.Namespace
	}
	return ns
}
