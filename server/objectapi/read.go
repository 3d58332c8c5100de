package objectapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// serveObject answers a get.
func (h *Handler) serveObject(ctx context.Context, w http.ResponseWriter, r *http.Request, rt route) {
	f, err := negotiate(r.Header.Get("Accept"), r.URL.Query().Get("includeObject"))
	if err != nil {
		h.fail(w, err)
		return
	}
	obj, err := rt.resource.newObject(h.o.Store.Scheme())
	if err != nil {
		h.fail(w, err)
		return
	}
	co, ok := obj.(client.Object)
	if !ok {
		h.fail(w, fmt.Errorf("object api: %T is not a client.Object", obj))
		return
	}
	if err := h.o.Store.Get(ctx, client.ObjectKey{Namespace: rt.namespace, Name: rt.name}, co); err != nil {
		h.fail(w, err)
		return
	}
	out, err := h.presentObject(h.newRowContext(ctx), f, rt.resource, obj)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// serveCollection answers a list, or a watch when the query says watch=true.
func (h *Handler) serveCollection(ctx context.Context, w http.ResponseWriter, r *http.Request, rt route) {
	q := r.URL.Query()
	f, err := negotiate(r.Header.Get("Accept"), q.Get("includeObject"))
	if err != nil {
		h.fail(w, err)
		return
	}
	opts, err := listOptions(q, rt.namespace)
	if err != nil {
		h.fail(w, err)
		return
	}
	watching, err := boolParam(q, "watch")
	if err != nil {
		h.fail(w, err)
		return
	}
	if watching {
		h.serveWatch(ctx, w, q, rt, f, opts)
		return
	}
	lw, err := h.o.Store.ListerWatcher(rt.resource.gvk)
	if err != nil {
		h.fail(w, err)
		return
	}
	list, err := lw.ListWithContext(ctx, opts)
	if err != nil {
		h.fail(w, err)
		return
	}
	out, err := h.presentList(h.newRowContext(ctx), f, rt.resource, list)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// listOptions are the store's list and watch options for a request: its selectors, with
// the path's namespace as one more field requirement, and its resourceVersion. limit and
// continue are dropped: the store always answers with the complete list, which a client
// asking for chunks handles as a last chunk.
func listOptions(q url.Values, namespace string) (metav1.ListOptions, error) {
	sel, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		return metav1.ListOptions{}, apierrors.NewBadRequest(fmt.Sprintf("invalid fieldSelector: %v", err))
	}
	if namespace != "" {
		sel = fields.AndSelectors(sel, fields.OneTermEqualSelector("metadata.namespace", namespace))
	}
	return metav1.ListOptions{
		LabelSelector:   q.Get("labelSelector"),
		FieldSelector:   sel.String(),
		ResourceVersion: q.Get("resourceVersion"),
	}, nil
}

// boolParam reads a boolean query parameter ("true", "1", "false", "0", ...); absent is
// false.
func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, apierrors.NewBadRequest(fmt.Sprintf("invalid %s %q: want true or false", name, v))
	}
	return b, nil
}
