//go:build integration

package controllers

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/cgroups"
	"github.com/ecsd/ecsd/store"
)

// offline stops the engine, opens the harness's checkpoint with no engine running, lets fn
// write to it, and closes it: the state an agent of another version left behind. The
// caller starts the engine again.
func (h *harness) offline(fn func(*store.Store)) {
	h.t.Helper()
	if h.stop != nil {
		h.stop()
		h.stop = nil
	}
	scheme := k8sruntime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		h.t.Fatal(err)
	}
	st, err := store.New(h.ctx, scheme, store.WithCheckpoint(h.dir+"/ecsd.db"), store.WithLogger(testr.New(h.t)))
	if err != nil {
		h.t.Fatalf("store: %v", err)
	}
	fn(st)
	if err := st.Close(); err != nil {
		h.t.Fatalf("close store: %v", err)
	}
}

// legacyContainer creates (and, with start, starts) the runtime container an older ecsd
// created for c: the object name as its ID, the same labels.
func (h *harness) legacyContainer(t *api.Task, c *api.Container, start bool) string {
	h.t.Helper()
	id := api.LegacyRuntimeID(c)
	if err := h.rt.CreateContainer(h.ctx, runtime.ContainerConfig{
		ID: id, Image: c.Spec.Image, Command: c.Spec.Command,
		Labels:       api.RuntimeLabels(t, c, h.opts.Create.Cluster, "0.0.1-old"),
		LogPath:      api.ContainerLogPath(h.dir, t.Name, c.Spec.Name),
		CgroupParent: h.deps.Cgroups.Path(""), PrivateNetwork: true,
	}); err != nil {
		h.t.Fatalf("create old-form container %s: %v", id, err)
	}
	if start {
		if err := h.rt.StartContainer(h.ctx, id); err != nil {
			h.t.Fatalf("start old-form container %s: %v", id, err)
		}
	}
	return id
}

// pulled returns the status the pull step leaves: the image is local.
func (h *harness) pulled() api.ContainerStatus {
	h.t.Helper()
	info, err := h.rt.PullImage(h.ctx, testenv.BusyboxImage(), nil)
	if err != nil {
		h.t.Fatalf("pull: %v", err)
	}
	return api.ContainerStatus{KnownStatus: api.ContainerStatusPulled, DesiredStatus: api.ContainerStatusRunning,
		ImageDigest: info.Digest, ImageID: info.ID}
}

// runtimeIDs counts the runtime containers by ID.
func (h *harness) runtimeIDs() map[string]runtime.ContainerState {
	h.t.Helper()
	list, err := h.rt.ListContainers(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]runtime.ContainerState{}
	for _, rc := range list {
		out[rc.ID] = rc
	}
	return out
}

// TestContainerRuntimeIDIsDerived: a container is created under the 64-hex ID derived from
// its task ARN and name, records it, and its cgroup (<root>/<task>/<ID>, as
// /proc/self/cgroup shows it inside) and default hostname (the ID's first 12 characters)
// follow from it. A task with no task-level limits still gets its own cgroup, weighted by
// its containers' CPU shares.
func TestContainerRuntimeIDIsDerived(t *testing.T) {
	root := "/ecsd-test-" + testenv.UniqueName(t, "rid")
	h := newHarness(t, func(s *Options, d *Deps) { d.Cgroups = cgroups.Manager{Mount: cgroups.DefaultMount, Root: root} })
	t.Cleanup(func() {
		for _, pattern := range []string{filepath.Join("/sys/fs/cgroup/*", root, "*"), filepath.Join("/sys/fs/cgroup/*", root)} {
			dirs, _ := filepath.Glob(pattern)
			for _, d := range dirs {
				_ = os.Remove(d)
			}
		}
	})
	side := sh("side", serviceCmd)
	side.Essential = false
	side.CPU = 100
	task, cs := newTask("derived", sh("probe", "cat /proc/self/cgroup; echo hostname=$(hostname)"), side)
	task.Spec.NetworkMode = "bridge" // its own namespace (no network layer here): Docker's default hostname
	h.run(task, cs)
	h.waitTask("derived", time.Minute, "STOPPED", known(api.TaskStatusStopped))

	ids := h.runtimeIDs()
	for _, name := range []string{"probe", "side"} {
		c := h.container("derived", name)
		want := api.RuntimeID(task.Spec.ARN, name)
		if c.Status.RuntimeID != want {
			t.Fatalf("%s: runtime ID %q, want %s", name, c.Status.RuntimeID, want)
		}
		rc, ok := ids[want]
		if !ok {
			t.Fatalf("%s: no runtime container %s; have %v", name, want, ids)
		}
		// The labels the checkpoint recovery adopts by keep their meaning.
		if rc.Labels[api.LabelTaskARN] != task.Spec.ARN || rc.Labels[api.LabelContainerName] != name || rc.Labels[api.LabelTaskName] != "derived" {
			t.Errorf("%s: labels %v", name, rc.Labels)
		}
	}
	if len(ids) != 2 {
		t.Errorf("runtime containers %v, want exactly the two", ids)
	}

	probe := h.container("derived", "probe")
	out, err := os.ReadFile(probe.Status.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	log := string(out)
	if !strings.Contains(log, ":"+root+"/derived/"+probe.Status.RuntimeID+"\n") {
		t.Errorf("/proc/self/cgroup inside the container does not show %s/derived/<ID>:\n%s", root, log)
	}
	if !strings.Contains(log, "hostname="+probe.Status.RuntimeID[:12]+"\n") {
		t.Errorf("hostname is not the ID's first 12 characters:\n%s", log)
	}
	// No task-level cpu: the task cgroup weighs its containers' shares, 2 (the minimum)
	// for probe plus 100 for side.
	if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpu", root, "derived", "cpu.shares")); err != nil || strings.TrimSpace(string(b)) != "102" {
		t.Errorf("task cpu.shares = %q, %v; want 102", b, err)
	}
}

// TestUpgradeAdoptsUnrecordedOldFormContainer: an older agent created a container under
// its old-form ID (the object name) and crashed before recording it. The new agent adopts
// that container, never creating a second one under the new-form ID, runs and stops it.
func TestUpgradeAdoptsUnrecordedOldFormContainer(t *testing.T) {
	h := newHarness(t, nil)
	task, cs := newTask("upgrade", sh("app", serviceCmd))
	cs[0].Status = h.pulled()
	h.offline(func(st *store.Store) {
		if err := st.CreateOrUpdateAll(h.ctx, task, cs[0]); err != nil {
			t.Fatal(err)
		}
	})
	legacy := h.legacyContainer(task, cs[0], false)
	h.start()

	h.waitTask("upgrade", time.Minute, "RUNNING", known(api.TaskStatusRunning))
	if got := h.container("upgrade", "app").Status.RuntimeID; got != legacy {
		t.Fatalf("runtime ID %q, want the adopted old-form %q", got, legacy)
	}
	ids := h.runtimeIDs()
	if len(ids) != 1 || ids[legacy].Status != runtime.StatusRunning {
		t.Fatalf("runtime containers %v, want only %s, running", ids, legacy)
	}
	h.stopTask("upgrade")
	h.waitTask("upgrade", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	if c := h.container("upgrade", "app"); c.Status.ExitCode == nil || *c.Status.ExitCode != 0 {
		t.Fatalf("exit code %v, want 0 from SIGTERM through the old-form ID", c.Status.ExitCode)
	}
}

// TestRuntimeEventsFindContainersByRuntimeID: with the relist out of the way, a container
// killed behind the agent's back is noticed through its containerd exit event alone, both
// under a new-form ID and under the old-form ID an older agent recorded.
func TestRuntimeEventsFindContainersByRuntimeID(t *testing.T) {
	h := newHarness(t, func(s *Options, d *Deps) { s.Relist.Interval = time.Hour })

	// A container an older agent created, started and recorded under its old-form ID.
	oldTask, oldCs := newTask("oldform", sh("app", serviceCmd))
	now := metav1.Now()
	oldCs[0].Status = h.pulled()
	oldCs[0].Status.KnownStatus = api.ContainerStatusRunning
	oldCs[0].Status.RuntimeID = api.LegacyRuntimeID(oldCs[0])
	oldCs[0].Status.CreatedAt, oldCs[0].Status.StartedAt = &now, &now
	oldCs[0].Status.LogPath = api.ContainerLogPath(h.dir, oldTask.Name, "app")
	h.offline(func(st *store.Store) {
		if err := st.CreateOrUpdateAll(h.ctx, oldTask, oldCs[0]); err != nil {
			t.Fatal(err)
		}
	})
	legacy := h.legacyContainer(oldTask, oldCs[0], true)
	h.start()

	newTaskObj, newCs := newTask("newform", sh("app", serviceCmd))
	h.run(newTaskObj, newCs)
	h.waitTask("oldform", time.Minute, "RUNNING", known(api.TaskStatusRunning))
	h.waitTask("newform", time.Minute, "RUNNING", known(api.TaskStatusRunning))
	if n := len(h.runtimeIDs()); n != 2 {
		t.Fatalf("%d runtime containers, want 2 (no new-form duplicate of %s)", n, legacy)
	}

	for _, id := range []string{legacy, h.container("newform", "app").Status.RuntimeID} {
		if err := h.rt.Signal(h.ctx, id, syscall.SIGKILL); err != nil {
			t.Fatalf("kill %s: %v", id, err)
		}
	}
	for _, task := range []string{"oldform", "newform"} {
		h.waitTask(task, 30*time.Second, "STOPPED after its container was killed", known(api.TaskStatusStopped))
		if c := h.container(task, "app"); c.Status.ExitCode == nil || *c.Status.ExitCode != 137 {
			t.Errorf("%s: exit code %v, want 137", task, c.Status.ExitCode)
		}
	}
}

// TestOrphanSweepFindsOwnersByRuntimeID: the relist's orphan sweep keeps stopped runtime
// containers whose objects recorded them, under either ID form, while it still removes a
// true orphan. (Containers an object has not recorded yet are the Adopter's to tell: see
// its tests.)
func TestOrphanSweepFindsOwnersByRuntimeID(t *testing.T) {
	h := newHarness(t, nil)

	oldTask, oldCs := newTask("oldstopped", sh("app", "true"))
	oldCs[0].Status = h.pulled()
	oldCs[0].Status.KnownStatus = api.ContainerStatusCreated
	oldCs[0].Status.RuntimeID = api.LegacyRuntimeID(oldCs[0])
	oldTask.Spec.DesiredStatus = api.TaskStatusStopped
	h.offline(func(st *store.Store) {
		if err := st.CreateOrUpdateAll(h.ctx, oldTask, oldCs[0]); err != nil {
			t.Fatal(err)
		}
	})
	legacy := h.legacyContainer(oldTask, oldCs[0], false)
	h.start()
	done, cs := newTask("newstopped", sh("app", "true"))
	h.run(done, cs)
	h.waitTask("oldstopped", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	h.waitTask("newstopped", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	fresh := h.container("newstopped", "app").Status.RuntimeID

	// A stopped container nobody owns: once it is gone, a whole sweep has run.
	if err := h.rt.CreateContainer(h.ctx, runtime.ContainerConfig{ID: "orphan-2", Image: testenv.BusyboxImage(),
		Command: []string{"true"}, LogPath: filepath.Join(h.dir, "orphan.log")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := h.rt.InspectContainer(h.ctx, "orphan-2"); errors.Is(err, runtime.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("orphaned container was not removed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ids := h.runtimeIDs()
	for _, id := range []string{legacy, fresh} {
		if _, ok := ids[id]; !ok {
			t.Errorf("owned runtime container %s was removed by the sweep", id)
		}
	}
}
