package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/fake"
)

// unitImg is one image of an image cleanup table row: in the runtime under ref (normalized
// as containerd stores it) and, when tracked, an Image object last used lastUsed ago.
type unitImg struct {
	ref      string
	size     int64
	lastUsed time.Duration
	// untracked images have no Image object; arrived is how long ago they were stored.
	untracked bool
	arrived   time.Duration
	// gone: the Image object exists but the runtime no longer has the image.
	gone bool
}

func unitDigest(ref string) string { return digestOf("image:" + ref) }

// unitImageCleanupOptions: 1h minimum age, 2 per cycle, no disk pressure unless set.
func unitImageCleanupOptions() ImageCleanupOptions {
	return ImageCleanupOptions{Interval: 30 * time.Minute, MinAge: time.Hour, PerCycle: 2,
		UntrackedMinAge: time.Hour, UnmanagedContainersPerCycle: 2, UnmanagedContainerWait: 3 * time.Hour,
		HighPercent: 85, LowPercent: 80}
}

// unitImageCleanup is an image cleanup reconciler over a store holding the images' objects
// and objs, and a fake runtime holding the images, on testutil.Clock().
func unitImageCleanup(t *testing.T, o ImageCleanupOptions, imgs []unitImg, objs ...client.Object) (*ImageCleanupReconciler, *fake.Runtime, client.Client) {
	t.Helper()
	clk := testutil.Clock()
	rt := fake.New(clk)
	for _, im := range imgs {
		d := unitDigest(im.ref)
		if !im.gone {
			clk.SetTime(testutil.Epoch().Add(-im.arrived))
			rt.AddLocalImage(runtime.ImageInfo{Ref: im.ref, Digest: d, Size: im.size})
			clk.SetTime(testutil.Epoch())
		}
		if !im.untracked {
			objs = append(objs, &api.Image{
				ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: api.ImageName(d)},
				Spec:       api.ImageSpec{Digest: d},
				Status: api.ImageStatus{References: []string{im.ref}, Size: im.size,
					PulledAt: unitAgo(im.lastUsed + time.Minute), LastUsedAt: unitAgo(im.lastUsed)},
			})
		}
	}
	st := testutil.Store(t, objs...)
	cl := st.DirectClient()
	return &ImageCleanupReconciler{Client: cl, Runtime: rt, Guard: NewImageGuard(), Clock: clk,
		Log: testutil.Logger(t), Options: o}, rt, cl
}

// unitUser is a container of a task not yet cleaned up that pulled ref.
func unitUser(name, ref string) *api.Container {
	return unitContainer(name, api.ContainerStatusStopped, api.ContainerStatusStopped, func(c *api.Container) {
		c.Spec.Image = ref
		c.Status.ImageDigest = unitDigest(ref)
	})
}

// unitWaiter is a container not yet pulled that asks for ref as the task spells it.
func unitWaiter(name, ref string) *api.Container {
	return unitContainer(name, api.ContainerStatusNone, api.ContainerStatusRunning, func(c *api.Container) { c.Spec.Image = ref })
}

// removedImages are the image names RemoveImage was called for, in call order.
func removedImages(rt *fake.Runtime) []string {
	var out []string
	for _, c := range rt.Calls(fake.MethodRemoveImage) {
		out = append(out, c.Subject)
	}
	return out
}

// imageStatus reads the Image object of ref; ok is false when it is gone.
func imageStatus(t *testing.T, cl client.Client, ref string) (api.ImageStatus, bool) {
	t.Helper()
	im := &api.Image{}
	err := cl.Get(context.Background(), client.ObjectKey{Namespace: api.Namespace, Name: api.ImageName(unitDigest(ref))}, im)
	if client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	return im.Status, err == nil
}

// TestImageCleanupCycle: what one timed cycle removes and keeps, and what each kept image's
// status says.
func TestImageCleanupCycle(t *testing.T) {
	const (
		a = "registry.test/app:a"
		b = "registry.test/app:b"
		c = "registry.test/app:c"
		d = "registry.test/app:d"
	)
	four := []unitImg{{ref: a, size: 10, lastUsed: 5 * time.Hour}, {ref: b, size: 10, lastUsed: 2 * time.Hour},
		{ref: c, size: 10, lastUsed: 3 * time.Hour}, {ref: d, size: 10, lastUsed: 4 * time.Hour}}
	for _, tc := range []struct {
		name    string
		opts    func(*ImageCleanupOptions)
		imgs    []unitImg
		objs    []client.Object
		prepare func(*testing.T, *fake.Runtime, *ImageGuard)
		// failFirst: the first removal (of the first name in wantRemoved's place) fails.
		failFirst string
		// wantRemoved are the names removed, in order; wantKept maps kept names to the
		// start of their KeptBecause.
		wantRemoved []string
		wantKept    map[string]string
		// wantForgotten are tracked images whose object goes without a removal.
		wantForgotten []string
	}{
		{name: "unused images past the minimum age go least recently used first, PerCycle per cycle",
			imgs: four, wantRemoved: []string{a, d},
			wantKept: map[string]string{b: keptWaiting, c: keptWaiting}},
		{name: "a higher PerCycle takes them all",
			opts: func(o *ImageCleanupOptions) { o.PerCycle = 10 }, imgs: four, wantRemoved: []string{a, d, c, b}},
		{name: "an image a task not yet cleaned up pulled stays, whatever its age",
			imgs: four, objs: []client.Object{unitUser("app", a), unitUser("side", d)},
			wantRemoved: []string{c, b},
			wantKept:    map[string]string{a: keptInUse + api.ContainerName(unitTaskName, "app"), d: keptInUse + api.ContainerName(unitTaskName, "side")}},
		{name: "an image a container asks for by another spelling, before its pull, stays",
			imgs:        []unitImg{{ref: "docker.io/library/busybox:latest", lastUsed: 5 * time.Hour}, {ref: b, lastUsed: 5 * time.Hour}},
			objs:        []client.Object{unitWaiter("app", "busybox")},
			wantRemoved: []string{b},
			wantKept:    map[string]string{"docker.io/library/busybox:latest": keptInUse}},
		{name: "an image used within the minimum age stays until it is old enough",
			imgs:        []unitImg{{ref: a, lastUsed: 30 * time.Minute}, {ref: b, lastUsed: 61 * time.Minute}},
			wantRemoved: []string{b}, wantKept: map[string]string{a: "used less than 1h ago"}},
		{name: "an excluded image stays, matched by its normalized name",
			opts:        func(o *ImageCleanupOptions) { o.Exclude = []string{"app:pinned"} },
			imgs:        []unitImg{{ref: "docker.io/library/app:pinned", lastUsed: 5 * time.Hour}, {ref: b, lastUsed: 5 * time.Hour}},
			wantRemoved: []string{b}, wantKept: map[string]string{"docker.io/library/app:pinned": keptExcluded + " (app:pinned)"}},
		{name: "disabled, nothing goes",
			opts: func(o *ImageCleanupOptions) { o.Disable = true }, imgs: four,
			wantKept: map[string]string{}},
		{name: "an image being pulled is skipped for the next one",
			imgs: four, wantRemoved: []string{d, c},
			prepare: func(t *testing.T, _ *fake.Runtime, g *ImageGuard) {
				t.Helper()
				if _, err := g.Pin(context.Background(), a); err != nil {
					t.Fatal(err)
				}
			},
			wantKept: map[string]string{a: keptWaiting, b: keptWaiting}},
		{name: "a removal that fails keeps the image with the reason and the cycle goes on",
			imgs: four, wantRemoved: []string{d, c}, failFirst: a,
			prepare: func(_ *testing.T, rt *fake.Runtime, _ *ImageGuard) {
				rt.FailNext(fake.MethodRemoveImage, errors.New("containerd: image is locked"))
			},
			wantKept: map[string]string{a: keptFailed + "containerd: image is locked", b: keptWaiting}},
		{name: "an image no longer in the runtime is forgotten without counting",
			imgs:        []unitImg{{ref: a, lastUsed: 5 * time.Hour, gone: true}, {ref: b, lastUsed: 4 * time.Hour}, {ref: c, lastUsed: 3 * time.Hour}},
			wantRemoved: []string{b, c}, wantForgotten: []string{a}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := unitImageCleanupOptions()
			if tc.opts != nil {
				tc.opts(&o)
			}
			r, rt, cl := unitImageCleanup(t, o, tc.imgs, tc.objs...)
			if tc.prepare != nil {
				tc.prepare(t, rt, r.Guard)
			}
			r.Cycle(context.Background())

			removed := removedImages(rt)
			if tc.failFirst != "" {
				// The failed call is a call too.
				if len(removed) == 0 || removed[0] != tc.failFirst {
					t.Fatalf("removals %v, want %s (least recently used) first", removed, tc.failFirst)
				}
				removed = removed[1:]
			}
			if !slices.Equal(removed, tc.wantRemoved) {
				t.Errorf("removed %v, want %v", removed, tc.wantRemoved)
			}
			local := rt.LocalImages()
			for _, ref := range tc.wantRemoved {
				if _, ok := local[ref]; ok {
					t.Errorf("%s still in the runtime", ref)
				}
				if _, ok := imageStatus(t, cl, ref); ok {
					t.Errorf("the Image object of removed %s is left", ref)
				}
			}
			for _, ref := range tc.wantForgotten {
				if _, ok := imageStatus(t, cl, ref); ok {
					t.Errorf("the Image object of %s, gone from the runtime, is left", ref)
				}
			}
			for ref, why := range tc.wantKept {
				st, ok := imageStatus(t, cl, ref)
				if !ok {
					t.Errorf("%s: Image object gone, want it kept (%s)", ref, why)
					continue
				}
				if _, ok := local[ref]; !ok {
					t.Errorf("%s removed from the runtime, want it kept", ref)
				}
				if !strings.HasPrefix(st.KeptBecause, why) {
					t.Errorf("%s kept because %q, want %q…", ref, st.KeptBecause, why)
				}
			}
			if o.Disable {
				if len(local) != len(tc.imgs) {
					t.Errorf("cleanup disabled but the runtime has %d of %d images", len(local), len(tc.imgs))
				}
			}
		})
	}
}

// TestImageCleanupStatus: the per-image status says when an image may go, and the
// reconciler comes back then to say it is due.
func TestImageCleanupStatus(t *testing.T) {
	const ref = "registry.test/app:1"
	for _, tc := range []struct {
		name        string
		lastUsed    time.Duration
		objs        []client.Object
		disable     bool
		wantKept    string
		wantAfter   *metav1.Time
		wantRequeue time.Duration
	}{
		{name: "in use: kept, no cleanup time", lastUsed: 5 * time.Hour, objs: []client.Object{unitUser("app", ref)},
			wantKept: keptInUse + api.ContainerName(unitTaskName, "app")},
		{name: "released 20 minutes ago: may go in 40", lastUsed: 20 * time.Minute,
			wantKept: fmt.Sprintf(keptRecent, "1h"), wantAfter: unitAt(40 * time.Minute), wantRequeue: 40 * time.Minute},
		{name: "released long ago: waiting for the next cycle", lastUsed: 2 * time.Hour,
			wantKept: keptWaiting, wantAfter: unitAgo(time.Hour)},
		{name: "cleanup disabled", lastUsed: 2 * time.Hour, disable: true, wantKept: keptDisabled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := unitImageCleanupOptions()
			o.Disable = tc.disable
			r, _, cl := unitImageCleanup(t, o, []unitImg{{ref: ref, lastUsed: tc.lastUsed}}, tc.objs...)
			res, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKey{Namespace: api.Namespace, Name: api.ImageName(unitDigest(ref))}})
			if err != nil {
				t.Fatal(err)
			}
			if res.RequeueAfter != tc.wantRequeue {
				t.Errorf("requeue after %v, want %v", res.RequeueAfter, tc.wantRequeue)
			}
			st, _ := imageStatus(t, cl, ref)
			if st.KeptBecause != tc.wantKept {
				t.Errorf("kept because %q, want %q", st.KeptBecause, tc.wantKept)
			}
			if !sameSecond(st.CleanupAfter, tc.wantAfter) {
				t.Errorf("cleanup after %v, want %v", st.CleanupAfter, tc.wantAfter)
			}
		})
	}
}

// TestImageCleanupUntracked: with ECS_ENABLE_UNTRACKED_IMAGE_CLEANUP, other clients'
// stopped containers go after the wait, at most NONECS_NUM_CONTAINERS_DELETE_PER_CYCLE;
// then untracked images, smallest first, past NON_ECS_IMAGE_MINIMUM_CLEANUP_AGE, not
// excluded, not used by any container, with what the tracked images left of the per-cycle
// budget.
func TestImageCleanupUntracked(t *testing.T) {
	imgs := []unitImg{
		{ref: "registry.test/tracked:old", size: 500, lastUsed: 5 * time.Hour},
		{ref: "registry.test/big:1", size: 300, untracked: true, arrived: 2 * time.Hour},
		{ref: "registry.test/small:1", size: 100, untracked: true, arrived: 2 * time.Hour},
		{ref: "registry.test/mid:1", size: 200, untracked: true, arrived: 2 * time.Hour},
		{ref: "registry.test/new:1", size: 1, untracked: true, arrived: 10 * time.Minute},
		{ref: "registry.test/keep:1", size: 1, untracked: true, arrived: 2 * time.Hour},
		{ref: "registry.test/used:1", size: 1, untracked: true, arrived: 2 * time.Hour},
	}
	o := unitImageCleanupOptions()
	o.Untracked = true
	o.PerCycle = 3
	o.Exclude = []string{"registry.test/keep:1"}
	r, rt, _ := unitImageCleanup(t, o, imgs)
	at := func(d time.Duration) time.Time { return testutil.Epoch().Add(-d) }
	rt.AddUnmanagedContainer(runtime.ContainerState{ID: "ctr-running", Image: "registry.test/used:1", Status: runtime.StatusRunning})
	rt.AddUnmanagedContainer(runtime.ContainerState{ID: "ctr-old", Status: runtime.StatusStopped, FinishedAt: at(5 * time.Hour)})
	rt.AddUnmanagedContainer(runtime.ContainerState{ID: "ctr-older", Status: runtime.StatusStopped, FinishedAt: at(6 * time.Hour)})
	rt.AddUnmanagedContainer(runtime.ContainerState{ID: "ctr-created", Status: runtime.StatusCreated, CreatedAt: at(4 * time.Hour)})
	rt.AddUnmanagedContainer(runtime.ContainerState{ID: "ctr-recent", Status: runtime.StatusStopped, FinishedAt: at(time.Hour)})

	r.Cycle(context.Background())

	var removedCtrs []string
	for _, c := range rt.Calls(fake.MethodRemoveContainer) {
		removedCtrs = append(removedCtrs, c.Subject)
	}
	if want := []string{"ctr-older", "ctr-old"}; !slices.Equal(removedCtrs, want) {
		t.Errorf("removed containers %v, want %v (oldest first, 2 per cycle, never running or recently stopped)", removedCtrs, want)
	}
	// One tracked removal leaves 2 of 3 for untracked images: the two smallest eligible.
	want := []string{"registry.test/tracked:old", "registry.test/small:1", "registry.test/mid:1"}
	if got := removedImages(rt); !slices.Equal(got, want) {
		t.Errorf("removed images %v, want %v", got, want)
	}
	left := slices.Sorted(maps.Keys(rt.LocalImages()))
	if want := []string{"registry.test/big:1", "registry.test/keep:1", "registry.test/new:1", "registry.test/used:1"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

// TestImageCleanupDiskPressure: above the high-water mark images go by the cycle's rules,
// least recently used first and without the per-cycle cap, until usage is under the
// low-water mark; in-use and recently used images stay even if that is not enough.
func TestImageCleanupDiskPressure(t *testing.T) {
	const mb = 1 << 20
	imgs := func(n int) []unitImg {
		var out []unitImg
		for i := range n {
			out = append(out, unitImg{ref: fmt.Sprintf("registry.test/app:%d", i), size: 100 * mb, lastUsed: time.Duration(10-i) * time.Hour})
		}
		return out
	}
	ref := func(i int) string { return fmt.Sprintf("registry.test/app:%d", i) }
	for _, tc := range []struct {
		name  string
		imgs  []unitImg
		objs  []client.Object
		base  uint64
		high  int
		low   int
		want  []string
		check func(*testing.T, *ImageCleanupReconciler)
	}{
		{name: "under the high-water mark nothing goes", imgs: imgs(5), base: 300 * mb, high: 85, low: 80},
		{name: "above it, least recently used until under the low-water mark",
			imgs: imgs(6), base: 300 * mb, high: 85, low: 50, // 900 of 1000 → under 500
			want: []string{ref(0), ref(1), ref(2), ref(3), ref(4)}},
		{name: "in-use images are kept even if that leaves the disk above the mark",
			imgs: imgs(6), base: 300 * mb, high: 85, low: 50,
			objs: []client.Object{unitUser("a", ref(0)), unitUser("b", ref(2)), unitUser("c", ref(3))},
			want: []string{ref(1), ref(4), ref(5)}},
		{name: "recently used images are kept",
			imgs: append(imgs(2), unitImg{ref: "registry.test/fresh:1", size: 500 * mb, lastUsed: time.Minute}),
			base: 300 * mb, high: 85, low: 10, want: []string{ref(0), ref(1)}},
		{name: "100 percent turns pressure cleanup off", imgs: imgs(6), base: 350 * mb, high: 100, low: 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := unitImageCleanupOptions()
			o.HighPercent, o.LowPercent = tc.high, tc.low
			r, rt, _ := unitImageCleanup(t, o, tc.imgs, tc.objs...)
			rt.SetImageFilesystem("/var/lib/containerd", 1000*mb, tc.base)
			r.RelievePressure(context.Background())
			if got := removedImages(rt); !slices.Equal(got, tc.want) {
				t.Errorf("removed %v, want %v", got, tc.want)
			}
		})
	}
}

// TestImageGuard: a pull's pin keeps a name from removal, and a pull of a name being removed
// waits for the removal to end.
func TestImageGuard(t *testing.T) {
	g := NewImageGuard()
	ctx := context.Background()
	unpin, err := g.Pin(ctx, "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.beginRemove([]string{"docker.io/library/busybox:latest"}); ok {
		t.Fatal("a pinned name (another spelling) was claimed for removal")
	}
	unpin()
	unpin() // idempotent
	end, ok := g.beginRemove([]string{"docker.io/library/busybox:latest", "registry.test/app:1"})
	if !ok {
		t.Fatal("an unpinned name could not be claimed")
	}
	if _, ok := g.beginRemove([]string{"registry.test/app:1"}); ok {
		t.Fatal("a name was claimed twice")
	}
	pinned := make(chan struct{})
	go func() {
		if _, err := g.Pin(ctx, "busybox:latest"); err == nil {
			close(pinned)
		}
	}()
	select {
	case <-pinned:
		t.Fatal("a pull pinned a name while it was being removed")
	case <-time.After(20 * time.Millisecond):
	}
	end()
	testutil.Eventually(t, "the waiting pull to pin the name once the removal ended", func() bool {
		select {
		case <-pinned:
			return true
		default:
			return false
		}
	})
	cctx, cancel := context.WithCancel(ctx)
	end, _ = g.beginRemove([]string{"registry.test/other:1"})
	defer end()
	cancel()
	if _, err := g.Pin(cctx, "registry.test/other:1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait returned %v", err)
	}
	var nilGuard *ImageGuard
	if _, err := nilGuard.Pin(ctx, "x"); err != nil {
		t.Fatal(err)
	}
}

// TestImageCleanupPullBehaviors: with every pull behaviour, a task whose image cleanup
// removed runs again, the image pulled anew (the reference agent turns cleanup off for
// prefer-cached instead); and while the first task is not cleaned up its image stays.
func TestImageCleanupPullBehaviors(t *testing.T) {
	for _, b := range []PullBehavior{PullDefault, PullAlways, PullOnce, PullPreferCached} {
		t.Run(string(b), func(t *testing.T) {
			h := newFakeHarness(t, true, func(o *Options, _ *Deps) {
				o.Pull.Behavior = b
				o.Task.CleanupWait = time.Minute
				o.Images.Interval = 30 * time.Minute
				o.Images.MinAge = time.Hour
			})
			tk, cs := fhTask(tid, ctr("app"))
			h.run(tk, cs)
			h.script("app", exitsWith(0, time.Second))
			h.waitContainer("app", "RUNNING", ctrKnown(api.ContainerStatusRunning))
			h.advance(time.Second)
			h.waitTask(tid, "STOPPED", taskKnown(api.TaskStatusStopped))
			ic := h.eng.images.(*ImageCleanupReconciler)
			// Stopped but not cleaned up: the image stays, whatever its age.
			h.clk.Step(2 * time.Hour)
			ic.Cycle(h.ctx)
			if _, ok := h.rt.LocalImages()[fhImage]; !ok {
				t.Fatal("the image of a task not yet cleaned up was removed")
			}
			h.advance(time.Minute)
			h.waitGone(tid)
			// Its containers gone, the image's status says when it may go, without a cycle.
			testutil.Eventually(t, "the image's status after its task was cleaned up", func() bool {
				var im api.Image
				err := h.st.DirectClient().Get(h.ctx, clientKey(api.ImageName(digestOf(fhImage))), &im)
				return err == nil && strings.HasPrefix(im.Status.KeptBecause, "used less than 1h ago") && im.Status.CleanupAfter != nil
			})
			h.clk.Step(time.Hour + time.Second)
			ic.Cycle(h.ctx)
			if _, ok := h.rt.LocalImages()[fhImage]; ok {
				t.Fatalf("the image of a cleaned-up task unused for an hour is still there: %v", h.rt.LocalImages())
			}
			pulls := h.rt.Pulls(fhImage)
			tk, cs = fhTask("t2", ctr("app"))
			h.run(tk, cs)
			h.waitTask("t2", "RUNNING", taskKnown(api.TaskStatusRunning))
			if n := h.rt.Pulls(fhImage); n != pulls+1 {
				t.Fatalf("%d pulls after the removal, want 1", n-pulls)
			}
			var im api.Image
			if err := h.st.DirectClient().Get(h.ctx, clientKey(api.ImageName(digestOf(fhImage))), &im); err != nil {
				t.Fatalf("the image pulled again has no Image object: %v", err)
			}
			if !strings.HasPrefix(im.Status.KeptBecause, keptInUse) && im.Status.KeptBecause != "" {
				t.Errorf("image of a running task: kept because %q", im.Status.KeptBecause)
			}
		})
	}
}
