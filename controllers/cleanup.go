package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/metadatafile"
	"github.com/ecsd/ecsd/runtime"
)

// CleanupReconciler removes a stopped task once its cleanup time has come and ECS has been
// told it stopped: runtime containers and snapshots first, then files, then the objects,
// so a crash part-way leaves objects that lead the next attempt to what is left.
type CleanupReconciler struct {
	Client client.Client
	// Runtime removes the task's runtime containers and their snapshots.
	Runtime interface {
		RemoveContainer(ctx context.Context, id string) error
	}
	Namespaces *TaskNamespaces
	// Volumes unmounts the task's EFS and local-driver volumes before its directory goes.
	Volumes *TaskVolumes
	Cgroups runtime.TaskCgroups
	Images  *ImageUsers
	// TaskCleaned is Deps.TaskCleaned.
	TaskCleaned func(taskARN string)
	Clock       clock.PassiveClock
	Log         logr.Logger
	DataDir     string
	Options     CleanupOptions
}

// Reconcile cleans one task up when it is due.
func (r *CleanupReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	t, err := getTask(ctx, r.Client, req.NamespacedName)
	if err != nil || t == nil {
		return reconcile.Result{}, err
	}
	if t.Status.KnownStatus != api.TaskStatusStopped || t.Status.CleanupAt == nil {
		return reconcile.Result{}, nil
	}
	if r.Options.RequiresReport && t.Status.SentStatus != api.TaskStatusStopped {
		// The report controller's status write re-enqueues the task.
		return reconcile.Result{}, nil
	}
	if left := t.Status.CleanupAt.Time.Sub(r.Clock.Now()); left > 0 {
		return reconcile.Result{RequeueAfter: left}, nil
	}
	sib, err := siblings(ctx, r.Client, t)
	if err != nil {
		return reconcile.Result{}, err
	}
	// Every container is tried, in a fixed order, even when one fails: the next attempt
	// then has only the failed ones left.
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(sib)) {
		c := sib[name]
		// A container whose create was never recorded may still exist under the ID its
		// create step would have used: the derived one, or an older agent's old-form one.
		ids := []string{c.Status.RuntimeID}
		if c.Status.RuntimeID == "" {
			ids = []string{api.ContainerRuntimeID(t, c), api.LegacyRuntimeID(c)}
		}
		removed := true
		for _, id := range ids {
			if err := r.Runtime.RemoveContainer(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				errs = append(errs, fmt.Errorf("remove container %s: %w", id, err))
				removed = false
			}
		}
		if !removed {
			continue
		}
		// Retried with the cleanup if it fails: a user left behind would keep the image
		// from ever being cleaned up.
		if err := r.Images.release(ctx, c, r.Clock.Now()); err != nil {
			errs = append(errs, fmt.Errorf("release image of %s: %w", c.Name, err))
		}
	}
	if len(errs) > 0 {
		return reconcile.Result{}, errors.Join(errs...)
	}
	// The namespace holder lives in the task's cgroup and its /dev/shm in the task's directory.
	if err := r.Namespaces.Release(ctx, t.Name); err != nil {
		return reconcile.Result{}, err
	}
	if err := r.Cgroups.Remove(t.Name); err != nil {
		return reconcile.Result{}, fmt.Errorf("remove task cgroup: %w", err)
	}
	// Unmounted first: removing the directory with a file system still mounted beneath it
	// would delete the file system's files.
	if err := r.Volumes.Release(ctx, t); err != nil {
		return reconcile.Result{}, fmt.Errorf("unmount task volumes: %w", err)
	}
	if err := os.RemoveAll(taskDir(r.DataDir, t.Name)); err != nil {
		return reconcile.Result{}, fmt.Errorf("remove task directory: %w", err)
	}
	if err := metadatafile.RemoveTask(r.DataDir, t.Name); err != nil {
		return reconcile.Result{}, fmt.Errorf("remove container metadata files: %w", err)
	}
	for _, c := range sib {
		if err := r.Client.Delete(ctx, c); err != nil && !apierrors.IsNotFound(err) {
			return reconcile.Result{}, err
		}
	}
	// Told before the Task goes: a crash in between then leaves a Task that is cleaned up
	// again (the callback is idempotent), where the other order could lose the record that
	// keeps a re-sent STOPPED task from being created anew.
	if r.TaskCleaned != nil {
		r.TaskCleaned(t.Spec.ARN)
	}
	if err := r.Client.Delete(ctx, t); err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, err
	}
	r.Log.Info("task cleaned up", "task", t.Spec.ARN)
	return reconcile.Result{}, nil
}
