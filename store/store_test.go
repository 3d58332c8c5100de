package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

func TestKindsAndRESTMapper(t *testing.T) {
	s := newStore(t)
	want := map[string]string{
		"Task": "tasks", "Container": "containers", "Image": "images",
		"Attachment": "attachments", "Instance": "instances",
	}
	if got := len(s.Kinds()); got != len(want) {
		t.Fatalf("store holds %d kinds, want %d: %v", got, len(want), s.Kinds())
	}
	for kind, resource := range want {
		gvk := v1alpha1.GroupVersion.WithKind(kind)
		m, err := s.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("RESTMapping(%s): %v", kind, err)
		}
		if m.Resource.Resource != resource || m.Scope.Name() != "namespace" {
			t.Errorf("%s maps to %s scope %s, want %s namespaced", kind, m.Resource.Resource, m.Scope.Name(), resource)
		}
	}
}

// TestCRUDErrors checks that every failure is the API error callers test for, also wrapped.
func TestCRUDErrors(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if err := s.Create(ctx, task("t1")); err != nil {
		t.Fatal(err)
	}
	stale := task("t1")
	if err := s.Get(ctx, client.ObjectKeyFromObject(stale), stale); err != nil {
		t.Fatal(err)
	}
	fresh := stale.DeepCopy()
	fresh.Spec.Family = "changed"
	if err := s.Update(ctx, fresh); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		op     func() error
		is     func(error) bool
		reason metav1.StatusReason
	}{
		{"create existing", func() error { return s.Create(ctx, task("t1")) }, apierrors.IsAlreadyExists, metav1.StatusReasonAlreadyExists},
		{"get missing", func() error {
			return s.Get(ctx, client.ObjectKey{Namespace: v1alpha1.Namespace, Name: "nope"}, &v1alpha1.Task{})
		}, apierrors.IsNotFound, metav1.StatusReasonNotFound},
		{"update missing", func() error { return s.Update(ctx, task("nope")) }, apierrors.IsNotFound, metav1.StatusReasonNotFound},
		{"update stale", func() error { return s.Update(ctx, stale.DeepCopy()) }, apierrors.IsConflict, metav1.StatusReasonConflict},
		{"update status stale", func() error { return s.UpdateStatus(ctx, stale.DeepCopy()) }, apierrors.IsConflict, metav1.StatusReasonConflict},
		{"delete missing", func() error { return s.Delete(ctx, task("nope")) }, apierrors.IsNotFound, metav1.StatusReasonNotFound},
		{"delete stale precondition", func() error {
			return s.Delete(ctx, task("t1"), client.Preconditions{ResourceVersion: &stale.ResourceVersion})
		}, apierrors.IsConflict, metav1.StatusReasonConflict},
		{"delete wrong uid", func() error {
			uid := types.UID("other")
			return s.Delete(ctx, task("t1"), client.Preconditions{UID: &uid})
		}, apierrors.IsConflict, metav1.StatusReasonConflict},
		{"create without name", func() error { return s.Create(ctx, &v1alpha1.Task{}) }, apierrors.IsInvalid, metav1.StatusReasonInvalid},
		{"bad field selector", func() error {
			return s.List(ctx, &v1alpha1.TaskList{}, client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("spec.family", "web")})
		}, apierrors.IsBadRequest, metav1.StatusReasonBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			if !tt.is(err) {
				t.Fatalf("got %v, want reason %s", err, tt.reason)
			}
			wrapped := fmt.Errorf("reconcile: %w", err)
			if !tt.is(wrapped) || apierrors.ReasonForError(wrapped) != tt.reason {
				t.Fatalf("wrapped error lost its reason: %v", wrapped)
			}
			var st apierrors.APIStatus
			if !errors.As(wrapped, &st) {
				t.Fatalf("not an APIStatus: %T", err)
			}
			if d := st.Status().Details; d != nil && tt.reason != metav1.StatusReasonInvalid && (d.Group != v1alpha1.GroupVersion.Group || d.Kind != "tasks") {
				t.Errorf("error names %s/%s, want %s/tasks", d.Group, d.Kind, v1alpha1.GroupVersion.Group)
			}
		})
	}
}

func TestCreateSetsSystemFields(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	tk := task("t1")
	tk.Namespace = "" // defaults to v1alpha1.Namespace
	tk.Status.KnownStatus = v1alpha1.TaskStatusNone
	if err := s.Create(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if tk.UID == "" || tk.CreationTimestamp.IsZero() || tk.Generation != 1 || tk.ResourceVersion == "" ||
		tk.Namespace != v1alpha1.Namespace {
		t.Fatalf("system fields not set on the caller's object: %+v", tk.ObjectMeta)
	}
	if tk.Kind != "Task" || tk.APIVersion != v1alpha1.GroupVersion.String() {
		t.Errorf("TypeMeta = %+v", tk.TypeMeta)
	}
	got := &v1alpha1.Task{}
	if err := s.Get(ctx, client.ObjectKey{Name: "t1"}, got); err != nil {
		t.Fatal(err)
	}
	if got.UID != tk.UID || got.ResourceVersion != tk.ResourceVersion || got.Status.KnownStatus != v1alpha1.TaskStatusNone {
		t.Fatalf("stored %+v, returned %+v", got.ObjectMeta, tk.ObjectMeta)
	}
	// The caller's object is not the stored one.
	tk.Spec.Family = "mutated"
	tk.Labels["x"] = "y"
	if err := s.Get(ctx, client.ObjectKey{Name: "t1"}, got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.Family != "web" || got.Labels["x"] != "" {
		t.Fatal("mutating the caller's object changed the store")
	}
}

func TestUpdateAndStatusSplit(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	tk := task("t1")
	if err := s.Create(ctx, tk); err != nil {
		t.Fatal(err)
	}
	rv0 := tk.ResourceVersion

	// Update writes spec and metadata, ignores status, bumps generation on spec change.
	up := tk.DeepCopy()
	up.Spec.DesiredStatus = v1alpha1.TaskStatusStopped
	up.Labels["new"] = "label"
	up.Finalizers = []string{"ecs.ecsd.io/cleanup"}
	up.Status.KnownStatus = v1alpha1.TaskStatusRunning
	up.UID = "" // an empty UID is no precondition
	if err := s.Update(ctx, up); err != nil {
		t.Fatal(err)
	}
	if up.Status.KnownStatus != "" || up.Generation != 2 || up.ResourceVersion == rv0 || up.UID != tk.UID {
		t.Fatalf("after Update: status %q generation %d rv %s uid %s", up.Status.KnownStatus, up.Generation, up.ResourceVersion, up.UID)
	}

	// A metadata-only update keeps generation.
	lbl := up.DeepCopy()
	lbl.Labels["other"] = "x"
	if err := s.Update(ctx, lbl); err != nil {
		t.Fatal(err)
	}
	if lbl.Generation != 2 {
		t.Fatalf("label change bumped generation to %d", lbl.Generation)
	}

	// A no-op update writes nothing.
	noop := lbl.DeepCopy()
	if err := s.Update(ctx, noop); err != nil {
		t.Fatal(err)
	}
	if noop.ResourceVersion != lbl.ResourceVersion {
		t.Fatalf("no-op update moved resourceVersion %s -> %s", lbl.ResourceVersion, noop.ResourceVersion)
	}

	// UpdateStatus writes status only.
	st := lbl.DeepCopy()
	st.Status.KnownStatus = v1alpha1.TaskStatusRunning
	st.Spec.Family = "ignored"
	st.Labels["ignored"] = "yes"
	if err := s.UpdateStatus(ctx, st); err != nil {
		t.Fatal(err)
	}
	if st.Status.KnownStatus != v1alpha1.TaskStatusRunning || st.Spec.Family != "web" || st.Labels["ignored"] != "" || st.Generation != 2 {
		t.Fatalf("after UpdateStatus: %+v", st)
	}
	// Chained writes work because the caller's object carries the new resourceVersion.
	st.Status.StoppedReason = "chained"
	if err := s.UpdateStatus(ctx, st); err != nil {
		t.Fatalf("chained UpdateStatus: %v", err)
	}
	// An unconditional update (empty resourceVersion) still does not touch status.
	uncond := task("t1")
	uncond.Finalizers = []string{"ecs.ecsd.io/cleanup"}
	if err := s.Update(ctx, uncond); err != nil {
		t.Fatal(err)
	}
	if uncond.Status.StoppedReason != "chained" {
		t.Fatalf("unconditional Update lost status: %+v", uncond.Status)
	}
}

func TestFinalizers(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	tk := task("t1")
	tk.Finalizers = []string{"a", "b"}
	if err := s.Create(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, tk.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	got := &v1alpha1.Task{}
	if err := s.Get(ctx, client.ObjectKeyFromObject(tk), got); err != nil {
		t.Fatalf("object with finalizers vanished: %v", err)
	}
	if got.DeletionTimestamp == nil {
		t.Fatal("deletionTimestamp not set")
	}
	// Deleting again changes nothing.
	if err := s.Delete(ctx, got.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	again := &v1alpha1.Task{}
	_ = s.Get(ctx, client.ObjectKeyFromObject(tk), again)
	if again.ResourceVersion != got.ResourceVersion {
		t.Fatal("second Delete wrote")
	}
	// No new finalizers on an object being deleted.
	add := got.DeepCopy()
	add.Finalizers = append(add.Finalizers, "c")
	if err := s.Update(ctx, add); !apierrors.IsForbidden(err) {
		t.Fatalf("adding a finalizer while deleting: %v, want Forbidden", err)
	}
	// Removing one keeps it, removing the last removes it.
	got.Finalizers = []string{"b"}
	if err := s.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	got.Finalizers = nil
	if err := s.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	if err := s.Get(ctx, client.ObjectKeyFromObject(tk), &v1alpha1.Task{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after removing the last finalizer: %v, want NotFound", err)
	}
	// Without finalizers Delete removes at once.
	if err := s.Create(ctx, task("t2")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, task("t2")); err != nil {
		t.Fatal(err)
	}
	if err := s.Get(ctx, client.ObjectKey{Name: "t2"}, &v1alpha1.Task{}); !apierrors.IsNotFound(err) {
		t.Fatalf("got %v, want NotFound", err)
	}
}

func TestPatch(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	base := task("t1")
	if err := s.Create(ctx, base); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		status bool
		mutate func(*v1alpha1.Task) client.Patch
		check  func(*v1alpha1.Task) error
		want   func(error) bool
	}{
		{
			name: "merge from, spec",
			mutate: func(tk *v1alpha1.Task) client.Patch {
				p := client.MergeFrom(tk.DeepCopy())
				tk.Spec.ServiceName = "svc"
				tk.Status.StoppedReason = "ignored by a main-resource patch"
				return p
			},
			check: func(tk *v1alpha1.Task) error {
				if tk.Spec.ServiceName != "svc" || tk.Status.StoppedReason != "" || tk.Generation != 2 {
					return fmt.Errorf("spec %q status %q generation %d", tk.Spec.ServiceName, tk.Status.StoppedReason, tk.Generation)
				}
				return nil
			},
		},
		{
			name:   "merge from, status",
			status: true,
			mutate: func(tk *v1alpha1.Task) client.Patch {
				p := client.MergeFrom(tk.DeepCopy())
				tk.Status.KnownStatus = v1alpha1.TaskStatusPulled
				tk.Spec.Group = "ignored by a status patch"
				return p
			},
			check: func(tk *v1alpha1.Task) error {
				if tk.Status.KnownStatus != v1alpha1.TaskStatusPulled || tk.Spec.Group != "" {
					return fmt.Errorf("status %q group %q", tk.Status.KnownStatus, tk.Spec.Group)
				}
				return nil
			},
		},
		{
			name: "raw merge patch",
			mutate: func(*v1alpha1.Task) client.Patch {
				return client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"raw":"yes"}}}`))
			},
			check: func(tk *v1alpha1.Task) error {
				if tk.Labels["raw"] != "yes" || tk.Labels[v1alpha1.LabelFamily] != "web" {
					return fmt.Errorf("labels %v", tk.Labels)
				}
				return nil
			},
		},
		{
			name: "json patch",
			mutate: func(*v1alpha1.Task) client.Patch {
				return client.RawPatch(types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/family","value":"jp"}]`))
			},
			check: func(tk *v1alpha1.Task) error {
				if tk.Spec.Family != "jp" {
					return fmt.Errorf("family %q", tk.Spec.Family)
				}
				return nil
			},
		},
		{
			name: "strategic merge patch",
			mutate: func(tk *v1alpha1.Task) client.Patch {
				p := client.StrategicMergeFrom(tk.DeepCopy())
				tk.Spec.PIDMode = "task"
				return p
			},
			check: func(tk *v1alpha1.Task) error {
				if tk.Spec.PIDMode != "task" {
					return fmt.Errorf("pidMode %q", tk.Spec.PIDMode)
				}
				return nil
			},
		},
		{
			name: "stale optimistic lock",
			mutate: func(tk *v1alpha1.Task) client.Patch {
				old := tk.DeepCopy()
				old.ResourceVersion = "1"
				tk.ResourceVersion = "1"
				p := client.MergeFromWithOptions(old, client.MergeFromWithOptimisticLock{})
				tk.Spec.IPCMode = "host"
				return p
			},
			want: apierrors.IsConflict,
		},
		{
			name: "cannot rename",
			mutate: func(*v1alpha1.Task) client.Patch {
				return client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"name":"other"}}`))
			},
			want: apierrors.IsBadRequest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := &v1alpha1.Task{}
			if err := s.Get(ctx, client.ObjectKey{Name: "t1"}, tk); err != nil {
				t.Fatal(err)
			}
			p := tt.mutate(tk)
			var err error
			if tt.status {
				err = s.PatchStatus(ctx, tk, p)
			} else {
				err = s.Patch(ctx, tk, p)
			}
			if tt.want != nil {
				if !tt.want(err) {
					t.Fatalf("got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			stored := &v1alpha1.Task{}
			if err := s.Get(ctx, client.ObjectKey{Name: "t1"}, stored); err != nil {
				t.Fatal(err)
			}
			if stored.ResourceVersion != tk.ResourceVersion {
				t.Fatalf("caller has rv %s, store %s", tk.ResourceVersion, stored.ResourceVersion)
			}
			if err := tt.check(stored); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for i := range 5 {
		c := container("t"+strconv.Itoa(i%2), "c"+strconv.Itoa(i))
		if err := s.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	other := container("t9", "x")
	other.Namespace = "elsewhere"
	if err := s.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts []client.ListOption
		want int
	}{
		{"all", nil, 6},
		{"namespace", []client.ListOption{client.InNamespace(v1alpha1.Namespace)}, 5},
		{"labels", []client.ListOption{client.MatchingLabels{v1alpha1.LabelTaskName: "t0"}}, 3},
		{"label selector", []client.ListOption{client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(labels.Set{v1alpha1.LabelTaskName: "t1"})}}, 2},
		{"name", []client.ListOption{client.MatchingFields{"metadata.name": "t1-c3"}}, 1},
		{"namespace field", []client.ListOption{client.MatchingFields{"metadata.namespace": "elsewhere"}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &v1alpha1.ContainerList{}
			if err := s.List(ctx, l, tt.opts...); err != nil {
				t.Fatal(err)
			}
			if len(l.Items) != tt.want {
				t.Fatalf("got %d items, want %d", len(l.Items), tt.want)
			}
			if l.ResourceVersion != s.ResourceVersion() {
				t.Fatalf("list rv %s, store %s", l.ResourceVersion, s.ResourceVersion())
			}
		})
	}
}

func TestCreateOrUpdateAll(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	s := newStore(t, WithCheckpoint(path))
	existing := container("t1", "app")
	if err := s.Create(ctx, existing); err != nil {
		t.Fatal(err)
	}
	stale := existing.DeepCopy()
	stale.ResourceVersion = "1"

	tests := []struct {
		name string
		objs func() []client.Object
		ok   bool
	}{
		{"stale resourceVersion", func() []client.Object { return []client.Object{task("t1"), stale.DeepCopy()} }, false},
		{"missing name", func() []client.Object { return []client.Object{task("t1"), &v1alpha1.Container{}} }, false},
		{"duplicate", func() []client.Object { return []client.Object{task("t1"), task("t1")} }, false},
		{"unregistered type", func() []client.Object { return []client.Object{task("t1"), &metav1.PartialObjectMetadata{}} }, false},
		{"create and update", func() []client.Object {
			app := container("t1", "app")
			app.Spec.Image = "busybox:2"
			return []client.Object{task("t1"), app, container("t1", "sidecar")}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.ResourceVersion()
			objs := tt.objs()
			err := s.CreateOrUpdateAll(ctx, objs...)
			if (err == nil) != tt.ok {
				t.Fatalf("CreateOrUpdateAll: %v, want ok=%v", err, tt.ok)
			}
			tasks := &v1alpha1.TaskList{}
			_ = s.List(ctx, tasks)
			if !tt.ok {
				if len(tasks.Items) != 0 || s.ResourceVersion() != before {
					t.Fatal("a failed CreateOrUpdateAll wrote something")
				}
				return
			}
			app := &v1alpha1.Container{}
			_ = s.Get(ctx, client.ObjectKeyFromObject(existing), app)
			if len(tasks.Items) != 1 || app.Spec.Image != "busybox:2" || app.Generation != 2 {
				t.Fatalf("tasks %d, app image %q generation %d", len(tasks.Items), app.Spec.Image, app.Generation)
			}
			for _, o := range objs {
				if o.GetResourceVersion() == "" || o.GetUID() == "" {
					t.Fatalf("%s not updated with its stored state", o.GetName())
				}
			}
		})
	}
	// Durable: visible after a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := newStore(t, WithCheckpoint(path))
	cl := &v1alpha1.ContainerList{}
	if err := s2.List(ctx, cl); err != nil || len(cl.Items) != 2 {
		t.Fatalf("after restart: %d containers, %v", len(cl.Items), err)
	}
}

func TestWritesAfterClose(t *testing.T) {
	s := newStore(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(context.Background(), task("t1")); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
}
