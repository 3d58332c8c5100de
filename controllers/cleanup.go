package controllers

import (
	"context"
	"errors"
	"fmt"
	"github.com/ecsd/ecsd/internal/metadatafile"
	"os"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// reconcileCleanup removes a stopped task once its cleanup time has come and ECS has been
// told it stopped: runtime containers and snapshots first, then files, then the objects,
// so a crash part-way leaves objects that lead the next attempt to what is left.
func (e *Engine) reconcileCleanup(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	t := &api.Task{}
	if err := e.direct.Get(ctx, req.NamespacedName, t); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if t.Status.KnownStatus != api.TaskStatusStopped || t.Status.CleanupAt == nil {
		return reconcile.Result{}, nil
	}
	if e.s.CleanupRequiresReport && t.Status.SentStatus != api.TaskStatusStopped {
		// The report controller's status write re-enqueues the task.
		return reconcile.Result{}, nil
	}
	if left := t.Status.CleanupAt.Time.Sub(e.clk.Now()); left > 0 {
		return reconcile.Result{RequeueAfter: left}, nil
	}
	sib, err := e.siblings(ctx, t)
	if err != nil {
		return reconcile.Result{}, err
	}
	for _, c := range sib {
		// A container whose create was never recorded may still exist under the ID its
		// create step would have used: the derived one, or an older agent's old-form one.
		ids := []string{c.Status.RuntimeID}
		if c.Status.RuntimeID == "" {
			ids = []string{api.ContainerRuntimeID(t, c), api.LegacyRuntimeID(c)}
		}
		for _, id := range ids {
			if err := e.rt.RemoveContainer(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				return reconcile.Result{}, fmt.Errorf("remove container %s: %w", id, err)
			}
		}
		// Retried with the cleanup if it fails: a user left behind would keep the image
		// from ever being cleaned up.
		if err := e.releaseImage(ctx, c); err != nil {
			return reconcile.Result{}, fmt.Errorf("release image of %s: %w", c.Name, err)
		}
	}
	// The namespace holder lives in the task's cgroup and its /dev/shm in the task's directory.
	if err := e.ns.Release(ctx, t.Name); err != nil {
		return reconcile.Result{}, err
	}
	if err := e.s.Cgroups.Remove(t.Name); err != nil {
		return reconcile.Result{}, fmt.Errorf("remove task cgroup: %w", err)
	}
	if err := os.RemoveAll(e.taskDir(t.Name)); err != nil {
		return reconcile.Result{}, fmt.Errorf("remove task directory: %w", err)
	}
	if err := metadatafile.RemoveTask(e.s.DataDir, t.Name); err != nil {
		return reconcile.Result{}, fmt.Errorf("remove container metadata files: %w", err)
	}
	for _, c := range sib {
		if err := e.direct.Delete(ctx, c); err != nil && !apierrors.IsNotFound(err) {
			return reconcile.Result{}, err
		}
	}
	// Told before the Task goes: a crash in between then leaves a Task that is cleaned up
	// again (the callback is idempotent), where the other order could lose the record that
	// keeps a re-sent STOPPED task from being created anew.
	if e.s.TaskCleaned != nil {
		e.s.TaskCleaned(t.Spec.ARN)
	}
	if err := e.direct.Delete(ctx, t); err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, err
	}
	e.log.Info("task cleaned up", "task", t.Spec.ARN)
	return reconcile.Result{}, nil
}

// releaseImage drops c from its image's users so image cleanup may consider the image.
func (e *Engine) releaseImage(ctx context.Context, c *api.Container) error {
	if c.Status.ImageDigest == "" {
		return nil
	}
	e.imageMu.Lock()
	defer e.imageMu.Unlock()
	im := &api.Image{}
	key := client.ObjectKey{Namespace: c.Namespace, Name: api.ImageName(c.Status.ImageDigest)}
	if err := e.direct.Get(ctx, key, im); err != nil {
		return client.IgnoreNotFound(err)
	}
	_, err := updateStatus(ctx, e.direct, im, func(im *api.Image) bool {
		users := im.Status.Users[:0:0]
		for _, u := range im.Status.Users {
			if u != c.Name {
				users = append(users, u)
			}
		}
		if len(users) == len(im.Status.Users) {
			return false
		}
		im.Status.Users = users
		im.Status.LastUsedAt = metaTime(e.clk.Now())
		return true
	})
	return client.IgnoreNotFound(err)
}
