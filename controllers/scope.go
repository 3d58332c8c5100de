package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/store"
)

// containerScope is everything a container reconciler looks at: the container, its task and
// its siblings by container name. It is read from the store directly (not the cache), so a
// reconciler never acts on a status older than its own last write.
type containerScope struct {
	task     *api.Task
	c        *api.Container
	siblings map[string]*api.Container
	// ns is what a container of a pidMode/ipcMode "task" task joins (create step only).
	ns taskNamespaces
}

// loadContainer returns nil, nil when the container or its task is gone.
func (e *Engine) loadContainer(ctx context.Context, key types.NamespacedName) (*containerScope, error) {
	c := &api.Container{}
	if err := e.direct.Get(ctx, key, c); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	t := &api.Task{}
	if err := e.direct.Get(ctx, types.NamespacedName{Namespace: key.Namespace, Name: c.Spec.TaskName}, t); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	sib, err := e.siblings(ctx, t)
	if err != nil {
		return nil, err
	}
	sib[c.Spec.Name] = c
	return &containerScope{task: t, c: c, siblings: sib}, nil
}

// siblings returns the task's containers by container name; missing ones are absent.
func (e *Engine) siblings(ctx context.Context, t *api.Task) (map[string]*api.Container, error) {
	out := make(map[string]*api.Container, len(t.Spec.Containers))
	for _, name := range t.Spec.Containers {
		c := &api.Container{}
		err := e.direct.Get(ctx, types.NamespacedName{Namespace: t.Namespace, Name: api.ContainerName(t.Name, name)}, c)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get container %s of task %s: %w", name, t.Name, err)
		}
		out[name] = c
	}
	return out, nil
}

// updateContainerStatus applies mutate to the freshest copy of the container and writes its
// status, re-reading and re-applying on a conflict. mutate returns false when there is
// nothing to write. The written object is returned.
func (e *Engine) updateContainerStatus(ctx context.Context, c *api.Container, mutate func(*api.Container) bool) (*api.Container, error) {
	return updateStatus(ctx, e.direct, c, mutate)
}

// updateTaskStatus is updateContainerStatus for a Task.
func (e *Engine) updateTaskStatus(ctx context.Context, t *api.Task, mutate func(*api.Task) bool) (*api.Task, error) {
	return updateStatus(ctx, e.direct, t, mutate)
}

func updateStatus[T client.Object](ctx context.Context, c client.Client, obj T, mutate func(T) bool) (T, error) {
	cur := obj.DeepCopyObject().(T)
	first := true
	err := store.RetryOnConflict(func() error {
		if !first {
			if err := c.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
				return err
			}
		}
		first = false
		if !mutate(cur) {
			return nil
		}
		return c.Status().Update(ctx, cur)
	})
	if err != nil {
		var zero T
		return zero, fmt.Errorf("update status of %s: %w", obj.GetName(), err)
	}
	return cur, nil
}
