package controllers

import (
	"context"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// The sweeps remove what no object accounts for any more. Each is its own small type; the
// Relister runs them in order (adoption first) at start and after every relist.

// Sweep is one pass of a sweep.
type Sweep interface {
	Sweep(ctx context.Context)
}

// OrphanSweep first gives runtime containers whose objects were lost (a damaged
// checkpoint, a quarantined record) their objects back (Adopter), then removes runtime
// containers of the agent's namespace that no object owns and none can be made for (no ECS
// labels) and that are not running. A running orphan is left alone and reported, as the
// reference agent leaves containers it does not track; killing a workload on a guess is
// worse than leaking one. A container that can be adopted is never removed here.
type OrphanSweep struct {
	Adopter *Adopter
	Runtime interface {
		RemoveContainer(ctx context.Context, id string) error
	}
	Log logr.Logger
}

// Sweep runs one pass.
func (s OrphanSweep) Sweep(ctx context.Context) {
	res, err := s.Adopter.Adopt(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.Log.Error(err, "adoption pass failed; skipping the orphan sweep")
		}
		return
	}
	for _, rc := range res.Orphans {
		if rc.Status == runtime.StatusRunning {
			s.Log.Info("runtime container has no object and is left running", "container", rc.ID)
			continue
		}
		if err := s.Runtime.RemoveContainer(ctx, rc.ID); err != nil {
			s.Log.Error(err, "remove orphaned runtime container", "container", rc.ID)
			continue
		}
		s.Log.Info("removed orphaned runtime container", "container", rc.ID)
	}
}

// NetworkSweep tears down network state no live object accounts for: left by a crash
// between a setup and its status write, or by a cleanup interrupted half-way. A bridge ID is
// a container name, an awsvpc ID a task name; an object that still exists and has not
// released its network owns its ID.
type NetworkSweep struct {
	Client  client.Client
	Network runtime.Network
	Log     logr.Logger
}

// Sweep runs one pass.
func (s NetworkSweep) Sweep(ctx context.Context) {
	if s.Network == nil {
		return
	}
	ids, err := s.Network.IDs()
	if err != nil {
		s.Log.Error(err, "list networks for the orphan sweep")
		return
	}
	for _, id := range ids {
		key := types.NamespacedName{Namespace: api.Namespace, Name: id}
		if ownsNetwork(ctx, s.Client, key) {
			continue
		}
		if err := s.Network.Teardown(ctx, id); err != nil {
			s.Log.Error(err, "tear down orphaned network", "id", id)
			continue
		}
		s.Log.Info("tore down orphaned network", "id", id)
	}
}

// ownsNetwork reports whether a live object accounts for the network ID key.Name: a
// container or task that has not stopped (its setup may be in flight), or one that stopped
// and whose release is still due. Errors other than not-found count as owned: never tear
// down on a guess.
func ownsNetwork(ctx context.Context, cl client.Client, key types.NamespacedName) bool {
	owns := func(known bool, n *api.NetworkStatus) bool {
		return !known || (n != nil && n.ReleasedAt == nil)
	}
	c := &api.Container{}
	switch err := cl.Get(ctx, key, c); {
	case err == nil:
		if owns(c.Status.KnownStatus == api.ContainerStatusStopped, c.Status.Network) {
			return true
		}
	case !apierrors.IsNotFound(err):
		return true
	}
	t := &api.Task{}
	switch err := cl.Get(ctx, key, t); {
	case err == nil:
		return owns(t.Status.KnownStatus == api.TaskStatusStopped, t.Status.Network)
	case !apierrors.IsNotFound(err):
		return true
	}
	return false
}

// HolderSweep releases holders whose task is gone or stopped: left by a crash
// between a task's cleanup steps, or by a task removed while the agent was down.
type HolderSweep struct {
	Client  client.Client
	Runtime interface {
		ListContainers(ctx context.Context) ([]runtime.ContainerState, error)
	}
	Namespaces *TaskNamespaces
	Log        logr.Logger
}

// Sweep runs one pass.
func (s HolderSweep) Sweep(ctx context.Context) {
	rcs, err := s.Runtime.ListContainers(ctx)
	if err != nil {
		return // the orphan sweep reports a runtime that cannot list
	}
	for _, rc := range rcs {
		name := rc.Labels[api.LabelNamespaceHolder]
		if name == "" {
			continue
		}
		t := &api.Task{}
		err := s.Client.Get(ctx, types.NamespacedName{Namespace: api.Namespace, Name: name}, t)
		switch {
		case err == nil && t.Status.KnownStatus != api.TaskStatusStopped:
			continue
		case err != nil && !apierrors.IsNotFound(err):
			continue // never remove on a guess
		}
		if err := s.Namespaces.Release(ctx, name); err != nil {
			s.Log.Error(err, "release an orphaned task namespace holder", "task", name)
		}
	}
}
