package objectapi

import (
	"context"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// `kubectl exec` knows pods only: it maps "pods" through core v1 discovery, reads the pod
// to pick the container and refuse a completed one, then opens pods/<name>/exec. So the
// object API serves each task as a minimal core v1 Pod named by its task ID, with one
// container per task container, and that pod's exec subresource, which is the container
// object's. Nothing else of core v1 is served: no list, no watch, no other kind. Pods hold
// a task's container names and images, so, like container objects, they need the token.

var podsResource = schema.GroupResource{Resource: "pods"}

// coreResourceList is /api/v1.
func coreResourceList() *metav1.APIResourceList {
	return &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: "v1",
		APIResources: []metav1.APIResource{
			{Name: "pods", SingularName: "pod", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get"}},
			{Name: "pods/exec", Namespaced: true, Kind: "PodExecOptions", Verbs: metav1.Verbs{"create", "get"}},
		},
	}
}

// parsePod routes /api/v1/namespaces/<ns>/pods/<name>[/exec].
func parsePod(path string) (route, bool) {
	rest, ok := strings.CutPrefix(path, "/api/v1/namespaces/")
	if !ok {
		return route{}, false
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 3 || len(parts) > 4 || parts[1] != "pods" || parts[0] == "" || parts[2] == "" {
		return route{}, false
	}
	r := route{kind: routePod, namespace: canonicalNamespace(parts[0]), name: parts[2]}
	if len(parts) == 4 {
		if parts[3] != execSubresource {
			return route{}, false
		}
		r.kind, r.subresource = routePodExec, execSubresource
	}
	return r, true
}

// podObject is the part of a core v1 Pod kubectl exec reads, written out by hand as
// namespace.go explains.
type podObject struct {
	Kind       string            `json:"kind"`
	APIVersion string            `json:"apiVersion"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		Containers []podContainer `json:"containers"`
	} `json:"spec"`
	Status struct {
		Phase string `json:"phase"`
	} `json:"status"`
}

type podContainer struct {
	Name  string `json:"name"`
	Image string `json:"image,omitempty"`
}

// servePod answers a task as a Pod.
func (h *Handler) servePod(ctx context.Context, w http.ResponseWriter, rt route) {
	if rt.namespace != api.Namespace {
		writeStatus(w, apierrors.NewNotFound(podsResource, rt.name))
		return
	}
	t := &api.Task{}
	if err := h.o.Store.Get(ctx, client.ObjectKey{Namespace: rt.namespace, Name: rt.name}, t); err != nil {
		if apierrors.IsNotFound(err) {
			err = apierrors.NewNotFound(podsResource, rt.name)
		}
		h.fail(w, err)
		return
	}
	p := podObject{Kind: "Pod", APIVersion: "v1"}
	p.Metadata = metav1.ObjectMeta{Name: t.Name, Namespace: t.Namespace, UID: t.UID,
		CreationTimestamp: t.CreationTimestamp, ResourceVersion: t.ResourceVersion}
	failed := false
	for _, name := range t.Spec.Containers {
		pc := podContainer{Name: name}
		c := &api.Container{}
		if err := h.o.Store.Get(ctx, client.ObjectKey{Namespace: t.Namespace, Name: api.ContainerName(t.Name, name)}, c); err == nil {
			pc.Image = c.Spec.Image
			failed = failed || (c.Status.ExitCode != nil && *c.Status.ExitCode != 0)
		}
		p.Spec.Containers = append(p.Spec.Containers, pc)
	}
	switch {
	case t.Status.KnownStatus == api.TaskStatusRunning:
		p.Status.Phase = "Running"
	case t.Status.KnownStatus.AtLeast(api.TaskStatusStopped) && failed:
		p.Status.Phase = "Failed"
	case t.Status.KnownStatus.AtLeast(api.TaskStatusStopped):
		p.Status.Phase = "Succeeded"
	default:
		p.Status.Phase = "Pending"
	}
	writeJSON(w, http.StatusOK, p)
}

// servePodExec is the exec subresource of the task's container named by the container
// parameter (kubectl always sends it).
func (h *Handler) servePodExec(ctx context.Context, w http.ResponseWriter, r *http.Request, rt route) {
	name := r.URL.Query().Get("container")
	if name == "" {
		writeStatus(w, apierrors.NewBadRequest("exec in a task needs its container (the query parameter container, kubectl's -c)"))
		return
	}
	h.serveExec(ctx, w, r, client.ObjectKey{Namespace: rt.namespace, Name: api.ContainerName(rt.name, name)})
}
