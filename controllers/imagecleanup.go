package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// imageCleanupRuntime is what image cleanup needs of the runtime.
type imageCleanupRuntime interface {
	ListImages(ctx context.Context) ([]runtime.ImageRecord, error)
	RemoveImage(ctx context.Context, ref string, opts ...runtime.RemoveImageOption) error
	ImageFilesystems(ctx context.Context) ([]runtime.FilesystemUsage, error)
	ListContainers(ctx context.Context) ([]runtime.ContainerState, error)
	ListUnmanagedContainers(ctx context.Context) ([]runtime.ContainerState, error)
	RemoveContainer(ctx context.Context, id string) error
}

// Why an image stays, as Image.Status.KeptBecause says it. The reasons that carry details
// (who uses it, the excluded name, the minimum age, the error) are built from these.
const (
	keptDisabled = "image cleanup is disabled (ECS_DISABLE_IMAGE_CLEANUP)"
	keptInUse    = "in use by "
	keptExcluded = "excluded by ECS_EXCLUDE_UNTRACKED_IMAGE"
	keptRecent   = "used less than %s ago (ECS_IMAGE_MINIMUM_CLEANUP_AGE)"
	keptWaiting  = "waiting for the next cleanup cycle"
	keptFailed   = "removal failed: "
)

// Why an image was removed, in the "removed image" log line.
const (
	removedByCycle    = "cleanup cycle"
	removedByPressure = "disk pressure"
)

// ImageCleanupReconciler removes images no task needs any more, so that a host running
// for weeks never fills its disk with old images. It is one reconciler with two parts:
//
//   - Reconcile, per Image object, writes why the image is kept or when it may go
//     (Status.KeptBecause, Status.CleanupAfter), so `ecsctl get images` can say;
//   - Run, beside the controllers, runs a cleanup cycle every Options.Interval (the
//     reference agent's rules: up to PerCycle images no task uses and unused for MinAge,
//     least recently used first; then, with Untracked, other clients' stopped containers
//     and images) and, between cycles, watches the image file systems: above HighPercent
//     it removes images by the same rules, one at a time, until usage is below LowPercent.
//
// An image is kept while any Container object that is not yet cleaned up uses it (by the
// digest its pull recorded, or, before the pull, by name), and never removed while the pull
// step holds it (Guard): so never between a pull and the create that needs it. Unlike the
// reference agent, cleanup stays on with every pull behaviour: a prefer-cached or once task
// whose image was removed pulls it again.
type ImageCleanupReconciler struct {
	// Client is the store's direct client: a removal must see every container created up
	// to that moment.
	Client  client.Client
	Runtime imageCleanupRuntime
	Guard   *ImageGuard
	Clock   clock.WithTicker
	Log     logr.Logger
	Options ImageCleanupOptions

	init sync.Once
	// pokes wakes Run for a disk check after an Image changed (a pull, a release).
	pokes chan struct{}
	// exclude maps each normalized excluded name to the name as configured.
	exclude map[string]string

	mu sync.Mutex
	// failed holds the last removal error per digest, shown in KeptBecause until a removal
	// of the image succeeds or the image is gone.
	failed map[string]string
	// fsErr is the last error measuring the image file systems (logged once per change);
	// pressure says whether the last measure was above the high-water mark.
	fsErr    string
	pressure bool
	// relieved closes when a disk-pressure pass ends, waking pulls held by AwaitRoom.
	relieved chan struct{}
}

func (r *ImageCleanupReconciler) setup() {
	r.init.Do(func() {
		r.pokes = make(chan struct{}, 1)
		r.relieved = make(chan struct{})
		r.failed = map[string]string{}
		r.exclude = map[string]string{}
		for _, name := range r.Options.Exclude {
			if name = strings.TrimSpace(name); name != "" {
				r.exclude[normalizeRef(name)] = name
			}
		}
	})
}

// Reconcile writes one Image's KeptBecause and CleanupAfter and asks Run to look at the
// disk, since an Image changes when a pull finished or a task released it.
func (r *ImageCleanupReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	r.setup()
	im := &api.Image{}
	if err := r.Client.Get(ctx, req.NamespacedName, im); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	users, err := r.loadUsers(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	now := r.Clock.Now()
	v := r.judge(im, users, now)
	if err := r.writeVerdict(ctx, im, v); err != nil {
		return reconcile.Result{}, err
	}
	r.poke()
	if v.kept != "" && v.after != nil && v.after.After(now) {
		// Say "waiting for the next cleanup cycle" once it is old enough.
		return reconcile.Result{RequeueAfter: v.after.Sub(now)}, nil
	}
	return reconcile.Result{}, nil
}

// poke asks Run for a disk check without blocking; one pending check is enough.
func (r *ImageCleanupReconciler) poke() {
	select {
	case r.pokes <- struct{}{}:
	default:
	}
}

// Run runs the cleanup cycles and the disk checks until ctx ends.
func (r *ImageCleanupReconciler) Run(ctx context.Context) error {
	r.setup()
	if r.Options.Disable {
		r.Log.Info("image cleanup is disabled (ECS_DISABLE_IMAGE_CLEANUP)")
		return nil
	}
	for name := range r.exclude {
		r.Log.Info("image excluded from cleanup", "image", r.exclude[name])
	}
	r.Log.Info("image cleanup on", "interval", r.Options.Interval.String(), "minimumAge", r.Options.MinAge.String(),
		"perCycle", r.Options.PerCycle, "untracked", r.Options.Untracked,
		"highPercent", r.Options.HighPercent, "lowPercent", r.Options.LowPercent)
	cycle := r.Clock.NewTicker(r.Options.Interval)
	defer cycle.Stop()
	var check <-chan time.Time
	if r.pressureOn() && r.Options.PressureInterval > 0 {
		t := r.Clock.NewTicker(r.Options.PressureInterval)
		defer t.Stop()
		check = t.C()
	}
	r.RelievePressure(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-cycle.C():
			r.Cycle(ctx)
			r.RelievePressure(ctx)
		case <-check:
			r.RelievePressure(ctx)
		case <-r.pokes:
			r.RelievePressure(ctx)
		}
	}
}

func (r *ImageCleanupReconciler) pressureOn() bool {
	return r.Options.HighPercent > 0 && r.Options.HighPercent < 100
}

// Cycle is one timed cleanup cycle: up to PerCycle tracked images, least recently used
// first; then, with Untracked, other clients' stopped containers and, with what is left of
// PerCycle, untracked images, smallest first. It ends by refreshing every Image's status.
func (r *ImageCleanupReconciler) Cycle(ctx context.Context) {
	r.setup()
	if r.Options.Disable {
		return
	}
	removed := 0
	for removed < r.Options.PerCycle {
		ok, err := r.removeLeastRecentlyUsed(ctx, removedByCycle)
		if err != nil {
			r.Log.Error(err, "image cleanup cycle")
			return
		}
		if !ok {
			break
		}
		removed++
	}
	tracked := removed
	if r.Options.Untracked {
		r.removeUnmanagedContainers(ctx)
		n, err := r.removeUntracked(ctx, r.Options.PerCycle-removed, removedByCycle)
		if err != nil {
			r.Log.Error(err, "image cleanup cycle: untracked images")
		}
		removed += n
	}
	log := r.Log.V(1)
	if removed > 0 {
		log = r.Log
	}
	log.Info("image cleanup cycle", "removed", removed, "tracked", tracked, "untracked", removed-tracked, "perCycle", r.Options.PerCycle)
	if err := r.refreshStatuses(ctx); err != nil {
		r.Log.Error(err, "image cleanup cycle: image status")
	}
}

// RelievePressure measures the image file systems and, above HighPercent, removes images
// by the cycle's rules, one at a time and measuring again after each, until usage is
// below LowPercent or nothing more may go.
func (r *ImageCleanupReconciler) RelievePressure(ctx context.Context) {
	r.setup()
	if r.Options.Disable || !r.pressureOn() {
		return
	}
	defer r.signalRelieved()
	fs, pct, ok := r.measure(ctx)
	if !ok || pct < float64(r.Options.HighPercent) {
		r.setPressure(false, fs, pct)
		return
	}
	r.setPressure(true, fs, pct)
	removed := 0
	for pct >= float64(r.Options.LowPercent) {
		ok, err := r.removeLeastRecentlyUsed(ctx, removedByPressure)
		if err == nil && !ok && r.Options.Untracked {
			var n int
			n, err = r.removeUntracked(ctx, 1, removedByPressure)
			ok = n > 0
		}
		if err != nil {
			r.Log.Error(err, "image cleanup under disk pressure")
			break
		}
		if !ok {
			r.Log.Info("image file system still above the low-water mark: no more images may be removed (in use, excluded or too recently used)",
				"path", fs.Path, "usedPercent", fmt.Sprintf("%.1f", pct), "lowPercent", r.Options.LowPercent, "removed", removed)
			break
		}
		removed++
		if fs, pct, ok = r.measure(ctx); !ok {
			break
		}
	}
	if removed > 0 {
		r.Log.Info("disk pressure relieved", "path", fs.Path, "usedPercent", fmt.Sprintf("%.1f", pct), "removed", removed)
		r.setPressure(pct >= float64(r.Options.HighPercent), fs, pct)
		if err := r.refreshStatuses(ctx); err != nil {
			r.Log.Error(err, "image status after disk pressure")
		}
	}
}

// measure returns the fullest image file system and its usage; ok is false when it could
// not be measured (logged once per distinct error).
func (r *ImageCleanupReconciler) measure(ctx context.Context) (runtime.FilesystemUsage, float64, bool) {
	fss, err := r.Runtime.ImageFilesystems(ctx)
	r.mu.Lock()
	if err != nil {
		if msg := err.Error(); msg != r.fsErr {
			r.fsErr = msg
			r.mu.Unlock()
			r.Log.Error(err, "cannot measure the image file systems; disk-pressure cleanup waits for the timed cycles")
			return runtime.FilesystemUsage{}, 0, false
		}
		r.mu.Unlock()
		return runtime.FilesystemUsage{}, 0, false
	}
	r.fsErr = ""
	r.mu.Unlock()
	var worst runtime.FilesystemUsage
	pct := -1.0
	for _, fs := range fss {
		if p := fs.UsedPercent(); p > pct {
			worst, pct = fs, p
		}
	}
	return worst, pct, pct >= 0
}

// setPressure logs the moments the image file system crosses the high-water mark.
func (r *ImageCleanupReconciler) setPressure(on bool, fs runtime.FilesystemUsage, pct float64) {
	r.mu.Lock()
	was := r.pressure
	r.pressure = on
	r.mu.Unlock()
	if on && !was {
		r.Log.Info("image file system above the high-water mark; removing unused images", "path", fs.Path,
			"usedPercent", fmt.Sprintf("%.1f", pct), "highPercent", r.Options.HighPercent, "lowPercent", r.Options.LowPercent)
	}
}

// imageUsers says which Container objects keep which images: by the digest their pull
// recorded, or, before their pull, by the name they ask for; task maps each container to
// its task.
type imageUsers struct {
	byDigest map[string][]string
	byName   map[string][]string
	task     map[string]string
}

func (r *ImageCleanupReconciler) loadUsers(ctx context.Context) (imageUsers, error) {
	var list api.ContainerList
	if err := r.Client.List(ctx, &list); err != nil {
		return imageUsers{}, fmt.Errorf("list containers: %w", err)
	}
	u := imageUsers{byDigest: map[string][]string{}, byName: map[string][]string{}, task: map[string]string{}}
	for i := range list.Items {
		c := &list.Items[i]
		u.task[c.Name] = c.Spec.TaskName
		if d := c.Status.ImageDigest; d != "" {
			u.byDigest[d] = append(u.byDigest[d], c.Name)
		} else if c.Spec.Image != "" {
			n := normalizeRef(c.Spec.Image)
			u.byName[n] = append(u.byName[n], c.Name)
		}
	}
	return u, nil
}

// of returns the containers keeping the image digest known by names, sorted.
func (u imageUsers) of(digest string, names []string) []string {
	out := slices.Clone(u.byDigest[digest])
	for _, n := range names {
		out = append(out, u.byName[normalizeRef(n)]...)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// verdict is what cleanup makes of an image now: kept says why it stays ("" when it may
// be removed now); after is when it may be removed, nil while it is kept regardless.
type verdict struct {
	kept  string
	after *metav1.Time
}

// judge applies the rules to a tracked image.
func (r *ImageCleanupReconciler) judge(im *api.Image, users imageUsers, now time.Time) verdict {
	if r.Options.Disable {
		return verdict{kept: keptDisabled}
	}
	if who := users.of(im.Spec.Digest, im.Status.References); len(who) > 0 {
		return verdict{kept: keptInUse + listSome(who, 3)}
	}
	if name, ok := r.excluded(im.Status.References); ok {
		return verdict{kept: keptExcluded + " (" + name + ")"}
	}
	after := metaTime(lastUse(im).Add(r.Options.MinAge))
	if now.Before(after.Time) {
		return verdict{kept: fmt.Sprintf(keptRecent, shortDuration(r.Options.MinAge)), after: after}
	}
	r.mu.Lock()
	failure := r.failed[im.Spec.Digest]
	r.mu.Unlock()
	if failure != "" {
		return verdict{kept: keptFailed + failure, after: after}
	}
	return verdict{after: after}
}

// excluded returns the configured exclusion that matches one of names.
func (r *ImageCleanupReconciler) excluded(names []string) (string, bool) {
	for _, n := range names {
		if name, ok := r.exclude[normalizeRef(n)]; ok {
			return name, true
		}
	}
	return "", false
}

// lastUse is when the image was last used: released by its last task, or pulled.
func lastUse(im *api.Image) time.Time {
	switch {
	case im.Status.LastUsedAt != nil:
		return im.Status.LastUsedAt.Time
	case im.Status.PulledAt != nil:
		return im.Status.PulledAt.Time
	}
	return im.CreationTimestamp.Time
}

// shortDuration prints d without trailing zero units (1h, 1h30m, 90s).
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// listSome names the first n items and counts the rest.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// writeVerdict records v in the image's status when it changed.
func (r *ImageCleanupReconciler) writeVerdict(ctx context.Context, im *api.Image, v verdict) error {
	kept := v.kept
	if kept == "" {
		kept = keptWaiting
	}
	_, err := updateStatus(ctx, r.Client, im, func(im *api.Image) bool {
		if im.Status.KeptBecause == kept && sameSecond(im.Status.CleanupAfter, v.after) {
			return false
		}
		im.Status.KeptBecause = kept
		im.Status.CleanupAfter = v.after
		return true
	})
	return client.IgnoreNotFound(err)
}

// sameSecond compares two optional times as the checkpoint keeps them, to the second.
func sameSecond(a, b *metav1.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Unix() == b.Unix()
}

// refreshStatuses writes every Image's verdict.
func (r *ImageCleanupReconciler) refreshStatuses(ctx context.Context) error {
	var list api.ImageList
	if err := r.Client.List(ctx, &list); err != nil {
		return fmt.Errorf("list images: %w", err)
	}
	users, err := r.loadUsers(ctx)
	if err != nil {
		return err
	}
	now := r.Clock.Now()
	var errs []error
	for i := range list.Items {
		im := &list.Items[i]
		if err := r.writeVerdict(ctx, im, r.judge(im, users, now)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeLeastRecentlyUsed removes the least recently used tracked image that may go now,
// and forgets Image objects whose image is gone from the runtime anyway. It reports
// whether it removed one.
func (r *ImageCleanupReconciler) removeLeastRecentlyUsed(ctx context.Context, why string) (bool, error) {
	var list api.ImageList
	if err := r.Client.List(ctx, &list); err != nil {
		return false, fmt.Errorf("list images: %w", err)
	}
	users, err := r.loadUsers(ctx)
	if err != nil {
		return false, err
	}
	present, err := r.presentDigests(ctx)
	if err != nil {
		return false, err
	}
	now := r.Clock.Now()
	var candidates []*api.Image
	for i := range list.Items {
		im := &list.Items[i]
		if r.judge(im, users, now).kept != "" {
			continue
		}
		if !present[im.Spec.Digest] {
			// Its names were removed or now point at newer images: nothing to free.
			r.forget(ctx, im, "its image is no longer in the runtime")
			continue
		}
		candidates = append(candidates, im)
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		a, b := lastUse(candidates[i]), lastUse(candidates[j])
		if !a.Equal(b) {
			return a.Before(b)
		}
		return candidates[i].Name < candidates[j].Name
	})
	for _, im := range candidates {
		removed, err := r.removeTracked(ctx, im, why)
		if err != nil {
			return false, err
		}
		if removed {
			return true, nil
		}
	}
	return false, nil
}

// presentDigests lists the digests the runtime has an image name for.
func (r *ImageCleanupReconciler) presentDigests(ctx context.Context) (map[string]bool, error) {
	recs, err := r.Runtime.ListImages(ctx)
	if err != nil {
		return nil, fmt.Errorf("list runtime images: %w", err)
	}
	out := make(map[string]bool, len(recs))
	for _, rec := range recs {
		out[rec.Digest] = true
	}
	return out, nil
}

// removeTracked removes every name of im that still points at its digest and then the
// Image object. It claims the names first (a pull in progress keeps them) and checks the
// containers again under that claim, so no container can have started to need the image
// in between. A runtime failure is kept for KeptBecause and skips the image this time.
func (r *ImageCleanupReconciler) removeTracked(ctx context.Context, im *api.Image, why string) (bool, error) {
	refs := im.Status.References
	end, ok := r.Guard.beginRemove(refs)
	if !ok {
		r.Log.V(1).Info("image is being pulled; kept", "image", refs)
		return false, nil
	}
	defer end()
	users, err := r.loadUsers(ctx)
	if err != nil {
		return false, err
	}
	if who := users.of(im.Spec.Digest, refs); len(who) > 0 {
		return false, nil
	}
	for _, ref := range refs {
		if err := r.Runtime.RemoveImage(ctx, ref, runtime.IfDigest(im.Spec.Digest)); err != nil {
			if ctx.Err() != nil {
				return false, err
			}
			r.mu.Lock()
			r.failed[im.Spec.Digest] = truncate(err.Error(), 512)
			r.mu.Unlock()
			r.Log.Error(err, "remove image; kept until the next cycle", "image", ref, "digest", im.Spec.Digest)
			if werr := r.writeVerdict(ctx, im, r.judge(im, users, r.Clock.Now())); werr != nil {
				r.Log.Error(werr, "image status", "image", im.Name)
			}
			return false, nil
		}
	}
	r.Log.Info("removed image", "image", strings.Join(refs, ","), "digest", im.Spec.Digest, "size", im.Status.Size,
		"lastUsed", lastUse(im).UTC().Format(time.RFC3339), "reason", why)
	r.forget(ctx, im, "")
	return true, nil
}

// forget deletes the Image object of an image that is gone.
func (r *ImageCleanupReconciler) forget(ctx context.Context, im *api.Image, why string) {
	r.mu.Lock()
	delete(r.failed, im.Spec.Digest)
	r.mu.Unlock()
	if err := r.Client.Delete(ctx, im); err != nil && !apierrors.IsNotFound(err) {
		r.Log.Error(err, "forget image", "image", im.Name)
		return
	}
	if why != "" {
		r.Log.Info("forgot image", "image", strings.Join(im.Status.References, ","), "digest", im.Spec.Digest, "reason", why)
	}
}

// untracked is one image no Image object tracks: its names in the runtime.
type untracked struct {
	digest  string
	names   []string
	size    int64
	arrived time.Time
}

// removeUntracked removes up to budget names of untracked images (each name counts, as
// the reference agent counts tags), smallest image first, skipping excluded ones, ones
// younger than UntrackedMinAge and ones a container (the agent's or another client's)
// uses. It returns how many names it removed.
func (r *ImageCleanupReconciler) removeUntracked(ctx context.Context, budget int, why string) (int, error) {
	if budget <= 0 {
		return 0, nil
	}
	recs, err := r.Runtime.ListImages(ctx)
	if err != nil {
		return 0, fmt.Errorf("list runtime images: %w", err)
	}
	var tracked api.ImageList
	if err := r.Client.List(ctx, &tracked); err != nil {
		return 0, fmt.Errorf("list images: %w", err)
	}
	isTracked := map[string]bool{}
	for _, im := range tracked.Items {
		isTracked[im.Spec.Digest] = true
	}
	inUse, err := r.runtimeImagesInUse(ctx)
	if err != nil {
		return 0, err
	}
	byDigest := map[string]*untracked{}
	for _, rec := range recs {
		if isTracked[rec.Digest] {
			continue
		}
		u := byDigest[rec.Digest]
		if u == nil {
			u = &untracked{digest: rec.Digest, size: rec.Size, arrived: rec.CreatedAt}
			byDigest[rec.Digest] = u
		}
		u.names = append(u.names, rec.Name)
		if rec.CreatedAt.Before(u.arrived) {
			u.arrived = rec.CreatedAt
		}
	}
	now := r.Clock.Now()
	var candidates []*untracked
	for _, u := range byDigest {
		if _, ex := r.excluded(u.names); ex || now.Sub(u.arrived) < r.Options.UntrackedMinAge {
			continue
		}
		if slices.ContainsFunc(u.names, func(n string) bool { return inUse[normalizeRef(n)] }) {
			continue
		}
		sort.Strings(u.names)
		candidates = append(candidates, u)
	}
	sort.Slice(candidates, func(i, j int) bool {
		if candidates[i].size != candidates[j].size {
			return candidates[i].size < candidates[j].size
		}
		return candidates[i].digest < candidates[j].digest
	})
	removed := 0
	for _, u := range candidates {
		if removed >= budget {
			break
		}
		end, ok := r.Guard.beginRemove(u.names)
		if !ok {
			continue
		}
		users, err := r.loadUsers(ctx)
		if err != nil {
			end()
			return removed, err
		}
		if len(users.of(u.digest, u.names)) == 0 {
			for _, name := range u.names {
				if removed >= budget {
					break
				}
				if err := r.Runtime.RemoveImage(ctx, name, runtime.IfDigest(u.digest)); err != nil {
					r.Log.Error(err, "remove untracked image", "image", name)
					continue
				}
				removed++
				r.Log.Info("removed untracked image", "image", name, "digest", u.digest, "size", u.size,
					"arrived", u.arrived.UTC().Format(time.RFC3339), "reason", why)
			}
		}
		end()
	}
	return removed, nil
}

// runtimeImagesInUse returns the images (normalized names) of every container
// in the runtime's namespace, the agent's and other clients'.
func (r *ImageCleanupReconciler) runtimeImagesInUse(ctx context.Context) (map[string]bool, error) {
	managed, err := r.Runtime.ListContainers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	other, err := r.Runtime.ListUnmanagedContainers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list other containers: %w", err)
	}
	out := map[string]bool{}
	for _, c := range append(managed, other...) {
		if c.Image != "" {
			out[normalizeRef(c.Image)] = true
		}
	}
	return out, nil
}

// removeUnmanagedContainers removes up to UnmanagedContainersPerCycle containers of other
// clients that are stopped (or never started) and have been for UnmanagedContainerWait,
// oldest first.
func (r *ImageCleanupReconciler) removeUnmanagedContainers(ctx context.Context) {
	list, err := r.Runtime.ListUnmanagedContainers(ctx)
	if err != nil {
		r.Log.Error(err, "list other clients' containers")
		return
	}
	now := r.Clock.Now()
	var due []runtime.ContainerState
	for _, c := range list {
		if c.Status != runtime.StatusStopped && c.Status != runtime.StatusCreated {
			continue
		}
		if now.Sub(stoppedAt(c)) > r.Options.UnmanagedContainerWait {
			due = append(due, c)
		}
	}
	sort.Slice(due, func(i, j int) bool { return stoppedAt(due[i]).Before(stoppedAt(due[j])) })
	removed := 0
	for _, c := range due {
		if removed >= r.Options.UnmanagedContainersPerCycle {
			break
		}
		if err := r.Runtime.RemoveContainer(ctx, c.ID); err != nil {
			r.Log.Error(err, "remove stopped container of another client", "container", c.ID)
			continue
		}
		removed++
		r.Log.Info("removed stopped container of another client", "container", c.ID, "image", c.Image,
			"stopped", stoppedAt(c).UTC().Format(time.RFC3339))
	}
}

// stoppedAt is when a container stopped, or, never started, when it was created.
func stoppedAt(c runtime.ContainerState) time.Time {
	if !c.FinishedAt.IsZero() {
		return c.FinishedAt
	}
	return c.CreatedAt
}
