package controllers

import (
	"context"
	"errors"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// runtimeIDIndex is the cache index of Containers by Status.RuntimeID: how a runtime event
// or a runtime container finds its object now that the runtime ID (64 hex characters,
// api.RuntimeID) is no longer the object name. Old-form IDs of containers created by an
// older agent are in the same field, so one lookup serves both.
const runtimeIDIndex = "status.runtimeId"

// indexRuntimeID is runtimeIDIndex's extractor.
func indexRuntimeID(o client.Object) []string {
	c, ok := o.(*api.Container)
	if !ok || c.Status.RuntimeID == "" {
		return nil
	}
	return []string{c.Status.RuntimeID}
}

// chooseRuntimeID decides the runtime ID the create step uses for s's container. A recorded
// ID is kept. Otherwise a container an older agent created under the old-form ID (the
// object name) and crashed before recording is adopted (adopt is true: nothing is to be
// created), so an upgrade never runs a container twice; failing that, the ID is the
// derived one, which a retry after a crash finds again as ErrAlreadyExists.
func (r *CreateReconciler) chooseRuntimeID(ctx context.Context, s *containerScope) (id string, adopt bool, err error) {
	c, t := s.c, s.task
	if c.Status.RuntimeID != "" {
		return c.Status.RuntimeID, false, nil
	}
	legacy := api.LegacyRuntimeID(c)
	st, err := r.Runtime.InspectContainer(ctx, legacy)
	switch {
	case errors.Is(err, runtime.ErrNotFound):
		return api.ContainerRuntimeID(t, c), false, nil
	case err != nil:
		return "", false, fmt.Errorf("look for an old-form runtime container %s: %w", legacy, err)
	}
	if st.Labels[api.LabelTaskARN] != t.Spec.ARN || st.Labels[api.LabelContainerName] != c.Spec.Name {
		// Not this container's: the orphan sweep deals with it. Creating under the new ID
		// cannot collide with it.
		r.Log.Info("runtime container with an old-form ID belongs to another task; not adopted",
			"runtimeID", legacy, "taskARN", st.Labels[api.LabelTaskARN], "containerName", st.Labels[api.LabelContainerName])
		return api.ContainerRuntimeID(t, c), false, nil
	}
	r.Log.Info("adopting a runtime container created by an older agent under its old-form ID", "container", c.Name, "runtimeID", legacy)
	return legacy, true, nil
}
