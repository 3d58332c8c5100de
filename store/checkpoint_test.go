package store

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

func TestRestartDurability(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	s := newStore(t, WithCheckpoint(path))

	tk := task("t1")
	tk.Finalizers = []string{"ecs.ecsd.io/report"}
	if err := s.Create(ctx, tk); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now().Rfc3339Copy() // the checkpoint keeps metav1.Time at second precision
	tk.Status.KnownStatus = v1alpha1.TaskStatusRunning
	tk.Status.KnownStatusTime = &now
	if err := s.UpdateStatus(ctx, tk); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"app", "sidecar", "gone"} {
		if err := s.Create(ctx, container("t1", n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, container("t1", "gone")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMeta("container-instance-arn", "arn:aws:ecs:us-west-2:1:container-instance/x"); err != nil {
		t.Fatal(err)
	}
	rvBefore, _ := strconv.ParseUint(s.ResourceVersion(), 10, 64)
	var tasksBefore v1alpha1.TaskList
	var containersBefore v1alpha1.ContainerList
	_ = s.List(ctx, &tasksBefore)
	_ = s.List(ctx, &containersBefore)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("checkpoint mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}

	s2 := newStore(t, WithCheckpoint(path))
	rvAfter, _ := strconv.ParseUint(s2.ResourceVersion(), 10, 64)
	if rvAfter != rvBefore {
		t.Fatalf("resourceVersion %d after restart, was %d", rvAfter, rvBefore)
	}
	var tasksAfter v1alpha1.TaskList
	var containersAfter v1alpha1.ContainerList
	_ = s2.List(ctx, &tasksAfter)
	_ = s2.List(ctx, &containersAfter)
	if !equality.Semantic.DeepEqual(tasksBefore.Items, tasksAfter.Items) ||
		!equality.Semantic.DeepEqual(sortByName(containersBefore.Items), sortByName(containersAfter.Items)) {
		t.Fatalf("objects differ after restart:\n%+v\n%+v", tasksBefore.Items, tasksAfter.Items)
	}
	if len(containersAfter.Items) != 2 {
		t.Fatalf("deleted container came back: %d containers", len(containersAfter.Items))
	}
	if v, ok, err := s2.GetMeta("container-instance-arn"); err != nil || !ok || v == "" {
		t.Fatalf("meta after restart: %q %v %v", v, ok, err)
	}
	// The resourceVersion keeps going up, and the restored object can be updated in place.
	got := &v1alpha1.Task{}
	_ = s2.Get(ctx, client.ObjectKey{Name: "t1"}, got)
	got.Status.SentStatus = v1alpha1.TaskStatusRunning
	if err := s2.UpdateStatus(ctx, got); err != nil {
		t.Fatal(err)
	}
	if rv, _ := strconv.ParseUint(got.ResourceVersion, 10, 64); rv <= rvBefore {
		t.Fatalf("resourceVersion went from %d to %d", rvBefore, rv)
	}
}

func sortByName(cs []v1alpha1.Container) map[string]v1alpha1.Container {
	m := make(map[string]v1alpha1.Container, len(cs))
	for _, c := range cs {
		m[c.Name] = c
	}
	return m
}

func TestQuarantine(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	s := newStore(t, WithCheckpoint(path))
	for _, n := range []string{"good", "bad", "misnamed"} {
		if err := s.Create(ctx, task(n)); err != nil {
			t.Fatal(err)
		}
	}
	bucket := s.kinds[s.byGVK[taskGVK].idx].bucket
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if err := b.Put([]byte("ecs/bad"), []byte(`{"metadata":{"name":`)); err != nil {
			return err
		}
		v := b.Get([]byte("ecs/good"))
		return b.Put([]byte("ecs/misnamed"), append([]byte{}, v...)) // record names "good"
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	s2 := newStore(t, WithCheckpoint(path))
	var l v1alpha1.TaskList
	_ = s2.List(ctx, &l)
	if len(l.Items) != 1 || l.Items[0].Name != "good" {
		t.Fatalf("loaded %d tasks, want only the good one", len(l.Items))
	}
	// The store keeps working, and the quarantined name can be reused.
	if err := s2.Create(ctx, task("bad")); err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketQuarantine)
		for _, k := range []string{"/ecs/bad", "/ecs/misnamed"} {
			if q.Get(append(append([]byte{}, bucket...), k...)) == nil {
				t.Errorf("%s not quarantined", k)
			}
		}
		return nil
	})
}

// TestUnknownSchemaVersion: a checkpoint this build cannot read (written by a newer one) is
// moved aside like a damaged one, so the agent starts instead of exiting on every start.
func TestUnknownSchemaVersion(t *testing.T) {
	path := dbPath(t)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket(bucketMeta)
		return b.Put(keySchemaVersion, []byte("99"))
	})
	_ = db.Close()
	s := newStore(t, WithCheckpoint(path))
	rs := s.Recoveries()
	if len(rs) != 1 || !strings.Contains(rs[0].Reason, "schema version") {
		t.Fatalf("recoveries %+v, want the unknown schema moved aside", rs)
	}
	if _, err := os.Stat(rs[0].MovedTo); err != nil {
		t.Fatalf("moved-aside checkpoint: %v", err)
	}
}

// TestFailedPersistenceIsNotApplied breaks the database under the store: the write must fail
// and leave memory (and watchers) untouched.
func TestFailedPersistenceIsNotApplied(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, WithCheckpoint(dbPath(t)))
	tk := task("t1")
	if err := s.Create(ctx, tk); err != nil {
		t.Fatal(err)
	}
	w, err := s.Watch(ctx, taskGVK, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	before := s.ResourceVersion()
	tk.Status.KnownStatus = v1alpha1.TaskStatusRunning
	if err := s.UpdateStatus(ctx, tk); err == nil {
		t.Fatal("write succeeded without a database")
	}
	if err := s.Create(ctx, task("t2")); err == nil {
		t.Fatal("write succeeded without a database")
	}
	got := &v1alpha1.Task{}
	_ = s.Get(ctx, client.ObjectKey{Name: "t1"}, got)
	if got.Status.KnownStatus != "" || s.ResourceVersion() != before {
		t.Fatal("a failed write was applied")
	}
	if err := s.Get(ctx, client.ObjectKey{Name: "t2"}, got); !apierrors.IsNotFound(err) {
		t.Fatalf("failed create visible: %v", err)
	}
	select {
	case e := <-w.ResultChan():
		t.Fatalf("watcher saw a failed write: %v", e)
	default:
	}
}

func TestMetaMemory(t *testing.T) {
	s := newStore(t)
	if _, ok, _ := s.GetMeta("k"); ok {
		t.Fatal("unexpected value")
	}
	if err := s.PutMeta("k", "v"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.GetMeta("k"); v != "v" || !ok || err != nil {
		t.Fatalf("got %q %v %v", v, ok, err)
	}
}
