package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
)

// TestAggregateKnown covers the task known status rule of spec §6.2: each container's known
// status maps to a task status, and the task is at the minimum of them.
func TestAggregateKnown(t *testing.T) {
	c := func(name string, known api.ContainerState, muts ...func(*api.Container)) *api.Container {
		return unitContainer(name, known, api.ContainerStatusRunning, muts...)
	}
	for _, tc := range []struct {
		name       string
		task       *api.Task
		containers []*api.Container
		want       api.TaskState
	}{
		// The mapping, one container at a time.
		{"container NONE ⇒ task NONE", unitTask("a"), []*api.Container{c("a", "")}, api.TaskStatusNone},
		{"container MANIFEST_PULLED ⇒ task MANIFEST_PULLED", unitTask("a"), []*api.Container{c("a", api.ContainerStatusManifestPulled)}, api.TaskStatusManifestPulled},
		{"container PULLED ⇒ task MANIFEST_PULLED", unitTask("a"), []*api.Container{c("a", api.ContainerStatusPulled)}, api.TaskStatusManifestPulled},
		{"container CREATED ⇒ task CREATED", unitTask("a"), []*api.Container{c("a", api.ContainerStatusCreated)}, api.TaskStatusCreated},
		{"container RUNNING ⇒ task RUNNING", unitTask("a"), []*api.Container{c("a", api.ContainerStatusRunning)}, api.TaskStatusRunning},
		{"container RESOURCES_PROVISIONED ⇒ task RUNNING", unitTask("a"), []*api.Container{c("a", api.ContainerStatusResourcesProvisioned)}, api.TaskStatusRunning},
		{"container STOPPED ⇒ task STOPPED", unitTask("a"), []*api.Container{c("a", api.ContainerStatusStopped)}, api.TaskStatusStopped},
		{"container ZOMBIE ⇒ task STOPPED", unitTask("a"), []*api.Container{c("a", api.ContainerStatusZombie)}, api.TaskStatusStopped},

		// The minimum.
		{"the slowest container holds the task back", unitTask("a", "b"),
			[]*api.Container{c("a", api.ContainerStatusRunning), c("b", api.ContainerStatusPulled)}, api.TaskStatusManifestPulled},
		{"created and running ⇒ CREATED", unitTask("a", "b"),
			[]*api.Container{c("a", api.ContainerStatusCreated), c("b", api.ContainerStatusRunning)}, api.TaskStatusCreated},
		{"the task is STOPPED only when every container is", unitTask("a", "b"),
			[]*api.Container{c("a", api.ContainerStatusStopped), c("b", api.ContainerStatusStopped)}, api.TaskStatusStopped},
		// Special rule: an essential container stopped while another still runs leaves the
		// task RUNNING until the others have stopped too.
		{"an essential container stopped while another runs: still RUNNING", unitTask("a", "b"),
			[]*api.Container{c("a", api.ContainerStatusStopped), c("b", api.ContainerStatusRunning, unitNotEssential)}, api.TaskStatusRunning},

		// Missing objects.
		{"a container object missing: NONE, the task waits for it", unitTask("a", "b"),
			[]*api.Container{c("a", api.ContainerStatusRunning)}, api.TaskStatusNone},
		{"no containers and desired RUNNING: NONE", unitTask(), nil, api.TaskStatusNone},
		{"no containers and desired STOPPED (an invalid task): STOPPED", func() *api.Task {
			t := unitTask()
			t.Spec.DesiredStatus = api.TaskStatusStopped
			return t
		}(), nil, api.TaskStatusStopped},
		{"no containers and the engine decided to stop it: STOPPED", func() *api.Task {
			t := unitTask()
			t.Status.DesiredStatus = api.TaskStatusStopped
			return t
		}(), nil, api.TaskStatusStopped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := aggregateKnown(tc.task, unitSiblings(tc.containers...)); got != tc.want {
				t.Fatalf("aggregateKnown = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestSetTimestamps covers the task's pull and execution times derived from its containers.
func TestSetTimestamps(t *testing.T) {
	pulled := func(start, stop time.Duration) func(*api.Container) {
		return func(c *api.Container) {
			c.Status.PullStartedAt = unitAt(start)
			c.Status.PullStoppedAt = unitAt(stop)
		}
	}
	finished := func(d time.Duration) func(*api.Container) {
		return func(c *api.Container) { c.Status.FinishedAt = unitAt(d) }
	}
	running, stopped := api.ContainerStatusRunning, api.ContainerStatusStopped
	type times struct{ pullStart, pullStop, execStop *metav1.Time }
	for _, tc := range []struct {
		name       string
		task       *api.Task
		containers []*api.Container
		changed    bool
		want       times
	}{
		{
			name: "pullStartedAt is the earliest start, pullStoppedAt the latest stop",
			task: unitTask("a", "b"),
			containers: []*api.Container{
				unitContainer("a", running, running, pulled(2*time.Second, 9*time.Second)),
				unitContainer("b", running, running, pulled(1*time.Second, 5*time.Second)),
			},
			changed: true,
			want:    times{pullStart: unitAt(time.Second), pullStop: unitAt(9 * time.Second)},
		},
		{
			name: "pullStoppedAt waits for every container's pull",
			task: unitTask("a", "b"),
			containers: []*api.Container{
				unitContainer("a", running, running, pulled(2*time.Second, 9*time.Second)),
				unitContainer("b", "", running, func(c *api.Container) { c.Status.PullStartedAt = unitAt(3 * time.Second) }),
			},
			changed: true,
			want:    times{pullStart: unitAt(2 * time.Second)},
		},
		{
			name:       "pullStoppedAt waits for a container object still missing",
			task:       unitTask("a", "b"),
			containers: []*api.Container{unitContainer("a", running, running, pulled(0, time.Second))},
			changed:    true,
			want:       times{pullStart: unitAt(0)},
		},
		{
			name: "an earlier pull start found later moves pullStartedAt back",
			task: func() *api.Task {
				t := unitTask("a")
				t.Status.PullStartedAt = unitAt(5 * time.Second)
				t.Status.PullStoppedAt = unitAt(8 * time.Second)
				return t
			}(),
			containers: []*api.Container{unitContainer("a", running, running, pulled(time.Second, 3*time.Second))},
			changed:    true,
			want:       times{pullStart: unitAt(time.Second), pullStop: unitAt(8 * time.Second)},
		},
		{
			name: "nothing new: unchanged",
			task: func() *api.Task {
				t := unitTask("a")
				t.Status.PullStartedAt = unitAt(time.Second)
				t.Status.PullStoppedAt = unitAt(3 * time.Second)
				return t
			}(),
			containers: []*api.Container{unitContainer("a", running, running, pulled(time.Second, 3*time.Second))},
			want:       times{pullStart: unitAt(time.Second), pullStop: unitAt(3 * time.Second)},
		},
		{
			name:       "executionStoppedAt: when the essential container finished (§6.5)",
			task:       unitTask("a"),
			containers: []*api.Container{unitContainer("a", stopped, stopped, finished(time.Minute))},
			changed:    true,
			want:       times{execStop: unitAt(time.Minute)},
		},
		{
			name:       "a non-essential container stopping does not set executionStoppedAt",
			task:       unitTask("a"),
			containers: []*api.Container{unitContainer("a", stopped, stopped, finished(time.Minute), unitNotEssential)},
			want:       times{},
		},
		{
			name: "executionStoppedAt is the first essential container to stop, whatever the definition order",
			task: unitTask("a", "b"),
			containers: []*api.Container{
				unitContainer("a", stopped, stopped, finished(2*time.Minute)),
				unitContainer("b", stopped, stopped, finished(time.Minute)),
			},
			changed: true,
			want:    times{execStop: unitAt(time.Minute)},
		},
		{
			name: "executionStoppedAt, once set, stays",
			task: func() *api.Task {
				t := unitTask("a", "b")
				t.Status.ExecutionStoppedAt = unitAt(time.Minute)
				return t
			}(),
			containers: []*api.Container{
				unitContainer("a", stopped, stopped, finished(time.Minute)),
				unitContainer("b", stopped, stopped, finished(30*time.Second)),
			},
			want: times{execStop: unitAt(time.Minute)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed := setTimestamps(tc.task, unitSiblings(tc.containers...), testutil.Epoch())
			if changed != tc.changed {
				t.Errorf("changed = %v, want %v", changed, tc.changed)
			}
			st := tc.task.Status
			for _, f := range []struct {
				what      string
				got, want *metav1.Time
			}{
				{"pullStartedAt", st.PullStartedAt, tc.want.pullStart},
				{"pullStoppedAt", st.PullStoppedAt, tc.want.pullStop},
				{"executionStoppedAt", st.ExecutionStoppedAt, tc.want.execStop},
			} {
				if (f.got == nil) != (f.want == nil) || (f.got != nil && !f.got.Equal(f.want)) {
					t.Errorf("%s = %v, want %v", f.what, f.got, f.want)
				}
			}
		})
	}
}

// TestSetTimestampsEssentialStoppedWithoutFinishTime: a container seen STOPPED with no
// finish time (it vanished) stops the task's execution now.
func TestSetTimestampsEssentialStoppedWithoutFinishTime(t *testing.T) {
	task := unitTask("a")
	now := testutil.Epoch().Add(time.Hour)
	if !setTimestamps(task, unitSiblings(unitContainer("a", api.ContainerStatusStopped, api.ContainerStatusStopped)), now) {
		t.Fatal("no change")
	}
	if at := task.Status.ExecutionStoppedAt; at == nil || !at.Time.Equal(now) {
		t.Fatalf("executionStoppedAt = %v, want now", at)
	}
}
