package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/store/internal/boltfile"
)

// fixedClock names moved-aside checkpoints predictably.
var fixedClock = func() time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC) }

const movedSuffix = ".corrupt-20240102T030405Z"

// fillCheckpoint writes n running tasks with two containers each, shaped like the engine's
// (statuses, history, timestamps), plus registration metadata, and closes the store.
func fillCheckpoint(t testing.TB, path string, n int) {
	t.Helper()
	ctx := context.Background()
	s, err := New(ctx, testScheme(t), WithCheckpoint(path), WithCheckpointReserve(0)) // the reserve is not under test; 8 MiB per open would dominate the sweep
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now().Rfc3339Copy()
	var objs []client.Object
	for i := range n {
		id := fmt.Sprintf("%032x", i+1)
		tk := task(id)
		tk.Status = v1alpha1.TaskStatus{KnownStatus: v1alpha1.TaskStatusRunning, KnownStatusTime: &now, SentStatus: v1alpha1.TaskStatusRunning,
			History: []v1alpha1.Transition{{Time: now, From: "NONE", To: "MANIFEST_PULLED"}, {Time: now, From: "MANIFEST_PULLED", To: "CREATED"}, {Time: now, From: "CREATED", To: "RUNNING"}}}
		objs = append(objs, tk)
		for _, name := range []string{"app", "sidecar"} {
			c := container(id, name)
			code := int32(0)
			c.Status = v1alpha1.ContainerStatus{KnownStatus: v1alpha1.ContainerStatusRunning, DesiredStatus: v1alpha1.ContainerStatusRunning,
				SentStatus: v1alpha1.ContainerStatusRunning, RuntimeID: c.Name, ImageDigest: "sha256:" + strings.Repeat("ab", 32),
				ExitCode: &code, CreatedAt: &now, StartedAt: &now, LogPath: "/var/lib/ecsd/tasks/" + id + "/logs/" + name + ".log",
				History: tk.Status.History}
			objs = append(objs, c)
		}
		if len(objs) >= 60 {
			if err := s.CreateAll(ctx, objs...); err != nil {
				t.Fatal(err)
			}
			objs = objs[:0]
		}
	}
	if len(objs) > 0 {
		if err := s.CreateAll(ctx, objs...); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutMeta("container-instance-arn", "arn:aws:ecs:us-west-2:1:container-instance/x"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// damage is one way a checkpoint gets broken.
type damage struct {
	name string
	do   func(data []byte) []byte
	// moved says the store must move the file aside (false: it may or may not, depending on
	// whether the change is detectable, but it must start either way).
	moved bool
}

func truncateTo(n int) func([]byte) []byte {
	return func(b []byte) []byte { return b[:min(n, len(b))] }
}

func zeroRange(off, n int) func([]byte) []byte {
	return func(b []byte) []byte {
		clear(b[off:min(off+n, len(b))])
		return b
	}
}

func flipBit(off int, bit uint) func([]byte) []byte {
	return func(b []byte) []byte {
		if off < len(b) {
			b[off] ^= 1 << bit
		}
		return b
	}
}

// damages lists the damage done to a checkpoint of size bytes whose meta page claims hwm
// pages. bbolt grows files ahead of use, so only a cut below hwm pages loses anything.
func damages(size, hwm int) []damage {
	const ps = 4096
	used := hwm * ps
	ds := []damage{
		{"truncated to 1 byte", truncateTo(1), true},
		{"truncated to 100 bytes", truncateTo(100), true},
		{"truncated to one page", truncateTo(ps), true},
		{"truncated to the meta pages", truncateTo(2 * ps), true},
		{"truncated to 3 pages", truncateTo(3 * ps), true},
		{"truncated to half its pages", truncateTo(used / 2), true},
		{"truncated by a page", truncateTo(used - ps), true},
		{"truncated by a byte", truncateTo(used - 1), true},
		{"truncated after its last page", truncateTo(used), false},
		{"both meta pages zero-filled", zeroRange(0, 2*ps), true},
		{"a data page zero-filled", zeroRange(3*ps, ps), false},
		{"the last page zero-filled", zeroRange(size-ps, ps), false},
		{"everything zero-filled", zeroRange(0, size), true},
		// bbolt would carry on with the other meta page; tx.Check refuses the zeroed page.
		{"one meta page zero-filled", zeroRange(0, ps), true},
	}
	// Bit flips in page headers (page id, flags, element count, overflow), in element headers
	// (positions, sizes, child page numbers) and in keys and values.
	for _, p := range []int{2, 3, 4, hwm / 2, hwm - 2, hwm - 1} {
		for _, off := range []int{0, 4, 7, 8, 10, 11, 12, 15, 16, 20, 24, 28, 31, 40, 100, 1000, 3000} {
			for _, bit := range []uint{0, 6} {
				o := p*ps + off
				ds = append(ds, damage{fmt.Sprintf("bit %d flipped at page %d+%d", bit, p, off), flipBit(o, bit), false})
			}
		}
	}
	return ds
}

// TestDamagedCheckpointsNeverStopTheStore: truncated, zero-filled and bit-flipped
// checkpoints. The store must open every time (bbolt never panics out of it); a damaged file
// is moved aside, byte for byte, under a name not ending in .db and the store starts empty;
// either way the store then works and survives a reopen.
func TestDamagedCheckpointsNeverStopTheStore(t *testing.T) {
	golden := filepath.Join(t.TempDir(), "golden.db")
	fillCheckpoint(t, golden, 40)
	orig, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	info, err := boltfile.Verify(orig)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("checkpoint with 40 tasks and 80 containers: %d bytes, %d pages in use", len(orig), info.HighWater)
	ctx := context.Background()
	movedCount := 0
	dir := fastTempDir(t)
	for i, d := range damages(len(orig), int(info.HighWater)) {
		t.Run(d.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("d%d", i), "ecsd.db")
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			bad := d.do(bytes.Clone(orig))
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			var logged []string
			log := funcr.New(func(prefix, args string) { logged = append(logged, args) }, funcr.Options{})
			s, err := New(ctx, testScheme(t), WithCheckpoint(path), WithClock(fixedClock), WithLogger(log), WithCheckpointReserve(0))
			if err != nil {
				t.Fatalf("store did not open: %v", err)
			}
			rs := s.Recoveries()
			var l v1alpha1.TaskList
			_ = s.List(ctx, &l)
			switch {
			case len(rs) > 0:
				movedCount++
				if rs[0].MovedTo != path+movedSuffix || strings.HasSuffix(rs[0].MovedTo, ".db") {
					t.Errorf("moved to %q, want %q", rs[0].MovedTo, path+movedSuffix)
				}
				if got, err := os.ReadFile(rs[0].MovedTo); err != nil || !bytes.Equal(got, bad) {
					t.Errorf("moved-aside file differs from the damaged one (%v)", err)
				}
				if len(l.Items) != 0 {
					t.Errorf("%d tasks after starting from an empty checkpoint", len(l.Items))
				}
				if !containsAll(logged, `"level"=0`, "checkpoint is damaged", rs[0].MovedTo) && !containsAll(logged, "checkpoint is damaged", rs[0].MovedTo) {
					t.Errorf("no log line says where the damaged checkpoint went: %q", logged)
				}
				t.Logf("moved aside: %s", rs[0].Reason)
			case d.moved:
				t.Errorf("a damaged checkpoint was not moved aside (%d tasks loaded)", len(l.Items))
			default:
				t.Logf("kept: %d of 40 tasks loaded", len(l.Items))
			}
			if err := s.Create(ctx, task("after")); err != nil {
				t.Fatalf("store does not work after opening: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2 := newStore(t, WithCheckpoint(path))
			if len(s2.Recoveries()) != 0 {
				t.Fatalf("the checkpoint written after recovery is damaged: %+v", s2.Recoveries())
			}
			if err := s2.Get(ctx, client.ObjectKey{Name: "after"}, &v1alpha1.Task{}); err != nil {
				t.Fatalf("write after recovery lost: %v", err)
			}
		})
	}
	t.Logf("%d damaged checkpoints moved aside", movedCount)
}

// fastTempDir is a temporary directory on tmpfs when the machine has /dev/shm: the sweep
// opens and writes a checkpoint a thousand times, and what it tests is not the disk's fsync.
func fastTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "ecsd-store-test-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func containsAll(lines []string, parts ...string) bool {
	for _, l := range lines {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestBitFlipSweepNeverPanics flips one bit in every page header byte and at a stride
// through the rest of a checkpoint and opens each result: the store must open every time.
func TestBitFlipSweepNeverPanics(t *testing.T) {
	golden := filepath.Join(t.TempDir(), "golden.db")
	fillCheckpoint(t, golden, 12)
	orig, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int
	for off := 0; off < len(orig); off++ {
		if off%4096 < 32 || off%509 == 0 {
			offs = append(offs, off)
		}
	}
	ctx := context.Background()
	dir := fastTempDir(t)
	moved, kept := 0, 0
	for i, off := range offs {
		bit := uint(i % 8)
		path := filepath.Join(dir, fmt.Sprintf("f%d.db", i))
		if err := os.WriteFile(path, flipBit(off, bit)(bytes.Clone(orig)), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := New(ctx, testScheme(t), WithCheckpoint(path), WithCheckpointReserve(0)) // the reserve is not under test; 8 MiB per open would dominate the sweep
		if err != nil {
			t.Fatalf("bit %d at offset %d: store did not open: %v", bit, off, err)
		}
		if len(s.Recoveries()) > 0 {
			moved++
		} else {
			kept++
		}
		if err := s.Create(ctx, task("after")); err != nil {
			t.Fatalf("bit %d at offset %d: store does not work: %v", bit, off, err)
		}
		_ = s.Close()
		// What the store wrote on top of a file it kept must be sound.
		if after, err := os.ReadFile(path); err != nil {
			t.Fatal(err)
		} else if _, err := boltfile.Verify(after); err != nil {
			t.Fatalf("bit %d at offset %d: the store kept the file and its writes damaged it: %v", bit, off, err)
		}
		_ = os.Remove(path)
		for _, f := range corruptFiles(path) {
			_ = os.Remove(f)
		}
	}
	t.Logf("%d single-bit flips of a %d-byte checkpoint: %d moved aside, %d opened", len(offs), len(orig), moved, kept)
}

// TestCommitterRebuildsFromMemory truncates the checkpoint under a running store, so bbolt
// faults on its memory map at the next commit. The store must contain it, write a fresh
// checkpoint from memory, move the damaged one aside, and lose nothing: not the objects, not
// the metadata, not the write that hit the fault.
func TestCommitterRebuildsFromMemory(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	fillCheckpoint(t, path, 30)
	var logged []string
	log := funcr.New(func(prefix, args string) { logged = append(logged, args) }, funcr.Options{})
	s := newStore(t, WithCheckpoint(path), WithClock(fixedClock), WithLogger(log))
	if err := os.Truncate(path, 8192); err != nil { // just the meta pages
		t.Fatal(err)
	}
	tk := &v1alpha1.Task{}
	if err := s.Get(ctx, client.ObjectKey{Name: fmt.Sprintf("%032x", 7)}, tk); err != nil {
		t.Fatal(err)
	}
	tk.Status.SentStatus = v1alpha1.TaskStatusStopped
	if err := s.UpdateStatus(ctx, tk); err != nil {
		t.Fatalf("write after the checkpoint broke: %v", err)
	}
	if err := s.Create(ctx, task("new")); err != nil {
		t.Fatalf("create after the rebuild: %v", err)
	}
	if err := s.PutMeta("k", "v"); err != nil {
		t.Fatal(err)
	}
	rs := s.Recoveries()
	if len(rs) != 1 || rs[0].MovedTo != path+movedSuffix {
		t.Fatalf("recoveries %+v, want the truncated checkpoint moved to %s", rs, path+movedSuffix)
	}
	if fi, err := os.Stat(rs[0].MovedTo); err != nil || fi.Size() != 8192 {
		t.Fatalf("moved-aside checkpoint: %v %v", fi, err)
	}
	if !containsAll(logged, "wrote a fresh one from memory", rs[0].MovedTo) {
		t.Errorf("no log line says the checkpoint was rebuilt and where the damaged one went: %q", logged)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := newStore(t, WithCheckpoint(path))
	if len(s2.Recoveries()) != 0 {
		t.Fatalf("rebuilt checkpoint is damaged: %+v", s2.Recoveries())
	}
	var tl v1alpha1.TaskList
	var cl v1alpha1.ContainerList
	_ = s2.List(ctx, &tl)
	_ = s2.List(ctx, &cl)
	if len(tl.Items) != 31 || len(cl.Items) != 60 {
		t.Fatalf("rebuilt checkpoint holds %d tasks and %d containers, want 31 and 60", len(tl.Items), len(cl.Items))
	}
	got := &v1alpha1.Task{}
	_ = s2.Get(ctx, client.ObjectKey{Name: fmt.Sprintf("%032x", 7)}, got)
	if got.Status.SentStatus != v1alpha1.TaskStatusStopped {
		t.Errorf("the write that hit the fault was lost: sent status %q", got.Status.SentStatus)
	}
	for k, want := range map[string]string{"k": "v", "container-instance-arn": "arn:aws:ecs:us-west-2:1:container-instance/x"} {
		if v, ok, _ := s2.GetMeta(k); !ok || v != want {
			t.Errorf("meta %s = %q %v after the rebuild, want %q", k, v, ok, want)
		}
	}
}

// TestCorruptCopiesArePruned: only the newest DefaultKeepCorrupt damaged checkpoints stay.
func TestCorruptCopiesArePruned(t *testing.T) {
	path := dbPath(t)
	ctx := context.Background()
	for i := range DefaultKeepCorrupt + 2 {
		if err := os.WriteFile(path, []byte("not a database at all, just text"), 0o600); err != nil {
			t.Fatal(err)
		}
		at := fixedClock().Add(time.Duration(i) * time.Hour)
		s, err := New(ctx, testScheme(t), WithCheckpoint(path), WithClock(func() time.Time { return at }))
		if err != nil {
			t.Fatal(err)
		}
		// Distinct modification times, oldest first, whatever the filesystem's resolution.
		mt := at
		_ = os.Chtimes(s.Recoveries()[0].MovedTo, mt, mt)
		_ = s.Close()
		_ = os.Remove(path)
	}
	left := corruptFiles(path)
	if len(left) != DefaultKeepCorrupt {
		t.Fatalf("%d damaged checkpoints kept, want %d: %v", len(left), DefaultKeepCorrupt, left)
	}
	if !strings.HasSuffix(left[0], ".corrupt-20240102T050405Z") {
		t.Errorf("oldest kept %s, want the third one", left[0])
	}
}

// TestInspectCheckpoint reads a checkpoint in use by a store, without disturbing it, and a
// damaged one.
func TestInspectCheckpoint(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	fillCheckpoint(t, path, 3)
	s := newStore(t, WithCheckpoint(path))
	before, _ := os.ReadFile(path)
	in, err := InspectCheckpoint(ctx, testScheme(t), path)
	if err != nil {
		t.Fatal(err)
	}
	if !in.InUse || in.Integrity != nil || in.Schema != schemaVersion || len(in.Objects) != 9 ||
		in.Meta["container-instance-arn"] == "" {
		t.Fatalf("inspection of a sound checkpoint in use: inUse %v integrity %v schema %q objects %d meta %v",
			in.InUse, in.Integrity, in.Schema, len(in.Objects), in.Meta)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("inspecting modified the checkpoint")
	}
	_ = s.Close()

	if err := os.Truncate(path, int64(len(before)/2)); err != nil {
		t.Fatal(err)
	}
	in, err = InspectCheckpoint(ctx, testScheme(t), path)
	if err != nil {
		t.Fatal(err)
	}
	if in.InUse || !errors.Is(in.Integrity, ErrCorrupt) || !strings.Contains(in.Integrity.Error(), "truncated") {
		t.Fatalf("truncated checkpoint: inUse %v integrity %v", in.InUse, in.Integrity)
	}
	if fi, _ := os.Stat(path); fi.Size() != int64(len(before)/2) {
		t.Error("inspecting changed the damaged checkpoint")
	}
}

// TestCommitterContainsBboltPanic overwrites the pages of a running store's checkpoint with
// garbage (same size, so only bbolt's page checks notice): the next commit panics inside
// bbolt, and the store must contain it, rebuild from memory and keep the write.
func TestCommitterContainsBboltPanic(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	fillCheckpoint(t, path, 30)
	s := newStore(t, WithCheckpoint(path), WithClock(fixedClock))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte{0xa5}, int(fi.Size())-8192)
	if _, err := f.WriteAt(garbage, 8192); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if err := s.Create(ctx, task("new")); err != nil {
		t.Fatalf("write after the pages were garbled: %v", err)
	}
	rs := s.Recoveries()
	if len(rs) != 1 || !strings.Contains(rs[0].Reason, "panicked") {
		t.Fatalf("recoveries %+v, want one after a bbolt panic", rs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := newStore(t, WithCheckpoint(path))
	var tl v1alpha1.TaskList
	_ = s2.List(ctx, &tl)
	if len(s2.Recoveries()) != 0 || len(tl.Items) != 31 {
		t.Fatalf("rebuilt checkpoint: %d tasks, recoveries %+v; want 31 and none", len(tl.Items), s2.Recoveries())
	}
}

// BenchmarkOpenCheckpoint measures what opening a checkpoint of 250 tasks (500 containers)
// costs, step by step: the structure walk (boltfile.Verify, including reading the file),
// bbolt's tx.Check, and the whole open (verify, bbolt open, check, load, decode).
func BenchmarkOpenCheckpoint(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ecsd.db")
	fillCheckpoint(b, path, 250)
	fi, _ := os.Stat(path)
	b.Logf("checkpoint of 250 tasks and 500 containers: %d bytes", fi.Size())
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if err := verifyFile(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tx.Check", func(b *testing.B) {
		db, err := openBolt(path, true)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		for b.Loop() {
			if err := checkDB(db); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			s, err := New(context.Background(), testScheme(b), WithCheckpoint(path))
			if err != nil {
				b.Fatal(err)
			}
			_ = s.Close()
		}
	})
}
