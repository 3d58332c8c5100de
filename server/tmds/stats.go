package tmds

import (
	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/server/metadata"
)

// containerStats is the latest sample of a created container, if the stats engine has one.
func (h *handler) containerStats(c *api.Container, v4 bool) (any, bool) {
	if h.o.Stats == nil || !metadata.Created(c) {
		return nil, false
	}
	doc, ok := h.o.Stats.ContainerStats(c.Status.RuntimeID, v4)
	if !ok || doc == nil {
		return nil, false
	}
	return doc, true
}

// taskStats maps each created container's runtime ID to its latest sample. A container
// without one maps to null in v2/v3 and to {} in v4, as in the reference agent.
func (h *handler) taskStats(v *metadata.TaskView, v4 bool) map[string]any {
	out := map[string]any{}
	for _, c := range v.Containers {
		if !metadata.Created(c) {
			continue
		}
		doc, ok := h.containerStats(c, v4)
		switch {
		case ok:
			out[c.Status.RuntimeID] = doc
		case v4:
			out[c.Status.RuntimeID] = struct{}{}
		default:
			out[c.Status.RuntimeID] = nil
		}
	}
	return out
}
