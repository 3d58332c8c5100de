package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// startCache runs the store's cache until the test ends and waits for it to sync.
func startCache(t *testing.T, s *Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Cache().Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cache.Start: %v", err)
		}
	})
	if !s.Cache().WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
}

func TestCacheNotStarted(t *testing.T) {
	s := newStore(t)
	err := s.Client().Get(context.Background(), client.ObjectKey{Name: "x"}, &v1alpha1.Task{})
	var notStarted *cache.ErrCacheNotStarted
	if !errors.As(err, &notStarted) {
		t.Fatalf("got %v, want ErrCacheNotStarted", err)
	}
}

func TestCacheSyncAndEvents(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, WithCheckpoint(dbPath(t)))
	if err := s.Create(ctx, task("before")); err != nil {
		t.Fatal(err)
	}

	inf, err := s.Cache().GetInformer(ctx, &v1alpha1.Task{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string][]string{}
	record := func(kind string) func(any) {
		return func(o any) {
			if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			mu.Lock()
			defer mu.Unlock()
			seen[o.(client.Object).GetName()] = append(seen[o.(client.Object).GetName()], kind)
		}
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    record("add"),
		UpdateFunc: func(_, n any) { record("update")(n) },
		DeleteFunc: record("delete"),
	})
	if err != nil {
		t.Fatal(err)
	}
	startCache(t, s)
	eventually(t, "handler sync", reg.HasSynced)
	if inf.IsStopped() {
		t.Fatal("informer stopped")
	}

	c := s.Client()
	tk := task("after")
	if err := c.Create(ctx, tk); err != nil {
		t.Fatal(err)
	}
	tk.Status.KnownStatus = v1alpha1.TaskStatusRunning
	if err := c.Status().Update(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, tk); err != nil {
		t.Fatal(err)
	}
	eventually(t, "events", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen["before"]) == 1 && len(seen["after"]) == 3
	})
	mu.Lock()
	if got := seen["after"]; got[0] != "add" || got[1] != "update" || got[2] != "delete" {
		t.Fatalf("events %v", got)
	}
	mu.Unlock()

	// Reads through the cache are copies with their GVK set.
	got := &v1alpha1.Task{}
	if err := c.Get(ctx, client.ObjectKey{Name: "before"}, got); err != nil {
		t.Fatal(err)
	}
	if got.Kind != "Task" {
		t.Fatalf("GVK not set: %+v", got.TypeMeta)
	}
	got.Spec.Family = "mutated"
	again := &v1alpha1.Task{}
	_ = c.Get(ctx, client.ObjectKey{Name: "before"}, again)
	if again.Spec.Family != "web" {
		t.Fatal("cache handed out its own object")
	}
	if err := c.Get(ctx, client.ObjectKey{Name: "after"}, got); !apierrors.IsNotFound(err) {
		t.Fatalf("got %v, want NotFound", err)
	}
}

func TestCacheIndexField(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	err := s.IndexField(ctx, &v1alpha1.Container{}, "spec.taskName", func(o client.Object) []string {
		return []string{o.(*v1alpha1.Container).Spec.TaskName}
	})
	if err != nil {
		t.Fatal(err)
	}
	startCache(t, s)
	for _, c := range []*v1alpha1.Container{container("t1", "a"), container("t1", "b"), container("t2", "a")} {
		if err := s.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		opts []client.ListOption
		want int
	}{
		{"index", []client.ListOption{client.MatchingFields{"spec.taskName": "t1"}}, 2},
		{"index in namespace", []client.ListOption{client.InNamespace(v1alpha1.Namespace), client.MatchingFields{"spec.taskName": "t2"}}, 1},
		{"index in other namespace", []client.ListOption{client.InNamespace("other"), client.MatchingFields{"spec.taskName": "t1"}}, 0},
		{"index and name", []client.ListOption{client.MatchingFields{"spec.taskName": "t1", "metadata.name": "t1-b"}}, 1},
		{"labels", []client.ListOption{client.MatchingLabels{v1alpha1.LabelTaskName: "t2"}}, 1},
		{"all", nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eventually(t, "cache to list", func() bool {
				l := &v1alpha1.ContainerList{}
				if err := s.Client().List(ctx, l, tt.opts...); err != nil {
					t.Fatal(err)
				}
				return len(l.Items) == tt.want
			})
		})
	}
	if err := s.Client().List(ctx, &v1alpha1.ContainerList{}, client.MatchingFields{"spec.image": "x"}); err == nil {
		t.Fatal("listing by a missing index succeeded")
	}
}

// TestTypedController proves the adapters fit a controller-runtime controller with no manager
// and no API server: source.Kind over the store's cache, reconciling through its client.
func TestTypedController(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newStore(t, WithCheckpoint(dbPath(t)))
	c := s.Client()

	var reconciles atomic.Int64
	r := reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		reconciles.Add(1)
		tk := &v1alpha1.Task{}
		if err := c.Get(ctx, req.NamespacedName, tk); err != nil {
			return reconcile.Result{}, client.IgnoreNotFound(err)
		}
		if tk.Status.KnownStatus == tk.Spec.DesiredStatus {
			return reconcile.Result{}, nil
		}
		tk.Status.KnownStatus = tk.Spec.DesiredStatus
		return reconcile.Result{}, c.Status().Update(ctx, tk)
	})
	ctrl, err := controller.NewTypedUnmanaged[reconcile.Request]("store-test-task", controller.TypedOptions[reconcile.Request]{
		Reconciler:         r,
		SkipNameValidation: ptr.To(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctrl.Watch(source.Kind(s.Cache(), &v1alpha1.Task{}, &handler.TypedEnqueueRequestForObject[*v1alpha1.Task]{})); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Cache().Start(ctx) })
	wg.Go(func() {
		if err := ctrl.Start(ctx); err != nil {
			t.Errorf("controller: %v", err)
		}
	})
	defer wg.Wait()
	defer cancel()

	tk := task("t1")
	if err := c.Create(ctx, tk); err != nil {
		t.Fatal(err)
	}
	read := s.DirectClient()
	eventually(t, "task reconciled to RUNNING", func() bool {
		got := &v1alpha1.Task{}
		return read.Get(ctx, client.ObjectKey{Name: "t1"}, got) == nil && got.Status.KnownStatus == v1alpha1.TaskStatusRunning
	})
	// A spec change is reconciled too.
	if err := read.Get(ctx, client.ObjectKey{Name: "t1"}, tk); err != nil {
		t.Fatal(err)
	}
	tk.Spec.DesiredStatus = v1alpha1.TaskStatusStopped
	if err := c.Update(ctx, tk); err != nil {
		t.Fatal(err)
	}
	eventually(t, "task reconciled to STOPPED", func() bool {
		got := &v1alpha1.Task{}
		return read.Get(ctx, client.ObjectKey{Name: "t1"}, got) == nil && got.Status.KnownStatus == v1alpha1.TaskStatusStopped
	})
	if reconciles.Load() < 2 {
		t.Fatalf("%d reconciles", reconciles.Load())
	}
}

func TestClientMisc(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	c := s.DirectClient()
	if gvk, err := c.GroupVersionKindFor(&v1alpha1.Image{}); err != nil || gvk.Kind != "Image" {
		t.Fatalf("GroupVersionKindFor: %v %v", gvk, err)
	}
	if ns, err := c.IsObjectNamespaced(&v1alpha1.Attachment{}); err != nil || !ns {
		t.Fatalf("IsObjectNamespaced: %v %v", ns, err)
	}
	if c.Scheme() != s.Scheme() || c.RESTMapper() == nil {
		t.Fatal("scheme or mapper missing")
	}
	for _, n := range []string{"a", "b"} {
		img := &v1alpha1.Image{}
		img.Name, img.Labels = n, map[string]string{"gc": "yes"}
		if err := c.Create(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.DeleteAllOf(ctx, &v1alpha1.Image{}, client.InNamespace(v1alpha1.Namespace), client.MatchingLabels{"gc": "yes"}); err != nil {
		t.Fatal(err)
	}
	l := &v1alpha1.ImageList{}
	if err := c.List(ctx, l); err != nil || len(l.Items) != 0 {
		t.Fatalf("%d images left, %v", len(l.Items), err)
	}
	if err := c.SubResource("scale").Update(ctx, &v1alpha1.Image{}); !apierrors.IsMethodNotSupported(err) {
		t.Fatalf("got %v", err)
	}
	inst := &v1alpha1.Instance{}
	inst.Name = "this"
	if err := c.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	inst.Status.ContainerInstanceARN = "arn"
	if err := c.SubResource("status").Update(ctx, inst); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &v1alpha1.Task{}, client.DryRunAll); !apierrors.IsBadRequest(err) {
		t.Fatalf("dry run: %v", err)
	}
}
