package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/store"
)

// TestCheckState: --check-state on a sound checkpoint lists the registration, tasks and
// containers and exits 0; on a truncated one it says DAMAGED and exits 1; on none it exits 0;
// on an unreadable path it exits 2. The file is never modified.
func TestCheckState(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, checkpointFile)
	scheme := k8sruntime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.New(ctx, scheme, store.WithCheckpoint(path))
	if err != nil {
		t.Fatal(err)
	}
	tk := &api.Task{ObjectMeta: metav1.ObjectMeta{Name: "t1", Namespace: api.Namespace},
		Spec:   api.TaskSpec{ARN: "arn:aws:ecs:us-west-2:1:task/c/t1", Family: "web", Version: "3", DesiredStatus: api.TaskStatusRunning, Containers: []string{"app"}},
		Status: api.TaskStatus{KnownStatus: api.TaskStatusRunning}}
	code := int32(0)
	c := &api.Container{ObjectMeta: metav1.ObjectMeta{Name: "t1-app", Namespace: api.Namespace},
		Spec:   api.ContainerSpec{TaskName: "t1", Name: "app", Image: "busybox"},
		Status: api.ContainerStatus{KnownStatus: api.ContainerStatusRunning, RuntimeID: "0123abcd", ExitCode: &code}}
	if err := st.CreateAll(ctx, []client.Object{tk, c}...); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMeta(metaInstanceARN, "arn:aws:ecs:us-west-2:1:container-instance/c/abc"); err != nil {
		t.Fatal(err)
	}
	if err := saveRegistration(dir, savedRegistration{ContainerInstanceARN: "arn:aws:ecs:us-west-2:1:container-instance/c/abc", Cluster: "c"}); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if got := checkState(ctx, &out, []string{path}); got != checkSound {
		t.Fatalf("sound checkpoint in use: exit %d\n%s", got, out.String())
	}
	t.Logf("\n%s", out.String())
	for _, want := range []string{"in use:     yes", "integrity:  ok", "schema:     1", "container-instance/c/abc",
		"tasks (1):", "t1", "web:3", "RUNNING", "containers (1):", "t1-app", "0123abcd", "registration in registration.json: arn"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	before, _ := os.ReadFile(path)
	if err := os.WriteFile(path, before[:len(before)/3], 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if got := checkState(ctx, &out, []string{path}); got != checkDamaged || !strings.Contains(out.String(), "DAMAGED") ||
		!strings.Contains(out.String(), "truncated") || !strings.Contains(out.String(), "in use:     no") {
		t.Fatalf("truncated checkpoint: exit %d\n%s", got, out.String())
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before[:len(before)/3]) {
		t.Error("--check-state modified the checkpoint")
	}

	out.Reset()
	if got := checkState(ctx, &out, []string{filepath.Join(dir, "none.db")}); got != checkSound || !strings.Contains(out.String(), "none") {
		t.Fatalf("missing checkpoint: exit %d\n%s", got, out.String())
	}
	out.Reset()
	if got := checkState(ctx, &out, []string{dir}); got != checkFailed {
		t.Fatalf("a directory: exit %d\n%s", got, out.String())
	}
}
