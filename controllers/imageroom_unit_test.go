package controllers

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
)

// roomMB is a megabyte of the fake image file system.
const roomMB = 1 << 20

// unitStoppedTask is unitTask stopped, to be cleaned up cleanupIn from the clock's epoch.
func unitStoppedTask(cleanupIn time.Duration) *api.Task {
	tk := unitTask("app")
	tk.Spec.DesiredStatus = api.TaskStatusStopped
	tk.Status.KnownStatus = api.TaskStatusStopped
	tk.Status.CleanupAt = unitAt(cleanupIn)
	return tk
}

// unitRoomOptions: 10 s minimum age, marks 85/50 %, pulls wait up to 2 min.
func unitRoomOptions() ImageCleanupOptions {
	o := unitImageCleanupOptions()
	o.MinAge, o.HighPercent, o.LowPercent, o.PullWait = 10*time.Second, 85, 50, 2*time.Minute
	return o
}

// awaitRoomAsync runs AwaitRoom and returns a channel with its result.
func awaitRoomAsync(ctx context.Context, r *ImageCleanupReconciler) <-chan error {
	done := make(chan error, 1)
	go func() { done <- r.AwaitRoom(ctx, "registry.test/next:1") }()
	return done
}

// TestAwaitRoomGoesAheadAtOnce: a pull waits only when the disk is above the high-water
// mark and an image will be removable within the pull wait; otherwise it goes ahead at once
// (without touching the clock) and nothing is removed on its behalf.
func TestAwaitRoomGoesAheadAtOnce(t *testing.T) {
	const ref = "registry.test/app:1"
	big := []unitImg{{ref: ref, size: 600 * roomMB, lastUsed: time.Hour}}
	for _, tc := range []struct {
		name string
		imgs []unitImg
		objs []client.Object
		o    func(*ImageCleanupOptions)
	}{
		{name: "below the high-water mark", imgs: []unitImg{{ref: ref, size: 100 * roomMB, lastUsed: time.Hour}}},
		{name: "in use by a task that runs on", imgs: big,
			objs: []client.Object{unitTask("app"), unitUser("app", ref)}},
		{name: "in use by a stopped task cleaned up after the pull wait", imgs: big,
			objs: []client.Object{unitStoppedTask(3 * time.Hour), unitUser("app", ref)}},
		{name: "in use by a stopped task with no cleanup time yet", imgs: big,
			objs: []client.Object{func() client.Object { tk := unitStoppedTask(0); tk.Status.CleanupAt = nil; return tk }(), unitUser("app", ref)}},
		{name: "its task's cleanup is soon but the minimum age is not", imgs: big,
			objs: []client.Object{unitStoppedTask(30 * time.Second), unitUser("app", ref)},
			o:    func(o *ImageCleanupOptions) { o.MinAge = time.Hour }},
		{name: "used too recently for the pull wait", imgs: []unitImg{{ref: ref, size: 600 * roomMB, lastUsed: time.Second}},
			o: func(o *ImageCleanupOptions) { o.MinAge = time.Hour }},
		{name: "excluded", imgs: big, objs: []client.Object{unitStoppedTask(30 * time.Second), unitUser("app", ref)},
			o: func(o *ImageCleanupOptions) { o.Exclude = []string{ref} }},
		{name: "pull wait off", imgs: big, o: func(o *ImageCleanupOptions) { o.PullWait = 0 }},
		{name: "disk pressure off", imgs: big, o: func(o *ImageCleanupOptions) { o.HighPercent = 100 }},
		{name: "image cleanup disabled", imgs: big, o: func(o *ImageCleanupOptions) { o.Disable = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := unitRoomOptions()
			if tc.o != nil {
				tc.o(&o)
			}
			r, rt, _ := unitImageCleanup(t, o, tc.imgs, tc.objs...)
			rt.SetImageFilesystem("/var/lib/containerd", 1000*roomMB, 300*roomMB)
			done := awaitRoomAsync(context.Background(), r)
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("AwaitRoom: %v", err)
				}
			case <-time.After(testutil.DefaultTimeout):
				t.Fatal("the pull waited")
			}
			if got := removedImages(rt); len(got) > 0 {
				t.Errorf("removed %v", got)
			}
		})
	}
}

// TestAwaitRoomWaitsForCleanup: above the high-water mark, a pull waits while the previous
// task's image is about to become removable, and goes ahead once disk-pressure cleanup has
// removed it; bounded by the pull wait, and by its context.
func TestAwaitRoomWaitsForCleanup(t *testing.T) {
	const ref = "registry.test/app:1"
	setup := func(t *testing.T) (*ImageCleanupReconciler, *clocktesting.FakeClock, client.Client, func() []string) {
		t.Helper()
		// 300 + 600 of 1000 MB: above 85 %; the image is the stopped task's until its
		// cleanup in 30 s, then removable 10 s later.
		r, rt, cl := unitImageCleanup(t, unitRoomOptions(), []unitImg{{ref: ref, size: 600 * roomMB, lastUsed: time.Hour}},
			unitStoppedTask(30*time.Second), unitUser("app", ref))
		rt.SetImageFilesystem("/var/lib/containerd", 1000*roomMB, 300*roomMB)
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan struct{})
		go func() { defer close(ran); _ = r.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-ran })
		return r, r.Clock.(*clocktesting.FakeClock), cl, func() []string { return removedImages(rt) }
	}
	// stepUntil advances the clock by step until done has a result.
	stepUntil := func(t *testing.T, clk *clocktesting.FakeClock, step time.Duration, done <-chan error) error {
		t.Helper()
		var err error
		testutil.Eventually(t, "AwaitRoom to return", func() bool {
			select {
			case err = <-done:
				return true
			default:
				clk.Step(step)
				return false
			}
		})
		return err
	}

	t.Run("until the previous task's image is removed", func(t *testing.T) {
		r, clk, cl, removed := setup(t)
		done := awaitRoomAsync(context.Background(), r)
		for range 5 {
			clk.Step(time.Second)
			select {
			case err := <-done:
				t.Fatalf("AwaitRoom returned %v before anything could be removed", err)
			default:
			}
		}
		// The task's cleanup, as CleanupReconciler does it: the image records its last
		// use, the container goes.
		clk.SetTime(testutil.Epoch().Add(30 * time.Second))
		setLastUsed(t, cl, ref, clk.Now())
		if err := cl.Delete(context.Background(), unitUser("app", ref)); err != nil {
			t.Fatal(err)
		}
		if err := stepUntil(t, clk, 100*time.Millisecond, done); err != nil {
			t.Fatalf("AwaitRoom: %v", err)
		}
		if got := removed(); !slices.Equal(got, []string{ref}) {
			t.Errorf("removed %v, want the previous task's image", got)
		}
		if at := clk.Since(testutil.Epoch()); at < 40*time.Second {
			t.Errorf("went ahead %s after the epoch, before the image was old enough (40s)", at)
		}
	})

	t.Run("at most the pull wait", func(t *testing.T) {
		r, clk, _, removed := setup(t)
		// Nobody cleans the task up: the image stays in use.
		if err := stepUntil(t, clk, time.Second, awaitRoomAsync(context.Background(), r)); err != nil {
			t.Fatalf("AwaitRoom: %v", err)
		}
		if at := clk.Since(testutil.Epoch()); at < 2*time.Minute {
			t.Errorf("went ahead after %s, before the pull wait (2m) was over", at)
		}
		if got := removed(); len(got) > 0 {
			t.Errorf("removed %v, an image in use", got)
		}
	})

	t.Run("until its context ends", func(t *testing.T) {
		r, _, _, _ := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := awaitRoomAsync(ctx, r)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("AwaitRoom returned %v, want context.Canceled", err)
			}
		case <-time.After(testutil.DefaultTimeout):
			t.Fatal("AwaitRoom did not return when its context ended")
		}
	})
}

// setLastUsed records at as the last use of the image named ref.
func setLastUsed(t *testing.T, cl client.Client, ref string, at time.Time) {
	t.Helper()
	im := &api.Image{}
	if err := cl.Get(context.Background(), client.ObjectKey{Namespace: api.Namespace, Name: api.ImageName(unitDigest(ref))}, im); err != nil {
		t.Fatal(err)
	}
	im.Status.LastUsedAt = metaTime(at)
	if err := cl.Status().Update(context.Background(), im); err != nil {
		t.Fatal(err)
	}
}
