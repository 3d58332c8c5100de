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

// The helpers here read and write through the store's direct client (never the cache), so
// a reconciler never acts on a status older than its own last write. They are free
// functions over a client rather than methods of a shared type: every reconciler passes
// the one client it holds.

// containerScope is everything a container reconciler looks at: the container, its task and
// its siblings by container name.
type containerScope struct {
	task     *api.Task
	c        *api.Container
	siblings map[string]*api.Container
	// ns is what a container of a pidMode/ipcMode "task" task joins (create step only).
	ns taskNamespaces
}

// loadContainer returns nil, nil when the container or its task is gone.
func loadContainer(ctx context.Context, cl client.Client, key types.NamespacedName) (*containerScope, error) {
	c := &api.Container{}
	if err := cl.Get(ctx, key, c); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	t := &api.Task{}
	if err := cl.Get(ctx, types.NamespacedName{Namespace: key.Namespace, Name: c.Spec.TaskName}, t); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	sib, err := siblings(ctx, cl, t)
	if err != nil {
		return nil, err
	}
	sib[c.Spec.Name] = c
	return &containerScope{task: t, c: c, siblings: sib}, nil
}

// siblings returns the task's containers by container name; missing ones are absent.
func siblings(ctx context.Context, cl client.Client, t *api.Task) (map[string]*api.Container, error) {
	out := make(map[string]*api.Container, len(t.Spec.Containers))
	for _, name := range t.Spec.Containers {
		c := &api.Container{}
		err := cl.Get(ctx, types.NamespacedName{Namespace: t.Namespace, Name: api.ContainerName(t.Name, name)}, c)
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

// getTask reads the task key; a missing task is nil, nil.
func getTask(ctx context.Context, cl client.Client, key types.NamespacedName) (*api.Task, error) {
	t := &api.Task{}
	if err := cl.Get(ctx, key, t); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return t, nil
}

// updateStatus applies mutate to the freshest copy of obj and writes its status,
// re-reading and re-applying on a conflict. mutate returns false when there is nothing to
// write. The written object is returned.
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

// failContainer stops a container for good with reason.
func failContainer(ctx context.Context, cl client.Client, c *api.Container, reason string) error {
	_, err := updateStatus(ctx, cl, c, func(c *api.Container) bool {
		if desiredContainer(c) == api.ContainerStatusStopped && c.Status.Reason != "" {
			return false
		}
		stopContainer(c, truncate(reason, 1024))
		return true
	})
	return err
}

// dependencyExitCode is what a container stopped by a terminal dependency failure reports:
// 143, killed by SIGTERM, as the reference agent does (spec §6.3), so ECS and the task
// metadata show an exit code for a container that never ran.
const dependencyExitCode = 143

// failDependent stops for good a container whose dependencies can never be met, with
// reason and dependencyExitCode. The code is set before the stop step moves it to STOPPED,
// which keeps it: the container never ran, so the runtime has no exit code to report.
func failDependent(ctx context.Context, cl client.Client, c *api.Container, reason string) error {
	_, err := updateStatus(ctx, cl, c, func(c *api.Container) bool {
		changed := false
		if c.Status.ExitCode == nil && c.Status.StartedAt == nil {
			code := int32(dependencyExitCode)
			c.Status.ExitCode = &code
			changed = true
		}
		if desiredContainer(c) != api.ContainerStatusStopped || c.Status.Reason == "" {
			stopContainer(c, truncate(reason, 1024))
			changed = true
		}
		return changed
	})
	return err
}

// setAttachment records an ENI attachment's status.
func setAttachment(ctx context.Context, cl client.Client, att *api.Attachment, status, ifName string) error {
	return store.RetryOnConflict(func() error {
		cur := &api.Attachment{}
		if err := cl.Get(ctx, types.NamespacedName{Namespace: att.Namespace, Name: att.Name}, cur); err != nil {
			return client404(err)
		}
		if cur.Status.Status == status {
			return nil
		}
		cur.Status.Status = status
		if ifName != "" {
			cur.Status.InterfaceName = ifName
		}
		return cl.Status().Update(ctx, cur)
	})
}

// client404 treats a vanished object as done.
func client404(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
