package tmds

import (
	"context"
	"fmt"
	"net/http"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/server/metadata"
)

// Lookup failure texts of v3/v4 (the reference agent's wording, kept byte for byte).
func taskLookupFailure(id string) string {
	return "unable to get task arn from request: unable to get task Arn from v3 endpoint ID: " + id
}

func containerLookupFailure(id string) string {
	return "unable to get container ID from request: unable to get docker ID from v3 endpoint ID: " + id
}

// endpointTarget is what an endpoint ID resolves to.
type endpointTarget struct {
	c *api.Container // nil when the ID names no container: the task lookup failed
	v *metadata.TaskView
	// taskErr is set when the container is known but its task could not be read.
	taskErr error
}

// created reports whether the endpoint's container has a runtime ID: the reference agent
// maps an endpoint ID to a Docker ID only from then on.
func (t endpointTarget) created() bool { return t.c != nil && metadata.Created(t.c) }

// taskARN is the task's ARN as far as it is known.
func (t endpointTarget) taskARN() string {
	if t.v != nil {
		return t.v.Task.Spec.ARN
	}
	if t.c != nil {
		return t.c.Labels[api.LabelTaskARN]
	}
	return ""
}

// resolve reads the container with endpoint ID id and its task. The container in the result
// is the one from the task view, so both come from the same reads.
func (h *handler) resolve(ctx context.Context, id string) endpointTarget {
	c, err := metadata.ContainerByEndpointID(ctx, h.o.Reader, id)
	if err != nil {
		h.logLookup(err, "endpoint", id)
		return endpointTarget{}
	}
	v, err := metadata.LoadTask(ctx, h.o.Reader, c.Spec.TaskName)
	if err != nil {
		h.logLookup(err, "task", c.Spec.TaskName)
		return endpointTarget{c: c, taskErr: err}
	}
	for _, vc := range v.Containers {
		if vc.Name == c.Name {
			return endpointTarget{c: vc, v: v}
		}
	}
	return endpointTarget{c: c, taskErr: fmt.Errorf("container %s: %w", c.Name, metadata.ErrNotFound)}
}

// endpointContainer answers /v3/<id> and /v4/<id>.
func (h *handler) endpointContainer(w http.ResponseWriter, r *http.Request, ver int, id string) {
	t := h.resolve(r.Context(), id)
	if !t.created() {
		if ver == 3 {
			writeError(w, http.StatusInternalServerError, "V3 container metadata handler: "+containerLookupFailure(id))
		} else {
			writeError(w, http.StatusNotFound, "V4 container metadata handler: "+containerLookupFailure(id))
		}
		return
	}
	if t.taskErr != nil {
		if ver == 3 {
			writeError(w, http.StatusInternalServerError, fmt.Sprintf("Unable to generate metadata for container '%s'", t.c.Status.RuntimeID))
		} else {
			writeError(w, http.StatusInternalServerError, fmt.Sprintf("unable to generate metadata for container '%s'", t.c.Status.RuntimeID))
		}
		return
	}
	o := docOptions{v4: ver == 4, runtimeNetworks: true}
	writeJSON(w, http.StatusOK, h.containerResponse(t.v, t.c, h.o.instance(), o))
}

// endpointTask answers /vN/<id>/task and /vN/<id>/taskWithTags.
func (h *handler) endpointTask(w http.ResponseWriter, r *http.Request, ver int, id string, withTags bool) {
	t := h.resolve(r.Context(), id)
	switch {
	case t.c == nil && ver == 3:
		writeError(w, http.StatusInternalServerError, "V3 task metadata handler: "+taskLookupFailure(id))
		return
	case t.c == nil:
		writeError(w, http.StatusNotFound, "V4 task metadata handler: "+taskLookupFailure(id))
		return
	case t.taskErr != nil && ver == 3:
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("Unable to generate metadata for task: '%s'", t.taskARN()))
		return
	case t.taskErr != nil:
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("Unable to generate metadata for v4 task: '%s'", t.taskARN()))
		return
	}
	o := docOptions{v4: ver == 4, runtimeNetworks: true, withTags: withTags}
	writeJSON(w, http.StatusOK, h.taskResponse(r.Context(), t.v, h.o.instance(), o))
}

// endpointContainerStats answers /vN/<id>/stats. v3 failures are 400s, v4 lookup failures
// 404 and a missing sample 500, as in the reference agent.
func (h *handler) endpointContainerStats(w http.ResponseWriter, r *http.Request, ver int, id string) {
	t := h.resolve(r.Context(), id)
	prefix, lookupStatus, fetchStatus := "V3 container stats handler: ", http.StatusBadRequest, http.StatusBadRequest
	if ver == 4 {
		prefix, lookupStatus, fetchStatus = "V4 container stats handler: ", http.StatusNotFound, http.StatusInternalServerError
	}
	switch {
	case t.c == nil:
		writeError(w, lookupStatus, prefix+taskLookupFailure(id))
		return
	case !t.created():
		writeError(w, lookupStatus, prefix+containerLookupFailure(id))
		return
	}
	doc, ok := h.containerStats(t.c, ver == 4)
	if !ok {
		writeError(w, fetchStatus, "Unable to get container stats for: "+t.c.Status.RuntimeID)
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

// endpointTaskStats answers /vN/<id>/task/stats.
func (h *handler) endpointTaskStats(w http.ResponseWriter, r *http.Request, ver int, id string) {
	t := h.resolve(r.Context(), id)
	prefix, lookupStatus, fetchStatus := "V3 task stats handler: ", http.StatusBadRequest, http.StatusBadRequest
	if ver == 4 {
		prefix, lookupStatus, fetchStatus = "V4 task stats handler: ", http.StatusNotFound, http.StatusInternalServerError
	}
	switch {
	case t.c == nil:
		writeError(w, lookupStatus, prefix+taskLookupFailure(id))
		return
	case t.taskErr != nil:
		writeError(w, fetchStatus, "Unable to get task stats for: "+t.taskARN())
		return
	}
	writeJSON(w, http.StatusOK, h.taskStats(t.v, ver == 4))
}
