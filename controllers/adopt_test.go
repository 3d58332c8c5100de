//go:build integration

package controllers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
)

// runtimeByName maps the harness namespace's runtime containers by their container-name
// label and task label ("task/name"): tests never assume a runtime ID equals an object name.
func (h *harness) runtimeByName() map[string]runtime.ContainerState {
	h.t.Helper()
	list, err := h.rt.ListContainers(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	m := map[string]runtime.ContainerState{}
	for _, rc := range list {
		key := rc.Labels[api.LabelTaskName] + "/" + rc.Labels[api.LabelContainerName]
		if _, dup := m[key]; dup {
			h.t.Fatalf("two runtime containers for %s", key)
		}
		m[key] = rc
	}
	return m
}

// loseCheckpoint stops the engine and removes its checkpoint, as a damaged one moved aside
// leaves it, then starts a new engine.
func (h *harness) loseCheckpoint() {
	h.t.Helper()
	h.stop()
	h.stop = nil
	if err := os.Remove(filepath.Join(h.dir, "ecsd.db")); err != nil {
		h.t.Fatal(err)
	}
	h.start()
}

// TestAdoptAfterCheckpointLoss: the checkpoint is lost while a task runs and another has
// stopped. The new engine rebuilds both from containerd: the running task keeps its
// containers (same process, no second container), reaches RUNNING again and stops normally;
// the stopped one keeps its exit code.
func TestAdoptAfterCheckpointLoss(t *testing.T) {
	h := newHarness(t, nil)
	side := sh("side", serviceCmd)
	side.Essential = false
	task, cs := newTask("adoptrun", sh("app", serviceCmd), side)
	h.run(task, cs)
	done, dcs := newTask("adoptdone", sh("app", "exit 3"))
	h.run(done, dcs)
	h.waitTask("adoptrun", time.Minute, "RUNNING", known(api.TaskStatusRunning))
	h.waitTask("adoptdone", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	before := h.runtimeByName()
	endpointID := h.container("adoptrun", "app").Spec.EndpointID

	h.loseCheckpoint()

	h.waitTask("adoptrun", time.Minute, "RUNNING again", known(api.TaskStatusRunning))
	got := h.waitTask("adoptdone", time.Minute, "STOPPED again", known(api.TaskStatusStopped))
	if got.Status.StoppedReason != ReasonEssential {
		t.Errorf("adopted stopped task reason %q, want %q", got.Status.StoppedReason, ReasonEssential)
	}
	after := h.runtimeByName()
	if len(after) != len(before) {
		t.Fatalf("runtime containers %d after adoption, %d before", len(after), len(before))
	}
	for key, rc := range before {
		if after[key].ID != rc.ID || after[key].Pid != rc.Pid {
			t.Errorf("%s: runtime container %s pid %d became %s pid %d", key, rc.ID, rc.Pid, after[key].ID, after[key].Pid)
		}
	}
	for _, name := range []string{"app", "side"} {
		c := h.container("adoptrun", name)
		if c.Status.KnownStatus != api.ContainerStatusRunning || c.Status.RuntimeID != before["adoptrun/"+name].ID ||
			c.Annotations[api.AnnotationAdopted] == "" || c.Status.StartedAt == nil || c.Status.LogPath == "" {
			t.Errorf("adopted container %s: known %s runtimeID %q annotations %v startedAt %v log %q", name, c.Status.KnownStatus,
				c.Status.RuntimeID, c.Annotations, c.Status.StartedAt, c.Status.LogPath)
		}
	}
	if c := h.container("adoptrun", "app"); c.Spec.EndpointID != endpointID || c.Spec.Essential != true || c.Spec.Command[0] != "sh" {
		t.Errorf("adopted spec differs: endpoint %q (was %q), essential %v, command %v", c.Spec.EndpointID, endpointID, c.Spec.Essential, c.Spec.Command)
	}
	if c := h.container("adoptdone", "app"); c.Status.ExitCode == nil || *c.Status.ExitCode != 3 || c.Status.KnownStatus != api.ContainerStatusStopped {
		t.Errorf("adopted stopped container: known %s exit %v, want STOPPED 3", c.Status.KnownStatus, c.Status.ExitCode)
	}
	if h.task("adoptrun").Annotations[api.AnnotationAdopted] == "" {
		t.Error("adopted task has no adopted annotation")
	}

	h.stopTask("adoptrun")
	h.waitTask("adoptrun", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	for _, name := range []string{"app", "side"} {
		if c := h.container("adoptrun", name); c.Status.ExitCode == nil || *c.Status.ExitCode != 0 {
			t.Errorf("%s exit code %v after the stop, want 0 from SIGTERM", name, c.Status.ExitCode)
		}
	}
	if n := len(h.runtimeByName()); n != 3 {
		t.Errorf("%d runtime containers after the stop, want 3", n)
	}
}

// corruptRecord overwrites one object's record in the checkpoint (engine stopped) so the
// next load quarantines it.
func (h *harness) corruptRecord(kind, name string) {
	h.t.Helper()
	db, err := bolt.Open(filepath.Join(h.dir, "ecsd.db"), 0o600, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(kind + ".v1alpha1.ecs.ecsd.io"))
		key := []byte(api.Namespace + "/" + name)
		if b.Get(key) == nil {
			h.t.Fatalf("no record %s/%s", kind, name)
		}
		return b.Put(key, []byte(`{"metadata":{"name":`))
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// TestAdoptQuarantinedRecords: an undecodable Task record (its containers' records intact)
// and an undecodable Container record (its task's intact) never orphan a running container:
// the missing objects are rebuilt and the tasks run on and stop normally.
func TestAdoptQuarantinedRecords(t *testing.T) {
	h := newHarness(t, nil)
	for _, id := range []string{"qtask", "qctr"} {
		task, cs := newTask(id, sh("app", serviceCmd))
		h.run(task, cs)
	}
	h.waitTask("qtask", time.Minute, "RUNNING", known(api.TaskStatusRunning))
	h.waitTask("qctr", time.Minute, "RUNNING", known(api.TaskStatusRunning))
	before := h.runtimeByName()
	h.stop()
	h.stop = nil
	h.corruptRecord("Task", "qtask")
	h.corruptRecord("Container", api.ContainerName("qctr", "app"))
	h.start()

	for _, id := range []string{"qtask", "qctr"} {
		h.waitTask(id, time.Minute, "RUNNING with its objects back", known(api.TaskStatusRunning))
		c := h.container(id, "app")
		if c.Status.RuntimeID != before[id+"/app"].ID || c.Status.KnownStatus != api.ContainerStatusRunning {
			t.Errorf("%s/app: runtime ID %q known %s, want %q RUNNING", id, c.Status.RuntimeID, c.Status.KnownStatus, before[id+"/app"].ID)
		}
	}
	if h.task("qtask").Annotations[api.AnnotationAdopted] == "" || h.container("qctr", "app").Annotations[api.AnnotationAdopted] == "" {
		t.Error("rebuilt objects carry no adopted annotation")
	}
	if h.container("qtask", "app").Annotations[api.AnnotationAdopted] != "" {
		t.Error("the intact container object was replaced")
	}
	after := h.runtimeByName()
	for key, rc := range before {
		if after[key].ID != rc.ID || after[key].Pid != rc.Pid {
			t.Errorf("%s: runtime container changed: %+v → %+v", key, rc, after[key])
		}
	}
	for _, id := range []string{"qtask", "qctr"} {
		h.stopTask(id)
		h.waitTask(id, time.Minute, "STOPPED", known(api.TaskStatusStopped))
	}
}

// TestAdoptWithoutRecordStopsAndReports: runtime containers that carry a task's labels but
// no record (an older agent made them) and have no objects are not left unowned: the
// adopter makes just enough objects to stop them, and the task is STOPPED with a reason
// that says what happened. The orphan sweep never removes them on its own.
func TestAdoptWithoutRecordStopsAndReports(t *testing.T) {
	h := newHarness(t, nil)
	if _, err := h.rt.PullImage(h.ctx, testenv.BusyboxImage(), nil); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:ecs:us-west-2:111122223333:task/test/legacy"
	// The engine is stopped while the containers are made: an adoption pass between a
	// create and its start would find a container that never ran, and rightly stop it
	// without an exit code, which is not the case under test.
	h.stop()
	h.stop = nil
	for _, c := range []struct{ name, cmd string }{{"run", serviceCmd}, {"done", "exit 7"}} {
		cfg := runtime.ContainerConfig{
			ID: "legacy-" + c.name, Image: testenv.BusyboxImage(), Command: []string{"sh", "-c", c.cmd},
			LogPath: filepath.Join(h.dir, c.name+".log"), PrivateNetwork: true,
			Labels: map[string]string{api.LabelTaskARN: arn, api.LabelTaskName: "legacy", api.LabelContainerName: c.name,
				api.LabelFamily: "old", api.LabelRevision: "4"},
		}
		if err := h.rt.CreateContainer(h.ctx, cfg); err != nil {
			t.Fatal(err)
		}
		if err := h.rt.StartContainer(h.ctx, cfg.ID); err != nil {
			t.Fatal(err)
		}
	}
	h.start()
	got := h.waitTask("legacy", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	if !strings.HasPrefix(got.Status.StoppedReason, ReasonStateLost) || got.Spec.ARN != arn || got.Spec.Family != "old" {
		t.Fatalf("task made for record-less containers: arn %q family %q reason %q", got.Spec.ARN, got.Spec.Family, got.Status.StoppedReason)
	}
	if st, err := h.rt.InspectContainer(h.ctx, "legacy-run"); err != nil || st.Status != runtime.StatusStopped {
		t.Fatalf("the running record-less container was not stopped: %+v %v", st, err)
	}
	if c := h.container("legacy", "done"); c.Status.ExitCode == nil || *c.Status.ExitCode != 7 {
		t.Errorf("exit code of the stopped record-less container %v, want 7", c.Status.ExitCode)
	}
	// Further passes (each relist runs one) keep both runtime containers for cleanup: they
	// are owned now, never orphans for the sweep to remove.
	for range 2 {
		res, err := h.eng.adopter.Adopt(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Orphans) != 0 || res.Adopted != 0 {
			t.Fatalf("pass after adoption: %d adopted, orphans %+v; want nothing to do", res.Adopted, res.Orphans)
		}
	}
	if n := len(h.runtimeByName()); n != 2 {
		t.Fatalf("%d runtime containers, want both kept for cleanup", n)
	}
}

func TestAdoptionRecordRoundTrip(t *testing.T) {
	task, cs := newTask("rt", sh("app", serviceCmd), sh("side", serviceCmd))
	task.Labels = map[string]string{api.LabelTaskARN: task.Spec.ARN}
	sib := map[string]*api.Container{}
	for _, c := range cs {
		c.OwnerReferences = []metav1.OwnerReference{{Kind: "Task", Name: "rt"}}
		sib[c.Spec.Name] = c
	}
	b, err := encodeAdoptionRecord(task, sib)
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeAdoptionRecord(b, "rt", task.Spec.ARN)
	if err != nil {
		t.Fatal(err)
	}
	if r.Task.Spec.ARN != task.Spec.ARN || len(r.Containers) != 2 || r.container("side") == nil || len(r.container("side").OwnerReferences) != 1 {
		t.Fatalf("record round trip: %+v", r)
	}
	if _, err := decodeAdoptionRecord(b, "other", task.Spec.ARN); err == nil {
		t.Error("a record of another task was accepted")
	}
	if _, err := decodeAdoptionRecord([]byte(`{"version":99}`), "rt", task.Spec.ARN); err == nil {
		t.Error("a record of an unknown version was accepted")
	}
	if _, err := decodeAdoptionRecord(nil, "rt", task.Spec.ARN); err == nil {
		t.Error("a missing record was accepted")
	}
	big := sh("big", serviceCmd)
	big.Environment = map[string]string{"X": strings.Repeat("x", runtime.MaxRecordSize)}
	sib["big"] = &api.Container{Spec: big}
	task.Spec.Containers = append(task.Spec.Containers, "big")
	if _, err := encodeAdoptionRecord(task, sib); err == nil {
		t.Error("an oversized record was encoded")
	}
}

// TestAdoptionDisabled: without a checkpoint (DisableAdoption) an earlier run's containers
// are not this instance's tasks: no objects are made, a stopped one is swept, a running one
// is left alone, as before adoption existed.
func TestAdoptionDisabled(t *testing.T) {
	h := newHarness(t, func(s *Options, d *Deps) { s.Adopt.Disable = true })
	if _, err := h.rt.PullImage(h.ctx, testenv.BusyboxImage(), nil); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:ecs:us-west-2:111122223333:task/test/earlier"
	// As in TestAdoptWithoutRecordStopsAndReports, the engine is stopped while the
	// containers are made, so a sweep cannot remove one between its create and its start.
	h.stop()
	h.stop = nil
	for _, c := range []struct{ name, cmd string }{{"run", serviceCmd}, {"done", "exit 0"}} {
		cfg := runtime.ContainerConfig{
			ID: "earlier-" + c.name, Image: testenv.BusyboxImage(), Command: []string{"sh", "-c", c.cmd},
			LogPath: filepath.Join(h.dir, c.name+".log"), PrivateNetwork: true,
			Labels: map[string]string{api.LabelTaskARN: arn, api.LabelTaskName: "earlier", api.LabelContainerName: c.name},
		}
		if err := h.rt.CreateContainer(h.ctx, cfg); err != nil {
			t.Fatal(err)
		}
		if err := h.rt.StartContainer(h.ctx, cfg.ID); err != nil {
			t.Fatal(err)
		}
	}
	h.start()
	deadline := time.Now().Add(time.Minute)
	for {
		m := h.runtimeByName()
		if _, ok := m["earlier/done"]; !ok {
			if m["earlier/run"].Status != runtime.StatusRunning {
				t.Fatalf("the running container was not left alone: %+v", m["earlier/run"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stopped container was not swept")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var tl api.TaskList
	if err := h.st.List(h.ctx, &tl); err != nil || len(tl.Items) != 0 {
		t.Fatalf("objects made with adoption disabled: %d tasks (%v)", len(tl.Items), err)
	}
}
