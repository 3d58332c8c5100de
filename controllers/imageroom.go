package controllers

import (
	"context"
	"fmt"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// roomRecheck is how often a pull held by AwaitRoom measures the disk again when no
// disk-pressure pass has ended in between.
const roomRecheck = time.Second

// AwaitRoom holds a pull while the image file systems are above the high-water mark and
// image cleanup expects to free space within Options.PullWait: an image no task uses that
// is old enough, or will be once its task is cleaned up (Task.Status.CleanupAt) and
// MinAge has passed. Without it, tasks launched back to back on a full disk each pull
// their image before the previous task's image may go, and the disk passes the mark by
// several images; with it, by at most one image per pull running at once. When nothing
// will be freed in time (every image in use by tasks that run on, excluded, or used too
// recently) the pull goes ahead at once and says so: waiting would only delay the task.
// It never fails the pull; it returns ctx's error when ctx ends first.
func (r *ImageCleanupReconciler) AwaitRoom(ctx context.Context, image string) error {
	r.setup()
	if r.Options.Disable || !r.pressureOn() || r.Options.PullWait <= 0 {
		return nil
	}
	start := r.Clock.Now()
	deadline := start.Add(r.Options.PullWait)
	waited := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Read the channel before measuring, so a pass that ends after the measure wakes us.
		relieved := r.relievedSignal()
		fs, pct, ok := r.measure(ctx)
		if !ok || pct < float64(r.Options.HighPercent) {
			if waited {
				r.Log.Info("image file system below the high-water mark; pulling", "image", image,
					"usedPercent", fmt.Sprintf("%.1f", pct), "waited", r.Clock.Since(start).Round(time.Millisecond).String())
			}
			return nil
		}
		now := r.Clock.Now()
		next, soon, err := r.nextRemoval(ctx, now)
		switch {
		case err != nil:
			r.Log.Error(err, "image file system above the high-water mark; pulling without waiting", "image", image)
			return nil
		case !soon || next.After(deadline) || !now.Before(deadline):
			r.Log.Info("pulling although the image file system is above the high-water mark: no image can be removed in time",
				"image", image, "path", fs.Path, "usedPercent", fmt.Sprintf("%.1f", pct), "highPercent", r.Options.HighPercent,
				"waited", now.Sub(start).Round(time.Millisecond).String(), "pullWait", r.Options.PullWait.String())
			return nil
		}
		if !waited {
			r.Log.Info("pull waits for disk-pressure cleanup", "image", image, "path", fs.Path,
				"usedPercent", fmt.Sprintf("%.1f", pct), "highPercent", r.Options.HighPercent, "nextRemoval", next.UTC().Format(time.RFC3339))
			waited = true
		}
		if !next.After(now) {
			// Something may go now: ask Run for a pass.
			r.poke()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-relieved:
			// A pass that could not remove what looked removable (a pull holds it) must
			// not turn this into a busy loop.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-r.Clock.After(roomRecheck / 10):
			}
		case <-r.Clock.After(roomRecheck):
		}
	}
}

// relievedSignal returns a channel that closes when the next disk-pressure pass ends.
func (r *ImageCleanupReconciler) relievedSignal() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.relieved
}

// signalRelieved wakes the pulls waiting in AwaitRoom after a disk-pressure pass.
func (r *ImageCleanupReconciler) signalRelieved() {
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.relieved)
	r.relieved = make(chan struct{})
}

// nextRemoval returns the earliest time image cleanup may remove a tracked image, as the
// objects tell it now: now for an image that may go now; its CleanupAfter for one used too
// recently; for one in use only by containers of stopped tasks, the latest of those tasks'
// CleanupAt plus MinAge. soon is false when no image will become removable by itself
// (all in use by live tasks, excluded, or failing to be removed).
func (r *ImageCleanupReconciler) nextRemoval(ctx context.Context, now time.Time) (next time.Time, soon bool, err error) {
	var images api.ImageList
	if err := r.Client.List(ctx, &images); err != nil {
		return time.Time{}, false, fmt.Errorf("list images: %w", err)
	}
	users, err := r.loadUsers(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	var tasks api.TaskList
	if err := r.Client.List(ctx, &tasks); err != nil {
		return time.Time{}, false, fmt.Errorf("list tasks: %w", err)
	}
	cleanupAt := make(map[string]time.Time, len(tasks.Items))
	for _, t := range tasks.Items {
		if t.Status.KnownStatus == api.TaskStatusStopped && t.Status.CleanupAt != nil {
			cleanupAt[t.Name] = t.Status.CleanupAt.Time
		}
	}
	consider := func(at time.Time) {
		if !soon || at.Before(next) {
			next, soon = at, true
		}
	}
	for i := range images.Items {
		im := &images.Items[i]
		v := r.judge(im, users, now)
		switch who := users.of(im.Spec.Digest, im.Status.References); {
		case v.kept == "":
			consider(now)
		case len(who) > 0:
			if at, ok := releasedAt(who, users.task, cleanupAt); ok {
				if _, excluded := r.excluded(im.Status.References); !excluded {
					consider(at.Add(r.Options.MinAge))
				}
			}
		case v.after != nil && v.kept == fmt.Sprintf(keptRecent, shortDuration(r.Options.MinAge)):
			consider(v.after.Time)
		}
	}
	return next, soon, nil
}

// releasedAt is when the containers who will all have been cleaned up: the latest
// CleanupAt of their tasks; ok is false when one of them belongs to a task that is not
// stopped (or has no cleanup time yet).
func releasedAt(who []string, taskOf map[string]string, cleanupAt map[string]time.Time) (time.Time, bool) {
	var last time.Time
	for _, c := range who {
		at, ok := cleanupAt[taskOf[c]]
		if !ok {
			return time.Time{}, false
		}
		if at.After(last) {
			last = at
		}
	}
	return last, true
}
