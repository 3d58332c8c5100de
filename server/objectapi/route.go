package objectapi

import (
	"strings"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// routeKind is what a request path addresses.
type routeKind int

const (
	routeNone          routeKind = iota // no such path
	routeCoreVersions                   // /api
	routeGroups                         // /apis
	routeGroup                          // /apis/<group>
	routeResources                      // /apis/<group>/<version>
	routeCollection                     // list or watch
	routeObject                         // get
	routeSubresource                    // e.g. containers/<name>/log
	routeNamespace                      // /api/v1/namespaces/<name>
	routeCoreResources                  // /api/v1
	routePod                            // /api/v1/namespaces/<ns>/pods/<name>: a task for kubectl exec
	routePodExec                        // /api/v1/namespaces/<ns>/pods/<name>/exec
)

// route is a parsed request path. Names are as they appear in the path; namespace is
// canonical (see canonicalNamespace).
type route struct {
	kind        routeKind
	resource    *resource
	namespace   string // "" for all namespaces or a cluster-scoped kind
	name        string
	subresource string
}

// defaultNamespace is the namespace kubectl uses when nothing is configured.
const defaultNamespace = "default"

// canonicalNamespace serves kubectl's "default" namespace as the one namespace every ecsd
// object lives in; see the package documentation.
func canonicalNamespace(ns string) string {
	if ns == defaultNamespace {
		return api.Namespace
	}
	return ns
}

// parse maps a URL path to a route. A path under the group version naming an unknown
// resource, or a namespaced form of a cluster-scoped kind (and the reverse for get), is
// routeNone: the API server answers those with 404 too.
func (h *Handler) parse(path string) route {
	path = strings.TrimSuffix(path, "/")
	switch path {
	case "/api":
		return route{kind: routeCoreVersions}
	case "/apis":
		return route{kind: routeGroups}
	case "/apis/" + api.GroupVersion.Group:
		return route{kind: routeGroup}
	case "/api/v1":
		return route{kind: routeCoreResources}
	}
	if r, ok := parsePod(path); ok {
		return r
	}
	if ns, ok := strings.CutPrefix(path, "/api/v1/namespaces/"); ok && ns != "" && !strings.Contains(ns, "/") {
		return route{kind: routeNamespace, name: ns}
	}
	prefix := "/apis/" + api.GroupVersion.String()
	if path == prefix {
		return route{kind: routeResources}
	}
	rest, ok := strings.CutPrefix(path, prefix+"/")
	if !ok {
		return route{}
	}
	parts := strings.Split(rest, "/")
	for _, p := range parts {
		if p == "" {
			return route{}
		}
	}
	namespace := ""
	if len(parts) >= 3 && parts[0] == "namespaces" {
		namespace = canonicalNamespace(parts[1])
		parts = parts[2:]
	}
	res := h.resources.byPlural(parts[0])
	if res == nil || (namespace != "" && !res.namespaced) {
		return route{}
	}
	r := route{resource: res, namespace: namespace}
	switch len(parts) {
	case 1:
		r.kind = routeCollection
	case 2:
		// A namespaced object is only addressable with its namespace.
		if res.namespaced && namespace == "" {
			return route{}
		}
		r.kind, r.name = routeObject, parts[1]
	case 3:
		if (res.namespaced && namespace == "") || !res.hasSubresource(parts[2]) {
			return route{}
		}
		r.kind, r.name, r.subresource = routeSubresource, parts[1], parts[2]
	default:
		return route{}
	}
	return r
}

// isExec reports whether the route is an exec subresource, a container's or a pod's.
func (r route) isExec() bool {
	return (r.kind == routeSubresource && r.subresource == execSubresource) || r.kind == routePodExec
}
