//go:build integration

package store

import (
	"context"
	"testing"
	"time"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// A status write returns once it is in the file, before its fsync, which follows within
// lazySyncDelay; a spec write waits for its fsync, which covers the status written before.
// Either way a reopened store (the agent restarted, the page cache kept) has both.
func TestStatusWritesSyncLazily(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	s, err := New(ctx, testScheme(t), WithCheckpoint(path), WithCheckpointReserve(0))
	if err != nil {
		t.Fatal(err)
	}
	tk := task("lazy")
	if err := s.Create(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if s.unsynced.Load() {
		t.Fatal("a create left the checkpoint unsynced")
	}
	tk.Status.KnownStatus = v1alpha1.TaskStatusRunning
	if err := s.UpdateStatus(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if !s.unsynced.Load() {
		t.Fatal("a status write waited for its fsync")
	}
	deadline := time.Now().Add(10 * lazySyncDelay)
	for s.unsynced.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("the status write was not synced within %s", 10*lazySyncDelay)
		}
		time.Sleep(10 * time.Millisecond)
	}
	tk.Status.StoppedReason = "second"
	if err := s.UpdateStatus(ctx, tk); err != nil {
		t.Fatal(err)
	}
	tk.Spec.DesiredStatus = v1alpha1.TaskStatusStopped
	if err := s.Update(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if s.unsynced.Load() {
		t.Fatal("a spec write after a status write left the checkpoint unsynced")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	r := newStore(t, WithCheckpoint(path), WithCheckpointReserve(0))
	got := &v1alpha1.Task{}
	if err := r.Get(ctx, keyOf(tk.Name), got); err != nil {
		t.Fatal(err)
	}
	if got.Status.KnownStatus != v1alpha1.TaskStatusRunning || got.Status.StoppedReason != "second" || got.Spec.DesiredStatus != v1alpha1.TaskStatusStopped {
		t.Fatalf("after reopening: %+v %+v", got.Spec, got.Status)
	}
}
