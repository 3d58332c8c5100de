package tmds

import (
	"fmt"
	"net/http"
)

// associations answers /vN/<id>/associations/<type>. ecsd has no GPU or elastic-inference
// associations, so a resolvable container always has none of any type.
func (h *handler) associations(w http.ResponseWriter, r *http.Request, ver int, id, _ string) {
	prefix := fmt.Sprintf("V%d container associations handler: ", ver)
	t := h.resolve(r.Context(), id)
	switch {
	case !t.created():
		writeError(w, http.StatusBadRequest, prefix+"unable to get container id from request: unable to get docker ID from v3 endpoint ID: "+id)
		return
	case t.taskErr != nil:
		writeError(w, http.StatusBadRequest, prefix+taskLookupFailure(id))
		return
	}
	writeJSON(w, http.StatusOK, AssociationsResponse{Associations: []string{}})
}

// association answers /vN/<id>/associations/<type>/<name>; an empty name (a trailing
// slash) is a bad request, as is every name since there are no associations.
func (h *handler) association(w http.ResponseWriter, r *http.Request, ver int, id, typ, name string) {
	prefix := fmt.Sprintf("V%d container associations handler: ", ver)
	t := h.resolve(r.Context(), id)
	switch {
	case t.c == nil || t.taskErr != nil:
		writeError(w, http.StatusBadRequest, prefix+taskLookupFailure(id))
	case name == "":
		writeError(w, http.StatusBadRequest, prefix+"unable to get association name from request")
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf(
			"Unable to write container association response: unable to get association from association type %s and association name %s", typ, name))
	}
}
