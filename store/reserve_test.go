//go:build integration

package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testenv"
)

// bigTask is a task whose record takes about n bytes.
func bigTask(name string, n int) *v1alpha1.Task {
	tk := task(name)
	tk.Spec.Family = strings.Repeat("f", n)
	return tk
}

// TestReserveKeepsStateWritableOnAFullDisk fills the checkpoint's filesystem, then goes on
// creating and updating objects: with the reserve every write succeeds and survives a
// reopen; the writes that outgrow the reserve fail with ENOSPC (never silently), and once
// space returns the reserve is restored.
func TestReserveKeepsStateWritableOnAFullDisk(t *testing.T) {
	ctx := context.Background()
	dir := testenv.MountTmpfs(t, "size=8m")
	path := filepath.Join(dir, "ecsd.db")
	s, err := New(ctx, testScheme(t), WithCheckpoint(path), WithCheckpointReserve(2<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Create(ctx, task("first")); err != nil {
		t.Fatal(err)
	}
	if sp := s.CheckpointSpace(); sp.Headroom < 1<<20 || sp.NoSpace {
		t.Fatalf("after the first commit: %+v", sp)
	}
	ballast := filepath.Join(dir, "ballast")
	testenv.FillUp(t, ballast)

	// 1 MiB of new records, in 4 KiB objects, on a full disk.
	var names []string
	for i := range 256 {
		name := fmt.Sprintf("full-%03d", i)
		if err := s.Create(ctx, bigTask(name, 4000)); err != nil {
			t.Fatalf("create %s on a full disk, headroom %+v: %v", name, s.CheckpointSpace(), err)
		}
		names = append(names, name)
	}
	// Updates reuse freed pages: many more of them than the reserve could hold.
	for i := range 2000 {
		tk := &v1alpha1.Task{}
		if err := s.Get(ctx, keyOf("full-000"), tk); err != nil {
			t.Fatal(err)
		}
		tk.Status.StoppedReason = strconv.Itoa(i)
		if err := s.UpdateStatus(ctx, tk); err != nil {
			t.Fatalf("update %d on a full disk: %v", i, err)
		}
	}
	// Outgrowing the reserve fails, and says why.
	var failed error
	for i := 0; failed == nil && i < 1024; i++ {
		failed = s.Create(ctx, bigTask(fmt.Sprintf("over-%04d", i), 4000))
	}
	if !errors.Is(failed, syscall.ENOSPC) {
		t.Fatalf("writing past the reserve: err = %v, want ENOSPC", failed)
	}
	if sp := s.CheckpointSpace(); !sp.NoSpace || sp.Since.IsZero() || !strings.Contains(sp.Err, "no space left") {
		t.Fatalf("space state after a failed commit: %+v", sp)
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	// Space returned: asked to, the store restores its reserve without a commit.
	eventually(t, "the reserve to be restored without a commit", func() bool {
		s.RetryCheckpointReserve()
		sp := s.CheckpointSpace()
		return !sp.NoSpace && sp.Headroom >= 1<<20
	})
	// And commits go on.
	eventually(t, "the reserve to be restored", func() bool {
		if err := s.Create(ctx, task("after-"+strconv.Itoa(len(names)))); err != nil {
			t.Fatalf("create after space returned: %v", err)
		}
		names = append(names, "after-"+strconv.Itoa(len(names)))
		sp := s.CheckpointSpace()
		return !sp.NoSpace && sp.Headroom >= 1<<20
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := newStore(t, WithCheckpoint(path))
	for _, n := range append(names, "first") {
		if err := s2.Get(ctx, keyOf(n), &v1alpha1.Task{}); err != nil {
			t.Fatalf("%s after reopen: %v", n, err)
		}
	}
	tk := &v1alpha1.Task{}
	if err := s2.Get(ctx, keyOf("full-000"), tk); err != nil || tk.Status.StoppedReason != "1999" {
		t.Fatalf("last update before reopen: %q, %v", tk.Status.StoppedReason, err)
	}
}

// TestWithoutReserveAFullDiskFailsCommits is the control: the same full disk with no
// reserve refuses state changes at once.
func TestWithoutReserveAFullDiskFailsCommits(t *testing.T) {
	ctx := context.Background()
	dir := testenv.MountTmpfs(t, "size=4m")
	s := newStore(t, WithCheckpoint(filepath.Join(dir, "ecsd.db")), WithCheckpointReserve(0))
	if err := s.Create(ctx, task("first")); err != nil {
		t.Fatal(err)
	}
	testenv.FillUp(t, filepath.Join(dir, "ballast"))
	var failed error
	for i := 0; failed == nil && i < 64; i++ {
		failed = s.Create(ctx, bigTask(fmt.Sprintf("t-%02d", i), 4000))
	}
	if !errors.Is(failed, syscall.ENOSPC) {
		t.Fatalf("err = %v, want ENOSPC", failed)
	}
}

func keyOf(name string) client.ObjectKey {
	return client.ObjectKey{Namespace: v1alpha1.Namespace, Name: name}
}
