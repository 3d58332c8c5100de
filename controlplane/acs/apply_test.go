package acs

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/store"
)

const taskARN = "arn:aws:ecs:us-west-2:111122223333:task/prod/0123456789abcdef"

func newApplier(t *testing.T) *StoreApplier {
	t.Helper()
	scheme := k8sruntime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	st, err := store.New(context.Background(), scheme)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &StoreApplier{Store: st, Credentials: credentials.NewManager(), Log: testr.New(t)}
}

func payloadTask(desired string) payload.Task {
	return payload.Task{
		Arn: taskARN, Family: "web", Version: "1", DesiredStatus: desired, NetworkMode: "host",
		Containers: []payload.Container{{Name: "app", Image: "busybox", Memory: 64, Essential: true}},
		RoleCredentials: &payload.IAMRoleCredentials{CredentialsID: "cred-1", AccessKeyID: "AKID", SecretAccessKey: "s",
			SessionToken: "tok", Expiration: "2030-01-01T00:00:00Z"},
	}
}

func msg(id string, tasks ...payload.Task) *payload.PayloadMessage {
	return &payload.PayloadMessage{MessageID: id, ClusterArn: "prod", ContainerInstanceArn: "ci", SeqNum: 1, Tasks: tasks}
}

func getTask(t *testing.T, a *StoreApplier, name string) *api.Task {
	t.Helper()
	task := &api.Task{}
	if err := a.Store.DirectClient().Get(context.Background(), client.ObjectKey{Namespace: api.Namespace, Name: name}, task); err != nil {
		t.Fatalf("get task %s: %v", name, err)
	}
	return task
}

func TestApplyPayloadIdempotentAndForwardOnly(t *testing.T) {
	ctx := context.Background()
	a := newApplier(t)
	if err := a.ApplyPayload(ctx, msg("m1", payloadTask("RUNNING"))); err != nil {
		t.Fatal(err)
	}
	task := getTask(t, a, "0123456789abcdef")
	if task.Spec.DesiredStatus != api.TaskStatusRunning || len(task.Spec.Containers) != 1 {
		t.Fatalf("task spec %+v", task.Spec)
	}
	if e, ok := a.Credentials.Get("cred-1"); !ok || e.TaskARN != taskARN || e.RoleType != credentials.TaskApplication {
		t.Errorf("credentials not stored: %v %v", e, ok)
	}
	getContainer := func() *api.Container {
		c := &api.Container{}
		if err := a.Store.DirectClient().Get(ctx, client.ObjectKey{Namespace: api.Namespace, Name: "0123456789abcdef-app"}, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	endpointID := getContainer().Spec.EndpointID
	if len(endpointID) != 36 {
		t.Fatalf("container endpoint ID %q, want a UUID", endpointID)
	}
	rv := task.ResourceVersion
	// The same payload again changes nothing.
	if err := a.ApplyPayload(ctx, msg("m1", payloadTask("RUNNING"))); err != nil {
		t.Fatal(err)
	}
	if got := getTask(t, a, "0123456789abcdef").ResourceVersion; got != rv {
		t.Errorf("a resent payload rewrote the task (rv %s → %s)", rv, got)
	}
	if got := getContainer().Spec.EndpointID; got != endpointID {
		t.Errorf("endpoint ID changed on a resent payload: %s → %s", endpointID, got)
	}
	// STOPPED moves forward, with the task listed twice in one payload.
	if err := a.ApplyPayload(ctx, msg("m2", payloadTask("RUNNING"), payloadTask("STOPPED"))); err != nil {
		t.Fatal(err)
	}
	if got := getTask(t, a, "0123456789abcdef").Spec.DesiredStatus; got != api.TaskStatusStopped {
		t.Fatalf("desired %s after a stop payload, want STOPPED", got)
	}
	// An old RUNNING payload does not bring it back.
	if err := a.ApplyPayload(ctx, msg("m1", payloadTask("RUNNING"))); err != nil {
		t.Fatal(err)
	}
	if got := getTask(t, a, "0123456789abcdef").Spec.DesiredStatus; got != api.TaskStatusStopped {
		t.Errorf("desired went back to %s", got)
	}
}

func TestApplyPayloadInvalidTaskIsStoppedWithReason(t *testing.T) {
	ctx := context.Background()
	a := newApplier(t)
	bad := payloadTask("RUNNING")
	bad.Containers[0].Name = "" // no container name
	good := payloadTask("RUNNING")
	good.Arn = "arn:aws:ecs:us-west-2:111122223333:task/prod/ffff"
	if err := a.ApplyPayload(ctx, msg("m1", bad, good)); err != nil {
		t.Fatal(err)
	}
	task := getTask(t, a, "0123456789abcdef")
	if task.Spec.DesiredStatus != api.TaskStatusStopped || !strings.HasPrefix(task.Spec.Invalid, payload.InvalidReasonPrefix) {
		t.Errorf("invalid task stored as %+v", task.Spec)
	}
	if getTask(t, a, "ffff").Spec.DesiredStatus != api.TaskStatusRunning {
		t.Error("the valid task of the same payload was not stored")
	}
}

func TestManifestAndStopTasks(t *testing.T) {
	ctx := context.Background()
	a := newApplier(t)
	other := payloadTask("RUNNING")
	other.Arn = "arn:aws:ecs:us-west-2:111122223333:task/prod/ffff"
	if err := a.ApplyPayload(ctx, msg("m1", payloadTask("RUNNING"), other)); err != nil {
		t.Fatal(err)
	}
	cands, err := a.StopCandidates(ctx, &payload.TaskManifestMessage{MessageID: "mf", Timeline: 7,
		Tasks: []payload.TaskIdentifier{{TaskArn: taskARN, DesiredStatus: "RUNNING"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 1 || cands[0].TaskArn != other.Arn || cands[0].DesiredStatus != "STOPPED" {
		t.Fatalf("candidates %+v, want only %s", cands, other.Arn)
	}
	if err := a.StopTasks(ctx, cands); err != nil {
		t.Fatal(err)
	}
	if getTask(t, a, "ffff").Spec.DesiredStatus != api.TaskStatusStopped {
		t.Error("verified stop candidate not stopped")
	}
	if getTask(t, a, "0123456789abcdef").Spec.DesiredStatus != api.TaskStatusRunning {
		t.Error("listed task stopped")
	}
}

func TestCleanedTaskIsNotRecreated(t *testing.T) {
	ctx := context.Background()
	a := newApplier(t)
	a.Tombstones = NewTombstones(a.Store, time.Hour)
	if err := a.ApplyPayload(ctx, msg("m1", payloadTask("RUNNING"))); err != nil {
		t.Fatal(err)
	}
	// The task runs, stops and is cleaned up.
	task := getTask(t, a, "0123456789abcdef")
	if err := a.Store.DirectClient().Delete(ctx, task); err != nil {
		t.Fatal(err)
	}
	if err := a.Tombstones.Add(taskARN); err != nil {
		t.Fatal(err)
	}
	// A stale resend of the first payload must not bring it back.
	if err := a.ApplyPayload(ctx, msg("m1", payloadTask("RUNNING"))); err != nil {
		t.Fatal(err)
	}
	var list api.TaskList
	if err := a.Store.DirectClient().List(ctx, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Errorf("a cleaned-up task was created again from a stale payload")
	}
	// Past the TTL the tombstone is gone.
	a.Tombstones.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if gone, err := a.Tombstones.Has(taskARN); err != nil || gone {
		t.Errorf("Has after the TTL = %v, %v", gone, err)
	}
}

// TestTombstonesBounded: however many tasks come and go within the TTL, only the
// MaxTombstones most recently cleaned up are kept, so the checkpoint does not grow with them.
func TestTombstonesBounded(t *testing.T) {
	a := newApplier(t)
	ts := NewTombstones(a.Store, 24*time.Hour)
	start := time.Now()
	n := MaxTombstones + 10
	for i := range n {
		ts.now = func() time.Time { return start.Add(time.Duration(i) * time.Second) }
		if err := ts.Add(fmt.Sprintf("arn:aws:ecs:us-west-2:123456789012:task/default/%08d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range map[int]bool{0: false, 9: false, 10: true, n - 1: true} {
		if has, err := ts.Has(fmt.Sprintf("arn:aws:ecs:us-west-2:123456789012:task/default/%08d", i)); err != nil || has != want {
			t.Errorf("task %d: Has = %v, %v; want %v", i, has, err, want)
		}
	}
	m, err := ts.load()
	if err != nil || len(m) != MaxTombstones {
		t.Errorf("%d tombstones kept (%v), want %d", len(m), err, MaxTombstones)
	}
}

// TestSeqNumDurable: the latest sequence number only grows and survives a restart, so a
// manifest older than a payload applied before the restart is still discarded after it;
// an unreadable value is replaced rather than blocking every payload.
func TestSeqNumDurable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ecsd.db")
	open := func() *StoreApplier {
		t.Helper()
		scheme := k8sruntime.NewScheme()
		if err := api.AddToScheme(scheme); err != nil {
			t.Fatal(err)
		}
		st, err := store.New(ctx, scheme, store.WithCheckpoint(path))
		if err != nil {
			t.Fatal(err)
		}
		return &StoreApplier{Store: st, Credentials: credentials.NewManager(), Log: testr.New(t)}
	}
	a := open()
	for _, n := range []int64{3, 9, 4, 0} {
		if err := a.RecordSeqNum(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := a.LatestSeqNum(ctx); err != nil || n != 9 {
		t.Fatalf("LatestSeqNum = %d, %v; want 9", n, err)
	}
	a.Store.Close()
	a = open()
	defer a.Store.Close()
	if n, err := a.LatestSeqNum(ctx); err != nil || n != 9 {
		t.Fatalf("after a restart LatestSeqNum = %d, %v; want 9", n, err)
	}
	if err := a.Store.PutMeta(MetaManifestSeqNum, "garbage"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.LatestSeqNum(ctx); err == nil {
		t.Fatal("an unreadable value read as a number")
	}
	if err := a.RecordSeqNum(ctx, 2); err != nil {
		t.Fatalf("RecordSeqNum over an unreadable value: %v", err)
	}
	if n, err := a.LatestSeqNum(ctx); err != nil || n != 2 {
		t.Fatalf("LatestSeqNum = %d, %v; want 2", n, err)
	}
}
