package controllers

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
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

// containerByRuntimeID returns the key of the Container whose recorded runtime ID is id,
// from the informer cache's index: one map lookup, cheap enough for every containerd event.
// A container whose create has not been recorded yet is not found; its status write
// enqueues it anyway.
func (e *Engine) containerByRuntimeID(ctx context.Context, id string) (types.NamespacedName, bool) {
	var list api.ContainerList
	if err := e.cached.List(ctx, &list, client.InNamespace(api.Namespace), client.MatchingFields{runtimeIDIndex: id}); err != nil {
		e.log.Error(err, "look up container by runtime ID", "runtimeID", id)
		return types.NamespacedName{}, false
	}
	if len(list.Items) == 0 {
		return types.NamespacedName{}, false
	}
	return client.ObjectKeyFromObject(&list.Items[0]), true
}

// chooseRuntimeID decides the runtime ID the create step uses for s's container. A recorded
// ID is kept. Otherwise a container an older agent created under the old-form ID (the
// object name) and crashed before recording is adopted (adopt is true: nothing is to be
// created), so an upgrade never runs a container twice; failing that, the ID is the
// derived one, which a retry after a crash finds again as ErrAlreadyExists.
func (e *Engine) chooseRuntimeID(ctx context.Context, s *containerScope) (id string, adopt bool, err error) {
	c, t := s.c, s.task
	if c.Status.RuntimeID != "" {
		return c.Status.RuntimeID, false, nil
	}
	legacy := api.LegacyRuntimeID(c)
	st, err := e.rt.InspectContainer(ctx, legacy)
	switch {
	case errors.Is(err, runtime.ErrNotFound):
		return api.ContainerRuntimeID(t, c), false, nil
	case err != nil:
		return "", false, fmt.Errorf("look for an old-form runtime container %s: %w", legacy, err)
	}
	if st.Labels[api.LabelTaskARN] != t.Spec.ARN || st.Labels[api.LabelContainerName] != c.Spec.Name {
		// Not this container's: the orphan sweep deals with it. Creating under the new ID
		// cannot collide with it.
		e.log.Info("runtime container with an old-form ID belongs to another task; not adopted",
			"runtimeID", legacy, "taskARN", st.Labels[api.LabelTaskARN], "containerName", st.Labels[api.LabelContainerName])
		return api.ContainerRuntimeID(t, c), false, nil
	}
	e.log.Info("adopting a runtime container created by an older agent under its old-form ID", "container", c.Name, "runtimeID", legacy)
	return legacy, true, nil
}
