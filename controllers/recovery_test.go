//go:build integration

package controllers

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
)

// TestRestartAtEachStepConverges stops the engine (cancelling whatever runtime call is in
// flight) as soon as a container reaches each lifecycle step, reopens the checkpoint and
// starts a new engine, as an agent restart does. Every task must converge with exactly one
// runtime container per container object.
func TestRestartAtEachStepConverges(t *testing.T) {
	h := newHarness(t, nil)
	steps := []api.ContainerState{api.ContainerStatusNone, api.ContainerStatusPulled, api.ContainerStatusCreated, api.ContainerStatusRunning}
	for i, step := range steps {
		id := "crash" + string(rune('a'+i))
		side := sh("side", serviceCmd)
		side.Essential = false
		task, cs := newTask(id, sh("app", serviceCmd), side)
		h.run(task, cs)
		h.waitContainer(id, "app", time.Minute, string(step), func(c *api.Container) bool {
			return c.Status.KnownStatus.OrNone().AtLeast(step)
		})
		h.restart()
		h.waitTask(id, time.Minute, "RUNNING after restart at "+string(step), known(api.TaskStatusRunning))
	}

	// Stop everything, restarting the engine while the stops are in flight.
	for i := range steps {
		h.stopTask("crash" + string(rune('a'+i)))
	}
	h.restart()
	for i := range steps {
		id := "crash" + string(rune('a'+i))
		h.waitTask(id, time.Minute, "STOPPED", known(api.TaskStatusStopped))
		for _, name := range []string{"app", "side"} {
			c := h.container(id, name)
			if c.Status.ExitCode == nil || *c.Status.ExitCode != 0 {
				t.Errorf("%s/%s: exit code %v, want a clean 0 from SIGTERM", id, name, c.Status.ExitCode)
			}
		}
	}

	rcs, err := h.rt.ListContainers(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, rc := range rcs {
		seen[rc.ID]++
	}
	if len(rcs) != 2*len(steps) {
		t.Fatalf("runtime has %d containers, want %d: %v", len(rcs), 2*len(steps), seen)
	}
	for i := range steps {
		for _, name := range []string{"app", "side"} {
			task := "crash" + string(rune('a'+i))
			c := h.container(task, name)
			id := api.ContainerRuntimeID(h.task(task), c)
			if c.Status.RuntimeID != id {
				t.Errorf("%s/%s: recorded runtime ID %q, want the derived %s", task, name, c.Status.RuntimeID, id)
			}
			if seen[id] != 1 {
				t.Errorf("runtime container %s (%s/%s): %d copies", id, task, name, seen[id])
			}
		}
	}
}

// TestVanishedContainerIsReported: a container removed behind the agent's back while it
// was down is reported STOPPED with ContainerVanishedError.
func TestVanishedContainerIsReported(t *testing.T) {
	h := newHarness(t, nil)
	task, cs := newTask("vanish", sh("app", serviceCmd))
	h.run(task, cs)
	h.waitTask("vanish", time.Minute, "RUNNING", known(api.TaskStatusRunning))
	id := h.container("vanish", "app").Status.RuntimeID
	h.stop()
	h.stop = nil
	if err := h.rt.RemoveContainer(h.ctx, id); err != nil {
		t.Fatal(err)
	}
	h.start()
	got := h.waitTask("vanish", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	if got.Status.StoppedReason != ReasonVanished {
		t.Fatalf("reason = %q, want %q", got.Status.StoppedReason, ReasonVanished)
	}
}

// TestOrphanedRuntimeContainerIsRemoved: a stopped runtime container that no object owns
// (a lost checkpoint, an interrupted cleanup) is removed by the relist.
func TestOrphanedRuntimeContainerIsRemoved(t *testing.T) {
	h := newHarness(t, nil)
	if _, err := h.rt.PullImage(h.ctx, testenv.BusyboxImage(), nil); err != nil {
		t.Fatal(err)
	}
	if err := h.rt.CreateContainer(h.ctx, runtime.ContainerConfig{ID: "orphan-1", Image: testenv.BusyboxImage(),
		Command: []string{"true"}, LogPath: filepath.Join(h.dir, "orphan.log")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := h.rt.InspectContainer(h.ctx, "orphan-1"); errors.Is(err, runtime.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("orphaned container was not removed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
