package tmds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/server/metadata"
)

// v2Caller finds the caller's task by the request's source address. Without an ARN the
// error completes "Unable to get task arn from request: "; with one the task was found but
// could not be read.
func (h *handler) v2Caller(ctx context.Context, r *http.Request) (v *metadata.TaskView, arn string, err error) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return nil, "", fmt.Errorf("unable to parse request's ip address: %w", err)
	}
	ip, err := remoteAddr(r)
	if err != nil {
		return nil, "", fmt.Errorf("unable to parse request's ip address: %w", err)
	}
	name, arn, err := h.taskByAddr(ctx, ip)
	if err != nil {
		h.logLookup(err, "source", host)
		return nil, "", fmt.Errorf("unable to associate '%s' with task", host)
	}
	// The task may go away between the two reads; the caller then gets the "generate
	// metadata" failure for its ARN.
	if v, err = metadata.LoadTask(ctx, h.o.Reader, name); err != nil {
		return nil, arn, err
	}
	return v, arn, nil
}

// logLookup logs a failed lookup that was not a plain "not found".
func (h *handler) logLookup(err error, kv ...any) {
	if !errors.Is(err, metadata.ErrNotFound) {
		h.log.Error(err, "task metadata lookup failed", kv...)
	}
}

// v2CallerOrFail resolves the caller and writes the v2 error itself when it cannot.
func (h *handler) v2CallerOrFail(w http.ResponseWriter, r *http.Request, failure string) *metadata.TaskView {
	v, arn, err := h.v2Caller(r.Context(), r)
	switch {
	case err == nil:
		return v
	case arn == "":
		writeError(w, http.StatusBadRequest, "Unable to get task arn from request: "+err.Error())
	default:
		h.logLookup(err, "task", arn)
		writeError(w, http.StatusBadRequest, fmt.Sprintf(failure, arn))
	}
	return nil
}

// v2Task answers /v2/metadata and /v2/metadataWithTags.
func (h *handler) v2Task(w http.ResponseWriter, r *http.Request, withTags bool) {
	v := h.v2CallerOrFail(w, r, "Unable to generate metadata for task: '%s'")
	if v == nil {
		return
	}
	writeJSON(w, http.StatusOK, h.taskResponse(r.Context(), v, h.o.instance(), docOptions{withTags: withTags}))
}

// v2Container answers /v2/metadata/<dockerId> for a container of the caller's own task.
func (h *handler) v2Container(w http.ResponseWriter, r *http.Request, id string) {
	v := h.v2CallerOrFail(w, r, "Unable to generate metadata for task: '%s'")
	if v == nil {
		return
	}
	c := containerByRuntimeID(v, id)
	if c == nil {
		writeError(w, http.StatusBadRequest, "Unable to generate metadata for container '"+id+"'")
		return
	}
	writeJSON(w, http.StatusOK, h.containerResponse(v, c, h.o.instance(), docOptions{runtimeNetworks: true}))
}

// v2TaskStats answers /v2/stats.
func (h *handler) v2TaskStats(w http.ResponseWriter, r *http.Request) {
	v := h.v2CallerOrFail(w, r, "Unable to get task stats for: %s")
	if v == nil {
		return
	}
	writeJSON(w, http.StatusOK, h.taskStats(v, false))
}

// v2ContainerStats answers /v2/stats/<dockerId> for a container of the caller's own task.
func (h *handler) v2ContainerStats(w http.ResponseWriter, r *http.Request, id string) {
	v := h.v2CallerOrFail(w, r, "Unable to get task stats for: %s")
	if v == nil {
		return
	}
	msg := "Unable to get container stats for: " + id
	c := containerByRuntimeID(v, id)
	if c == nil {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	doc, ok := h.containerStats(c, false)
	if !ok {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

// containerByRuntimeID finds the created container of v with runtime ID id.
func containerByRuntimeID(v *metadata.TaskView, id string) *api.Container {
	for _, c := range v.Containers {
		if metadata.Created(c) && c.Status.RuntimeID == id {
			return c
		}
	}
	return nil
}
