// Package testutil holds the helpers every package's tests share: a store fixture, a fake
// clock and a condition poller. It exists so each test package does not grow its own copy
// of these (the six fake clocks and five poll helpers issue 15 found), and so a test waits
// on a condition, never on a sleep. Only tests import it.
package testutil

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/store"
)

// Epoch is the time every fake clock starts at, so timestamps in test failures are easy to
// read and no test depends on the machine's clock.
func Epoch() time.Time { return time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC) }

// Clock returns a fake clock at Epoch. Advance it with Step or SetTime; timers and tickers
// created from it fire only then.
func Clock() *clocktesting.FakeClock { return clocktesting.NewFakeClock(Epoch()) }

// Logger returns a logger that writes through t, at verbosity 0.
func Logger(t *testing.T) logr.Logger {
	t.Helper()
	return testr.NewWithOptions(t, testr.Options{Verbosity: 0})
}

// DefaultTimeout bounds Eventually: generous for a loaded 2-core machine, because a
// condition that holds returns at once and only a broken test waits this long.
const DefaultTimeout = 10 * time.Second

// Eventually polls cond every millisecond until it holds, and fails the test after
// DefaultTimeout, naming what it waited for.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	EventuallyWithin(t, DefaultTimeout, what, cond)
}

// EventuallyWithin is Eventually with a timeout of its own.
func EventuallyWithin(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, timeout, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// Scheme returns a scheme with ecsd's object kinds.
func Scheme(t testing.TB) *k8sruntime.Scheme {
	t.Helper()
	s := k8sruntime.NewScheme()
	if err := api.AddToScheme(s); err != nil {
		t.Fatalf("scheme: %v", err)
	}
	return s
}

// Store is an in-memory store (no checkpoint) with its cache started and synced, closed when
// the test ends. objs are created in it first.
func Store(t testing.TB, objs ...client.Object) *store.Store {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.New(ctx, Scheme(t))
	if err != nil {
		cancel()
		t.Fatalf("store: %v", err)
	}
	for _, o := range objs {
		if err := st.DirectClient().Create(ctx, o); err != nil {
			cancel()
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- st.Cache().Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	if !st.Cache().WaitForCacheSync(ctx) {
		t.Fatal("store cache did not sync")
	}
	return st
}
