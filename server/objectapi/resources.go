package objectapi

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/ecsd/ecsd/store"
)

// logSubresource is the container output subresource `ecsctl logs` and `kubectl logs`-style
// clients read.
const logSubresource = "log"

// execSubresource runs a command in a running container (`ecsctl exec`); see exec.go.
const execSubresource = "exec"

// categories put every ecsd kind in `kubectl get ecs` and `kubectl get all`.
var categories = []string{"ecs", "all"}

// resource is one served kind: its names for discovery and how it is shown as a table.
type resource struct {
	gvk          schema.GroupVersionKind
	plural       string
	singular     string
	shortNames   []string
	namespaced   bool
	subresources []string
	table        tableDef
	// private kinds hold a task's own data (environment, command, output): their objects
	// and subresources go whole only to a caller with the token (see Options.HostCaller).
	private bool
}

func (r *resource) hasSubresource(name string) bool { return slices.Contains(r.subresources, name) }

// groupResource names the resource in API errors, as an API server would.
func (r *resource) groupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.gvk.Group, Resource: r.plural}
}

// kindExtras is what the store does not know about a kind: its short names (the ones the
// kubebuilder markers on the types declare, and a few more that clash with nothing here),
// subresources and table columns.
type kindExtras struct {
	shortNames   []string
	subresources []string
	table        tableDef
	private      bool
}

var extras = map[string]kindExtras{
	"Task":       {shortNames: []string{"t"}, table: taskTable},
	"Container":  {shortNames: []string{"c", "ctr"}, subresources: []string{logSubresource, execSubresource}, table: containerTable, private: true},
	"Image":      {shortNames: []string{"img"}, table: imageTable},
	"Attachment": {shortNames: []string{"att", "eni"}, table: attachmentTable},
	"Instance":   {shortNames: []string{"inst", "ci"}, table: instanceTable},
}

// resourceSet is every served resource, in discovery order (by plural name).
type resourceSet []*resource

func (s resourceSet) byPlural(plural string) *resource {
	for _, r := range s {
		if r.plural == plural {
			return r
		}
	}
	return nil
}

// newResources describes every kind the store holds. Names and scope come from the store's
// RESTMapper, so the API can never disagree with the store about them; a kind added to the
// store later is served with default columns until it gets its own.
func newResources(st *store.Store) (resourceSet, error) {
	mapper := st.RESTMapper()
	var out resourceSet
	for _, gvk := range st.Kinds() {
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return nil, fmt.Errorf("object api: map kind %s: %w", gvk.Kind, err)
		}
		x, ok := extras[gvk.Kind]
		if !ok {
			x.table = defaultTable
		}
		out = append(out, &resource{
			gvk:          gvk,
			plural:       m.Resource.Resource,
			singular:     strings.ToLower(gvk.Kind),
			shortNames:   x.shortNames,
			namespaced:   m.Scope.Name() == meta.RESTScopeNameNamespace,
			subresources: x.subresources,
			table:        x.table,
			private:      x.private,
		})
	}
	slices.SortFunc(out, func(a, b *resource) int { return strings.Compare(a.plural, b.plural) })
	return out, nil
}

// newObject returns an empty object of the resource's kind for a Get.
func (r *resource) newObject(scheme *runtime.Scheme) (runtime.Object, error) {
	obj, err := scheme.New(r.gvk)
	if err != nil {
		return nil, fmt.Errorf("object api: new %s: %w", r.gvk.Kind, err)
	}
	return obj, nil
}

// apiResources is the resource's discovery entries: itself and its subresources.
func (r *resource) apiResources() []metav1.APIResource {
	verbs := metav1.Verbs{"get", "list", "watch"}
	out := []metav1.APIResource{{
		Name:         r.plural,
		SingularName: r.singular,
		Namespaced:   r.namespaced,
		Kind:         r.gvk.Kind,
		Verbs:        verbs,
		ShortNames:   r.shortNames,
		Categories:   categories,
	}}
	for _, sub := range r.subresources {
		verbs := metav1.Verbs{"get"}
		if sub == execSubresource {
			verbs = metav1.Verbs{"create", "get"} // as pods/exec
		}
		out = append(out, metav1.APIResource{
			Name:       r.plural + "/" + sub,
			Namespaced: r.namespaced,
			Kind:       r.gvk.Kind,
			Verbs:      verbs,
		})
	}
	return out
}
