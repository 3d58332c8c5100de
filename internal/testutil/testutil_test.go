package testutil

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

func TestStoreSeedsObjectsAndCacheSeesWrites(t *testing.T) {
	seed := &api.Task{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "seeded"}}
	st := Store(t, seed)
	got := &api.Task{}
	if err := st.Client().Get(context.Background(), client.ObjectKeyFromObject(seed), got); err != nil {
		t.Fatalf("seeded task not in the cache: %v", err)
	}
	later := &api.Task{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "later"}}
	if err := st.DirectClient().Create(context.Background(), later); err != nil {
		t.Fatal(err)
	}
	Eventually(t, "the cache to see a later write", func() bool {
		return st.Client().Get(context.Background(), client.ObjectKeyFromObject(later), &api.Task{}) == nil
	})
}

func TestClockStartsAtEpochAndOnlyMovesWhenStepped(t *testing.T) {
	c := Clock()
	if !c.Now().Equal(Epoch()) {
		t.Fatalf("clock at %v, want %v", c.Now(), Epoch())
	}
	timer := c.NewTimer(time.Minute)
	select {
	case <-timer.C():
		t.Fatal("timer fired before the clock moved")
	default:
	}
	c.Step(time.Minute)
	select {
	case <-timer.C():
	case <-time.After(5 * time.Second):
		t.Fatal("timer did not fire after the clock moved past it")
	}
}

func TestEventuallyFailsWhenTheConditionNeverHolds(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		EventuallyWithin(ft, 20*time.Millisecond, "never", func() bool { return false })
	}()
	if !ft.failed {
		t.Fatal("Eventually returned for a condition that never held")
	}
}

// fatalRecorder records Fatalf instead of ending the test, and stops the caller by panicking.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}
