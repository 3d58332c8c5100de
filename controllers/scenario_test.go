package controllers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/fake"
)

// The scenarios below run the whole engine on the fake runtime and check the ECS state
// machine of ../shared/spec/ECS-AGENT-PROTOCOL.md sections 6 and 7 one rule per row; each
// row's name starts with the section it checks. Rows run in parallel: each has its own
// store, runtime and engine.

// scenario is one row: a task (id "t1"), what the runtime does, what the test does once
// the task is written, and what must hold.
type scenario struct {
	rule string
	// settings changes the harness's options and fakes.
	settings func(*Options, *Deps)
	// fakeClock runs the engine and the runtime on a fake clock the check steps (h.advance).
	fakeClock bool
	// task returns the task to run; nil runs one essential container "app".
	task func() (*api.Task, []*api.Container)
	// script runs before the task is written: runtime scripts and faults.
	script func(h *fakeHarness)
	// check runs after the task is written.
	check func(h *fakeHarness)
	// network gives the engine a fake network layer (h.net).
	network *fake.Network
}

const tid = "t1"

func runScenarios(t *testing.T, rows []scenario) {
	t.Helper()
	for _, sc := range rows {
		t.Run(sc.rule, func(t *testing.T) {
			t.Parallel()
			net := sc.network
			h := newFakeHarness(t, sc.fakeClock, func(o *Options, d *Deps) {
				if net != nil {
					d.Network = net
				}
				if sc.settings != nil {
					sc.settings(o, d)
				}
			})
			h.net = net
			if sc.script != nil {
				sc.script(h)
			}
			task, cs := fhTask(tid, ctr("app"))
			if sc.task != nil {
				task, cs = sc.task()
			}
			if task != nil {
				h.run(task, cs)
			}
			sc.check(h)
			h.assertForwardOnly(tid)
		})
	}
}

// task builds a task of the given containers.
func task(specs ...api.ContainerSpec) func() (*api.Task, []*api.Container) {
	return func() (*api.Task, []*api.Container) { return fhTask(tid, specs...) }
}

// runsForever is the default process: it runs until signalled and exits 0 on SIGTERM, as
// a well-behaved service does.
var runsForever = fake.Process{TermExitCode: fake.Code(0)}

func exitsWith(code int32, after time.Duration) fake.Process {
	return fake.Process{Exit: fake.Code(code), ExitAfter: after}
}

func stoppedWith(t *testing.T, h *fakeHarness, wantPrefix string) *api.Task {
	t.Helper()
	got := h.waitTask(tid, "STOPPED", taskKnown(api.TaskStatusStopped))
	if !strings.HasPrefix(got.Status.StoppedReason, wantPrefix) {
		t.Fatalf("stopped reason = %q, want prefix %q", got.Status.StoppedReason, wantPrefix)
	}
	return got
}

func TestScenarioTransitions(t *testing.T) {
	runScenarios(t, []scenario{{
		rule: "6.2 one container runs and its task becomes RUNNING",
		check: func(h *fakeHarness) {
			t := h.t
			got := h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			c := h.container(tid, "app")
			if c.Status.KnownStatus != api.ContainerStatusRunning || c.Status.RuntimeID != h.runtimeID("app") ||
				c.Status.ImageDigest != digestOf(fhImage) || c.Status.StartedAt == nil || c.Status.CreatedAt == nil {
				t.Fatalf("container status %+v", c.Status)
			}
			if st, ok := h.rt.State(c.Status.RuntimeID); !ok || st.Status != runtime.StatusRunning {
				t.Fatalf("runtime container: %+v", st)
			}
			if got.Status.PullStartedAt == nil || got.Status.PullStoppedAt == nil {
				t.Fatalf("task pull timestamps missing: %+v", got.Status)
			}
			var im api.Image
			if err := h.st.DirectClient().Get(h.ctx, clientKey(api.ImageName(digestOf(fhImage))), &im); err != nil ||
				len(im.Status.Users) != 1 || im.Status.Users[0] != c.Name {
				t.Fatalf("image bookkeeping: %+v, %v", im.Status, err)
			}
		},
	}, {
		rule: "6.2 desired STOPPED before the container ever ran: STOPPED without an action",
		task: func() (*api.Task, []*api.Container) {
			tk, cs := fhTask(tid, ctr("app"))
			tk.Spec.DesiredStatus = api.TaskStatusStopped
			return tk, cs
		},
		check: func(h *fakeHarness) {
			t := h.t
			h.waitTask(tid, "STOPPED", taskKnown(api.TaskStatusStopped))
			if n := len(h.rt.Calls(fake.MethodPullImage)) + len(h.rt.Calls(fake.MethodCreateContainer)); n != 0 {
				t.Fatalf("%d pull/create calls for a task that never should run", n)
			}
			if c := h.container(tid, "app"); c.Status.KnownStatus != api.ContainerStatusStopped || c.Status.ExitCode != nil {
				t.Fatalf("container %+v", c.Status)
			}
		},
	}, {
		rule: "6.2 desired STOPPED while waiting on ordering: the waiting container stops without an action",
		task: func() (*api.Task, []*api.Container) {
			app := ctr("app")
			app.DependsOn = []api.Dependency{{ContainerName: "init", Condition: api.ConditionComplete}}
			return fhTask(tid, app, sidecar("init"))
		},
		script: func(h *fakeHarness) { h.script("init", runsForever) },
		check: func(h *fakeHarness) {
			t := h.t
			h.waitContainer("init", "RUNNING", ctrKnown(api.ContainerStatusRunning))
			h.stopTask()
			h.waitTask(tid, "STOPPED", taskKnown(api.TaskStatusStopped))
			if _, created := h.statesAtAppCreate(); created {
				t.Fatal("the waiting container was created after the task was stopped")
			}
			if c := h.container(tid, "app"); c.Status.KnownStatus != api.ContainerStatusStopped {
				t.Fatalf("app %+v", c.Status)
			}
		},
	}, {
		rule: "6.2 an essential container exits: task desired STOPPED and the other containers stopped",
		task: task(ctr("main"), sidecar("side")),
		script: func(h *fakeHarness) {
			h.script("main", exitsWith(1, 50*time.Millisecond))
			h.script("side", runsForever)
		},
		check: func(h *fakeHarness) {
			t := h.t
			got := stoppedWith(t, h, ReasonEssential)
			if got.Status.DesiredStatus != api.TaskStatusStopped || got.Status.ExecutionStoppedAt == nil {
				t.Fatalf("task status %+v", got.Status)
			}
			side := h.container(tid, "side")
			if side.Status.KnownStatus != api.ContainerStatusStopped || exitCode(side) != "0" || len(h.signals("side")) == 0 {
				t.Fatalf("side was not stopped with SIGTERM: %+v", side.Status)
			}
			if m := h.container(tid, "main"); exitCode(m) != "1" {
				t.Fatalf("main exit code %s, want 1", exitCode(m))
			}
		},
	}, {
		rule: "6.2 a non-essential container exits: the task keeps running",
		task: task(ctr("app"), sidecar("side")),
		script: func(h *fakeHarness) {
			h.script("app", runsForever)
			h.script("side", exitsWith(2, 0))
		},
		check: func(h *fakeHarness) {
			t := h.t
			side := h.waitContainer("side", "STOPPED", ctrKnown(api.ContainerStatusStopped))
			if exitCode(side) != "2" {
				t.Fatalf("side exit code %s, want 2", exitCode(side))
			}
			got := h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			if got.Status.DesiredStatus == api.TaskStatusStopped || got.Status.StoppedReason != "" {
				t.Fatalf("task is stopping: %s", fhDescribe(got))
			}
			if len(h.signals("app")) != 0 {
				t.Fatal("app was signalled")
			}
		},
	}, {
		rule: "6.2 task known status is the minimum over its containers",
		task: task(ctr("app"), ctr("slow")),
		script: func(h *fakeHarness) {
			release := make(chan struct{})
			h.rt.SetHook(fake.MethodStartContainer, func(ctx context.Context, c fake.Call) error {
				if c.Subject != h.runtimeID("slow") {
					return nil
				}
				select {
				case <-release:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			h.t.Cleanup(func() { closeOnce(release) })
			h.onCheck = func() { closeOnce(release) }
		},
		check: func(h *fakeHarness) {
			t := h.t
			h.waitContainer("app", "RUNNING", ctrKnown(api.ContainerStatusRunning))
			h.waitContainer("slow", "CREATED", ctrKnown(api.ContainerStatusCreated))
			got := h.waitTask(tid, "CREATED", taskKnown(api.TaskStatusCreated))
			if got.Status.KnownStatus != api.TaskStatusCreated {
				t.Fatalf("task %s with one container RUNNING and one CREATED, want CREATED", fhDescribe(got))
			}
			h.onCheck()
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
		},
	}, {
		rule: "6.2 task known status never decreases",
		task: func() (*api.Task, []*api.Container) {
			tk, cs := fhTask(tid, ctr("app"))
			// As restored from a checkpoint written by an agent that had it RUNNING.
			tk.Status.KnownStatus = api.TaskStatusRunning
			return tk, cs
		},
		script: func(h *fakeHarness) { h.script("app", runsForever) },
		check: func(h *fakeHarness) {
			t := h.t
			h.waitContainer("app", "RUNNING", ctrKnown(api.ContainerStatusRunning))
			got := h.task()
			if got.Status.KnownStatus != api.TaskStatusRunning || len(got.Status.History) != 0 {
				t.Fatalf("task moved from RUNNING: %s, history %+v", fhDescribe(got), got.Status.History)
			}
		},
	}, {
		rule: "6.2 task desired status STOPPED stops every container",
		task: task(ctr("a"), ctr("b")),
		script: func(h *fakeHarness) {
			h.script("a", runsForever)
			h.script("b", runsForever)
		},
		check: func(h *fakeHarness) {
			t := h.t
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			h.stopTask()
			got := h.waitTask(tid, "STOPPED", taskKnown(api.TaskStatusStopped))
			if got.Status.StoppedReason != "" {
				t.Fatalf("a StopTask carries ECS's reason; the engine added %q", got.Status.StoppedReason)
			}
			for _, n := range []string{"a", "b"} {
				if c := h.container(tid, n); exitCode(c) != "0" || c.Status.DesiredStatus != api.ContainerStatusStopped {
					t.Errorf("%s: %+v", n, c.Status)
				}
			}
		},
	}, {
		rule: "6.2 an invalid task is STOPPED with its reason",
		task: func() (*api.Task, []*api.Container) {
			tk, _ := fhTask(tid)
			tk.Spec.Invalid = "UnrecogniedTaskError: Error loading task - container app: no image"
			tk.Spec.DesiredStatus = api.TaskStatusStopped
			return tk, nil
		},
		check: func(h *fakeHarness) {
			t := h.t
			stoppedWith(t, h, "UnrecogniedTaskError: Error loading task")
		},
	}, {
		rule: "6.2 runtime unavailable: state is kept and the step retried",
		script: func(h *fakeHarness) {
			h.rt.FailNext(fake.MethodStartContainer, runtime.ErrUnavailable, runtime.ErrUnavailable)
		},
		check: func(h *fakeHarness) {
			t := h.t
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			if c := h.container(tid, "app"); c.Status.StartAttempts != 0 || c.Status.Reason != "" {
				t.Fatalf("an unavailable runtime counted as a failed start: %+v", c.Status)
			}
			if n := len(h.rt.Calls(fake.MethodStartContainer)); n < 3 {
				t.Fatalf("%d start calls, want the 2 failures retried", n)
			}
		},
	}})
}

func TestScenarioPull(t *testing.T) {
	const cached = "registry.test/ecsd/cached:1"
	const private = "registry.test/ecsd/private:1"
	good := runtime.Auth{Username: "ecsd", Password: "secret"}
	cachedOnly := func(h *fakeHarness) {
		h.rt.AddLocalImage(runtime.ImageInfo{Ref: cached, Digest: digestOf(cached)})
	}
	cachedTask := func() (*api.Task, []*api.Container) {
		app := ctr("app")
		app.Image = cached
		return fhTask(tid, app)
	}
	missingTask := func() (*api.Task, []*api.Container) {
		app := ctr("app")
		app.Image = "registry.test/ecsd/missing:1"
		return fhTask(tid, app)
	}
	rows := []scenario{}
	for _, b := range []PullBehavior{PullDefault, PullAlways, PullOnce, PullPreferCached} {
		rows = append(rows, scenario{
			rule:     "6.2 pull behavior " + string(b) + ": an image that is nowhere stops the task",
			settings: func(o *Options, _ *Deps) { o.Pull.Behavior = b },
			task:     missingTask,
			check: func(h *fakeHarness) {
				t := h.t
				stoppedWith(t, h, ReasonPull+":")
				if c := h.container(tid, "app"); c.Status.PullAttempts != 0 {
					t.Fatalf("a missing image was retried: %+v", c.Status)
				}
			},
		})
	}
	for _, tc := range []struct {
		b       PullBehavior
		runs    bool
		maxPull int
	}{{PullAlways, false, 1}, {PullOnce, false, 1}, {PullDefault, true, 1}, {PullPreferCached, true, 0}} {
		rule := "6.2 pull behavior " + string(tc.b) + ": a failed pull of a cached image stops the task"
		if tc.runs {
			rule = "6.2 pull behavior " + string(tc.b) + ": runs from the cache"
		}
		rows = append(rows, scenario{
			rule:     rule,
			settings: func(o *Options, _ *Deps) { o.Pull.Behavior = tc.b },
			task:     cachedTask,
			script:   cachedOnly,
			check: func(h *fakeHarness) {
				t := h.t
				if tc.runs {
					h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
				} else {
					stoppedWith(t, h, ReasonPull+":")
				}
				if n := h.rt.Pulls(cached); n > tc.maxPull {
					t.Fatalf("%d pulls, want at most %d", n, tc.maxPull)
				}
			},
		})
	}
	rows = append(rows, scenario{
		rule:     "8 pull behavior once: an image pulled before is not pulled again",
		settings: func(o *Options, _ *Deps) { o.Pull.Behavior = PullOnce },
		check: func(h *fakeHarness) {
			t := h.t
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			h.rt.RemoveRegistryImage(fhImage)
			tk, cs := fhTask("t2", ctr("app"))
			h.run(tk, cs)
			h.waitTask("t2", "RUNNING", taskKnown(api.TaskStatusRunning))
			if n := h.rt.Pulls(fhImage); n != 1 {
				t.Fatalf("%d pulls, want 1", n)
			}
		},
	}, scenario{
		rule:     "6.2 pull with the registry's credentials (ECS_ENGINE_AUTH_DATA) runs",
		settings: func(o *Options, _ *Deps) { o.Pull.RegistryAuth = map[string]runtime.Auth{"registry.test": good} },
		script:   func(h *fakeHarness) { h.rt.AddImage(runtime.ImageInfo{Ref: private, Digest: digestOf(private)}, &good) },
		task: func() (*api.Task, []*api.Container) {
			app := ctr("app")
			app.Image = private
			return fhTask(tid, app)
		},
		check: func(h *fakeHarness) { h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning)) },
	}, scenario{
		rule: "6.2 pull refused for wrong credentials stops the task without retrying",
		settings: func(o *Options, _ *Deps) {
			o.Pull.RegistryAuth = map[string]runtime.Auth{"registry.test": {Username: "ecsd", Password: "wrong"}}
		},
		script: func(h *fakeHarness) { h.rt.AddImage(runtime.ImageInfo{Ref: private, Digest: digestOf(private)}, &good) },
		task: func() (*api.Task, []*api.Container) {
			app := ctr("app")
			app.Image = private
			return fhTask(tid, app)
		},
		check: func(h *fakeHarness) {
			t := h.t
			stoppedWith(t, h, ReasonPull+":")
			if n := h.rt.Pulls(private); n != 1 {
				t.Fatalf("%d pulls, want 1 (refused credentials are final)", n)
			}
		},
	}, scenario{
		rule: "6.2 a pull failing for a reason that may pass is retried",
		script: func(h *fakeHarness) {
			h.rt.FailNext(fake.MethodPullImage, errors.New("read: connection reset by peer"))
		},
		check: func(h *fakeHarness) {
			t := h.t
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			if c := h.container(tid, "app"); c.Status.PullAttempts != 1 || !strings.Contains(c.Status.LastError, "connection reset") {
				t.Fatalf("container %+v", c.Status)
			}
		},
	}, scenario{
		rule:     "6.4 pull timeout (ECS_IMAGE_PULL_TIMEOUT) stops the task with DockerTimeoutError",
		settings: func(o *Options, _ *Deps) { o.Pull.Timeout = 50 * time.Millisecond },
		script:   func(h *fakeHarness) { h.rt.SetLatency(fake.MethodPullImage, time.Hour) },
		check:    func(h *fakeHarness) { stoppedWith(h.t, h, ReasonTimeout+":") },
	}, scenario{
		rule:     "6.3 ECS_PULL_DEPENDENT_CONTAINERS_UPFRONT pulls while waiting on ordering",
		settings: func(o *Options, _ *Deps) { o.Pull.DependentUpfront = true },
		task: func() (*api.Task, []*api.Container) {
			app := ctr("app")
			app.DependsOn = []api.Dependency{{ContainerName: "init", Condition: api.ConditionComplete}}
			return fhTask(tid, app, sidecar("init"))
		},
		script: func(h *fakeHarness) { h.script("init", runsForever) },
		check: func(h *fakeHarness) {
			t := h.t
			h.waitContainer("init", "RUNNING", ctrKnown(api.ContainerStatusRunning))
			h.waitContainer("app", "PULLED while init runs", ctrKnown(api.ContainerStatusPulled))
			if _, created := h.statesAtAppCreate(); created {
				t.Fatal("app was created before its COMPLETE dependency exited")
			}
		},
	})
	runScenarios(t, rows)
}

func TestScenarioCreateAndStart(t *testing.T) {
	withSpec := func(mut func(*api.ContainerSpec, *api.Task)) func() (*api.Task, []*api.Container) {
		return func() (*api.Task, []*api.Container) {
			app := ctr("app")
			tk, _ := fhTask(tid)
			mut(&app, tk)
			t2, cs := fhTask(tid, app)
			t2.Spec.NetworkMode, t2.Spec.PIDMode, t2.Spec.Volumes = tk.Spec.NetworkMode, tk.Spec.PIDMode, tk.Spec.Volumes
			return t2, cs
		}
	}
	runScenarios(t, []scenario{{
		rule:   "6.2 create error: container STOPPED with CannotCreateContainerError",
		script: func(h *fakeHarness) { h.rt.FailNext(fake.MethodCreateContainer, errors.New("no space left on device")) },
		check: func(h *fakeHarness) {
			t := h.t
			stoppedWith(t, h, ReasonCreate+": ")
			if c := h.container(tid, "app"); c.Status.KnownStatus != api.ContainerStatusStopped || !strings.Contains(c.Status.Reason, "no space left") {
				t.Fatalf("container %+v", c.Status)
			}
		},
	}, {
		rule: "6.2 task cgroup limit refused (e.g. no pids controller on cgroup v2): container and task STOPPED saying why",
		settings: func(o *Options, d *Deps) {
			o.Create.TaskCgroups, o.Create.TaskPidsLimit = true, 100
			d.Cgroups = &fake.Cgroups{EnsureErr: errors.New(`cgroup v2: the pids controller is not available in /sys/fs/cgroup/ecs (cgroup.controllers: "cpu memory"): cgroup controller not available`)}
		},
		check: func(h *fakeHarness) {
			t := h.t
			got := stoppedWith(t, h, ReasonCreate+": ")
			if !strings.Contains(got.Status.StoppedReason, "task cgroup: cgroup v2: the pids controller is not available") {
				t.Fatalf("task stopped reason %q, want the task cgroup's error", got.Status.StoppedReason)
			}
			if c := h.container(tid, "app"); c.Status.KnownStatus != api.ContainerStatusStopped || !strings.Contains(c.Status.Reason, "pids controller") {
				t.Fatalf("container %+v", c.Status)
			}
			if n := len(h.rt.States()); n != 0 {
				t.Fatalf("%d runtime containers created without their task cgroup", n)
			}
		},
	}, {
		rule: "6.2 create refused because the process cannot execute: CannotStartContainerError",
		script: func(h *fakeHarness) {
			h.script("app", fake.Process{ExecError: "exec /bin/sh: argument list too long"})
		},
		check: func(h *fakeHarness) {
			t := h.t
			got := stoppedWith(t, h, ReasonStart+": ")
			if !strings.Contains(got.Status.StoppedReason, "argument list too long") {
				t.Fatalf("reason %q", got.Status.StoppedReason)
			}
		},
	}, {
		rule:     "6.4 create timeout (ECS_CONTAINER_CREATE_TIMEOUT): DockerTimeoutError",
		settings: func(o *Options, _ *Deps) { o.Create.Timeout = 50 * time.Millisecond },
		script:   func(h *fakeHarness) { h.rt.SetLatency(fake.MethodCreateContainer, time.Hour) },
		check: func(h *fakeHarness) {
			t := h.t
			got := stoppedWith(t, h, ReasonTimeout+": ")
			if !strings.Contains(got.Status.StoppedReason, "transition to created") {
				t.Fatalf("reason %q", got.Status.StoppedReason)
			}
		},
	}, {
		rule: "6.2 definition error (mount of an unknown volume): CannotCreateContainerError naming it",
		task: withSpec(func(c *api.ContainerSpec, _ *api.Task) {
			c.MountPoints = []api.MountPoint{{SourceVolume: "nope", ContainerPath: "/x"}}
		}),
		check: func(h *fakeHarness) {
			t := h.t
			if got := stoppedWith(t, h, ReasonCreate+": "); !strings.Contains(got.Status.StoppedReason, "nope") {
				t.Fatalf("reason %q", got.Status.StoppedReason)
			}
		},
	}, {
		rule:     "6.2 definition error (privileged with ECS_DISABLE_PRIVILEGED): CannotCreateContainerError",
		settings: func(o *Options, _ *Deps) { o.Create.DisablePrivileged = true },
		task:     withSpec(func(c *api.ContainerSpec, _ *api.Task) { c.Privileged = true }),
		check:    func(h *fakeHarness) { stoppedWith(h.t, h, ReasonCreate+": ") },
	}, {
		rule: "6.2 definition error (bridge port mappings without a network layer): CannotCreateContainerError",
		task: withSpec(func(c *api.ContainerSpec, tk *api.Task) {
			tk.Spec.NetworkMode = "bridge"
			c.PortMappings = []api.PortMapping{{ContainerPort: 80, HostPort: 8080}}
		}),
		check: func(h *fakeHarness) { stoppedWith(h.t, h, ReasonCreate+": ") },
	}, {
		rule:  "6.2 pidMode task without ecsd-init: CannotCreateContainerError",
		task:  withSpec(func(_ *api.ContainerSpec, tk *api.Task) { tk.Spec.PIDMode = "task" }),
		check: func(h *fakeHarness) { stoppedWith(h.t, h, ReasonCreate+": ") },
	}, {
		rule: "6.2 task volumes and container settings reach the runtime",
		settings: func(o *Options, _ *Deps) {
			o.Metadata.Enabled = true
			o.Create.Region = "us-test-1"
		},
		task: withSpec(func(c *api.ContainerSpec, tk *api.Task) {
			tk.Spec.NetworkMode = "none"
			tk.Spec.Volumes = []api.Volume{{Name: "data"}}
			c.MountPoints = []api.MountPoint{{SourceVolume: "data", ContainerPath: "/data"}}
			c.Environment = map[string]string{"A": "1"}
			c.EndpointID = "0f2b3c4d-1111-2222-3333-444455556666"
			c.LinuxParameters = &api.LinuxParameters{InitProcessEnabled: true, Tmpfs: []api.Tmpfs{{ContainerPath: "/tmp", Size: 8}}}
			c.Ulimits = []api.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}}
		}),
		check: func(h *fakeHarness) {
			t := h.t
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			cfg, ok := h.rt.Config(h.runtimeID("app"))
			if !ok || !cfg.PrivateNetwork || !cfg.Init || len(cfg.Ulimits) != 1 {
				t.Fatalf("config %+v", cfg)
			}
			env := strings.Join(cfg.Env, " ")
			for _, want := range []string{"A=1", "ECS_CONTAINER_METADATA_URI_V4=", "ECS_CONTAINER_METADATA_FILE="} {
				if !strings.Contains(env, want) {
					t.Errorf("env %q lacks %s", env, want)
				}
			}
			var bind string
			for _, m := range cfg.Mounts {
				if m.Destination == "/data" {
					bind = m.Source
				}
			}
			if fi, err := os.Stat(bind); err != nil || !fi.IsDir() {
				t.Fatalf("task volume %q: %v", bind, err)
			}
		},
	}, {
		rule:     "6.2 a start error is retried, then stops the container with CannotStartContainerError",
		settings: func(o *Options, _ *Deps) { o.Start.Timeout = 100 * time.Millisecond },
		script: func(h *fakeHarness) {
			boom := errors.New("OCI runtime start failed: cgroup busy")
			h.rt.FailNext(fake.MethodStartContainer, boom, boom, boom, boom, boom)
		},
		check: func(h *fakeHarness) {
			t := h.t
			got := stoppedWith(t, h, ReasonStart+": ")
			if !strings.Contains(got.Status.StoppedReason, "cgroup busy") {
				t.Fatalf("reason %q", got.Status.StoppedReason)
			}
			if c := h.container(tid, "app"); c.Status.StartAttempts < 1 || c.Status.StartedAt != nil {
				t.Fatalf("container %+v", c.Status)
			}
		},
	}, {
		rule:   "6.2 one failed start within the start timeout is retried and the task runs",
		script: func(h *fakeHarness) { h.rt.FailNext(fake.MethodStartContainer, errors.New("transient")) },
		check: func(h *fakeHarness) {
			t := h.t
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			if c := h.container(tid, "app"); c.Status.StartAttempts != 1 {
				t.Fatalf("start attempts %d, want 1", c.Status.StartAttempts)
			}
		},
	}, {
		rule:     "6.4 start timeout (ECS_CONTAINER_START_TIMEOUT): DockerTimeoutError",
		settings: func(o *Options, _ *Deps) { o.Start.Timeout = 50 * time.Millisecond },
		script:   func(h *fakeHarness) { h.rt.SetLatency(fake.MethodStartContainer, time.Hour) },
		check: func(h *fakeHarness) {
			t := h.t
			if got := stoppedWith(t, h, ReasonTimeout+": "); !strings.Contains(got.Status.StoppedReason, "transition to started") {
				t.Fatalf("reason %q", got.Status.StoppedReason)
			}
		},
	}, {
		rule: "6.5 a process that fails to execute at start: CannotStartContainerError with the runtime's words",
		script: func(h *fakeHarness) {
			h.script("app", fake.Process{StartError: `exec: "nope": executable file not found in $PATH`})
		},
		check: func(h *fakeHarness) {
			t := h.t
			if got := stoppedWith(t, h, ReasonStart+": "); !strings.Contains(got.Status.StoppedReason, "executable file not found") {
				t.Fatalf("reason %q", got.Status.StoppedReason)
			}
		},
	}})
}

func TestScenarioDependsOn(t *testing.T) {
	healthy := &api.HealthCheck{Test: []string{"CMD", "probe"}, Interval: metav1.Duration{Duration: 20 * time.Millisecond}, Retries: 1}
	dependent := func(dep api.ContainerSpec, cond api.DependencyCondition) func() (*api.Task, []*api.Container) {
		app := ctr("app")
		app.DependsOn = []api.Dependency{{ContainerName: dep.Name, Condition: cond}}
		return task(app, dep)
	}
	// depStateAtCreate asserts what the dependency looked like in the runtime when app was
	// created.
	depStateAtCreate := func(t *testing.T, h *fakeHarness, dep string, ok func(runtime.ContainerState) bool) {
		t.Helper()
		h.waitContainer("app", "RUNNING", ctrKnown(api.ContainerStatusRunning))
		states, created := h.statesAtAppCreate()
		st, found := states[dep]
		if !created || !found || !ok(st) {
			t.Fatalf("when app was created, %s was %+v (found %v)", dep, st, found)
		}
	}
	// dependentFailed asserts the terminal dependency failure rule (§6.3): app is STOPPED
	// with exit code 143 and reason, and was never created.
	dependentFailed := func(t *testing.T, h *fakeHarness, reason string) {
		t.Helper()
		c := h.waitContainer("app", "STOPPED", ctrKnown(api.ContainerStatusStopped))
		if c.Status.ExitCode == nil || *c.Status.ExitCode != 143 || !strings.HasPrefix(c.Status.Reason, reason+": ") {
			t.Fatalf("app stopped with exit code %s reason %q, want 143 and %s", exitCode(c), c.Status.Reason, reason)
		}
		if _, created := h.statesAtAppCreate(); created {
			t.Fatal("app was created although its dependency failed for good")
		}
	}
	withDB := func() api.ContainerSpec {
		db := sidecar("db")
		db.HealthCheck = healthy
		return db
	}
	runScenarios(t, []scenario{{
		rule:   "6.3 CREATE: the dependent is created after its dependency",
		task:   dependent(sidecar("init"), api.ConditionCreate),
		script: func(h *fakeHarness) { h.script("init", runsForever) },
		check: func(h *fakeHarness) {
			t := h.t
			depStateAtCreate(t, h, "init", func(st runtime.ContainerState) bool { return st.ID != "" })
		},
	}, {
		rule:   "6.3 START: the dependent is created once its dependency runs",
		task:   dependent(sidecar("side"), api.ConditionStart),
		script: func(h *fakeHarness) { h.script("side", runsForever) },
		check: func(h *fakeHarness) {
			t := h.t
			depStateAtCreate(t, h, "side", func(st runtime.ContainerState) bool { return st.Status == runtime.StatusRunning })
		},
	}, {
		rule:   "6.3 COMPLETE: the dependent waits for its dependency to exit with any code",
		task:   dependent(sidecar("migrate"), api.ConditionComplete),
		script: func(h *fakeHarness) { h.script("migrate", exitsWith(3, 50*time.Millisecond)) },
		check: func(h *fakeHarness) {
			t := h.t
			depStateAtCreate(t, h, "migrate", func(st runtime.ContainerState) bool {
				return st.Status == runtime.StatusStopped && st.ExitCode == 3
			})
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
		},
	}, {
		rule:   "6.3 SUCCESS: the dependent waits for its dependency to exit 0",
		task:   dependent(sidecar("setup"), api.ConditionSuccess),
		script: func(h *fakeHarness) { h.script("setup", exitsWith(0, 50*time.Millisecond)) },
		check: func(h *fakeHarness) {
			t := h.t
			depStateAtCreate(t, h, "setup", func(st runtime.ContainerState) bool {
				return st.Status == runtime.StatusStopped && st.ExitCode == 0
			})
		},
	}, {
		rule:   "6.3 SUCCESS with a non-zero exit: the dependent is STOPPED for good, never created",
		task:   dependent(sidecar("setup"), api.ConditionSuccess),
		script: func(h *fakeHarness) { h.script("setup", exitsWith(4, 0)) },
		check: func(h *fakeHarness) {
			t := h.t
			got := stoppedWith(t, h, ReasonStart+": ")
			if !strings.Contains(got.Status.StoppedReason, "exited with code 4") {
				t.Fatalf("reason %q does not name the failed dependency", got.Status.StoppedReason)
			}
			dependentFailed(t, h, ReasonStart)
		},
	}, {
		rule: "6.3 CREATE on a dependency that will never be created (its pull failed): the dependent is STOPPED",
		task: func() (*api.Task, []*api.Container) {
			side := sidecar("side")
			side.Image = "registry.test/ecsd/missing:1"
			return dependent(side, api.ConditionCreate)()
		},
		check: func(h *fakeHarness) {
			t := h.t
			if got := stoppedWith(t, h, ReasonStart+": "); !strings.Contains(got.Status.StoppedReason, "will never be created") {
				t.Fatalf("reason %q", got.Status.StoppedReason)
			}
			dependentFailed(t, h, ReasonStart)
		},
	}, {
		rule: "6.3 HEALTHY: the dependent waits for its dependency's health check to pass",
		task: dependent(withDB(), api.ConditionHealthy),
		script: func(h *fakeHarness) {
			h.script("db", runsForever)
			h.rt.ScriptExec(h.runtimeID("db"), nil, fake.ExecResult{ExitCode: 0, Output: "ok"})
		},
		check: func(h *fakeHarness) {
			t := h.t
			depStateAtCreate(t, h, "db", func(st runtime.ContainerState) bool { return st.Status == runtime.StatusRunning })
			if db := h.container(tid, "db"); db.Status.Health == nil || db.Status.Health.Status != api.HealthHealthy {
				t.Fatalf("db health %+v", db.Status.Health)
			}
		},
	}, {
		rule: "6.3 HEALTHY on a dependency without a health check: terminal failure",
		task: dependent(sidecar("db"), api.ConditionHealthy),
		check: func(h *fakeHarness) {
			t := h.t
			if got := stoppedWith(t, h, ReasonStart+": "); !strings.Contains(got.Status.StoppedReason, "no health check") {
				t.Fatalf("reason %q", got.Status.StoppedReason)
			}
			dependentFailed(t, h, ReasonStart)
		},
	}, {
		rule:      "6.3 the dependency's startTimeout elapsed: the dependent is STOPPED",
		fakeClock: true,
		task: func() (*api.Task, []*api.Container) {
			db := withDB()
			db.StartTimeout = 120
			return dependent(db, api.ConditionHealthy)()
		},
		script: func(h *fakeHarness) {
			h.script("db", runsForever)
			h.rt.ScriptExec(h.runtimeID("db"), nil, fake.ExecResult{ExitCode: 1, Output: "not yet"})
		},
		check: func(h *fakeHarness) {
			t := h.t
			h.waitContainer("db", "RUNNING", ctrKnown(api.ContainerStatusRunning))
			h.advance(119 * time.Second)
			if app := h.container(tid, "app"); desiredContainer(app) == api.ContainerStatusStopped {
				t.Fatalf("app stopped before its dependency's startTimeout: %q", app.Status.Reason)
			}
			h.advance(time.Second)
			if got := stoppedWith(t, h, ReasonStart+": "); !strings.Contains(got.Status.StoppedReason, "startTimeout of 120s") {
				t.Fatalf("reason %q", got.Status.StoppedReason)
			}
			dependentFailed(t, h, ReasonStart)
		},
	}, {
		rule: "6.3 a dependency that does not exist: TaskDependencyError",
		task: func() (*api.Task, []*api.Container) {
			app := ctr("app")
			app.DependsOn = []api.Dependency{{ContainerName: "ghost", Condition: api.ConditionStart}}
			return fhTask(tid, app)
		},
		check: func(h *fakeHarness) {
			t := h.t
			stoppedWith(t, h, ReasonDependency+": ")
			dependentFailed(t, h, ReasonDependency)
		},
	}, {
		rule: "6.3 implicit dependencies: volumesFrom ⇒ CREATE, links ⇒ START",
		task: func() (*api.Task, []*api.Container) {
			app := ctr("app")
			app.VolumesFrom = []api.VolumeFrom{{SourceContainer: "data"}}
			app.Links = []string{"side:alias"}
			tk, cs := fhTask(tid, app, sidecar("data"), sidecar("side"))
			tk.Spec.NetworkMode = "bridge"
			return tk, cs
		},
		script: func(h *fakeHarness) {
			h.script("data", runsForever)
			h.script("side", runsForever)
		},
		check: func(h *fakeHarness) {
			t := h.t
			depStateAtCreate(t, h, "data", func(st runtime.ContainerState) bool { return st.ID != "" })
			depStateAtCreate(t, h, "side", func(st runtime.ContainerState) bool { return st.Status == runtime.StatusRunning })
		},
	}, {
		rule: "6.3 shutdown order is the reverse of dependencies",
		task: func() (*api.Task, []*api.Container) {
			app := ctr("app")
			app.DependsOn = []api.Dependency{{ContainerName: "side", Condition: api.ConditionStart}}
			return fhTask(tid, app, sidecar("side"))
		},
		script: func(h *fakeHarness) {
			h.script("app", runsForever)
			h.script("side", runsForever)
		},
		check: func(h *fakeHarness) {
			t := h.t
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			h.stopTask()
			h.waitTask(tid, "STOPPED", taskKnown(api.TaskStatusStopped))
			sig := h.signals("side")
			if len(sig) == 0 {
				t.Fatal("side never signalled")
			}
			if app := sig[0].states["app"]; app.Status != runtime.StatusStopped {
				t.Fatalf("side was signalled while app, which depends on it, was %s", app.Status)
			}
		},
	}})
}

func TestScenarioStopTimeout(t *testing.T) {
	// graceBetween stops the task, steps the fake clock through the grace once SIGTERM is
	// sent, and checks SIGKILL came no earlier, on the runtime's (fake) clock.
	graceBetween := func(t *testing.T, h *fakeHarness, want time.Duration) {
		t.Helper()
		h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
		h.stopTask()
		h.waitContainer("app", "SIGTERM sent", func(c *api.Container) bool { return c.Status.StopRequestedAt != nil })
		h.advance(want - time.Millisecond)
		if sig := h.signals("app"); len(sig) != 1 {
			t.Fatalf("signals %+v before the grace passed, want SIGTERM alone", sig)
		}
		h.advance(time.Millisecond)
		c := h.waitContainer("app", "STOPPED", ctrKnown(api.ContainerStatusStopped))
		if exitCode(c) != "137" {
			t.Fatalf("exit code %s, want 137 (SIGKILL)", exitCode(c))
		}
		sig := h.signals("app")
		if len(sig) < 2 || sig[0].call.Signal != syscall.SIGTERM || sig[len(sig)-1].call.Signal != syscall.SIGKILL {
			t.Fatalf("signals %+v, want SIGTERM then SIGKILL", sig)
		}
		if took := sig[len(sig)-1].call.At.Sub(sig[0].call.At); took < want {
			t.Fatalf("SIGKILL %v after SIGTERM, before the %v grace", took, want)
		}
	}
	runScenarios(t, []scenario{{
		rule:   "6.4 SIGTERM honoured: the container stops with its own exit code, no SIGKILL",
		script: func(h *fakeHarness) { h.script("app", runsForever) },
		check: func(h *fakeHarness) {
			t := h.t
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			h.stopTask()
			h.waitTask(tid, "STOPPED", taskKnown(api.TaskStatusStopped))
			if c := h.container(tid, "app"); exitCode(c) != "0" || c.Status.StopRequestedAt == nil {
				t.Fatalf("container %+v", c.Status)
			}
			for _, s := range h.signals("app") {
				if s.call.Signal != syscall.SIGTERM {
					t.Fatalf("sent %v to a container that exited on SIGTERM", s.call.Signal)
				}
			}
		},
	}, {
		rule:      "6.4 SIGTERM ignored: SIGKILL after the container's stopTimeout, not the default",
		fakeClock: true,
		settings:  func(o *Options, _ *Deps) { o.Stop.Timeout = time.Hour },
		task: func() (*api.Task, []*api.Container) {
			app := ctr("app")
			app.StopTimeout = 90
			return fhTask(tid, app)
		},
		script: func(h *fakeHarness) { h.script("app", fake.Process{IgnoreTERM: true}) },
		check:  func(h *fakeHarness) { graceBetween(h.t, h, 90*time.Second) },
	}, {
		rule:      "6.4 SIGTERM ignored: SIGKILL after ECS_CONTAINER_STOP_TIMEOUT (default 30s) when the container sets none",
		fakeClock: true,
		script:    func(h *fakeHarness) { h.script("app", fake.Process{IgnoreTERM: true}) },
		check:     func(h *fakeHarness) { graceBetween(h.t, h, 30*time.Second) },
	}, {
		rule: "6.4 a container stopped before it started has nothing to signal",
		script: func(h *fakeHarness) {
			// Hold the start until the task is stopped: the container is CREATED then.
			h.rt.SetHook(fake.MethodStartContainer, func(ctx context.Context, _ fake.Call) error {
				<-ctx.Done()
				return ctx.Err()
			})
		},
		settings: func(o *Options, _ *Deps) { o.Start.Timeout = time.Hour },
		check: func(h *fakeHarness) {
			t := h.t
			h.waitContainer("app", "CREATED", ctrKnown(api.ContainerStatusCreated))
			h.stopTask()
			h.waitTask(tid, "STOPPED", taskKnown(api.TaskStatusStopped))
			if n := len(h.signals("app")); n != 0 {
				t.Fatalf("%d signals to a container that never started", n)
			}
		},
	}})
}

func TestScenarioHealth(t *testing.T) {
	check := func(test ...string) *api.HealthCheck {
		return &api.HealthCheck{Test: test, Interval: metav1.Duration{Duration: 20 * time.Millisecond}, Retries: 2}
	}
	withCheck := func(hc *api.HealthCheck) func() (*api.Task, []*api.Container) {
		app := ctr("app")
		app.HealthCheck = hc
		return task(app)
	}
	id := func(h *fakeHarness) string { return h.runtimeID("app") }
	runScenarios(t, []scenario{{
		rule: "6.5 health: HEALTHY from a passing check, UNHEALTHY after retries consecutive failures",
		task: withCheck(check("CMD-SHELL", "curl -f localhost")),
		script: func(h *fakeHarness) {
			h.rt.ScriptExec(id(h), []string{"/bin/sh", "-c", "curl -f localhost"}, fake.ExecResult{ExitCode: 0, Output: "ok\n"})
		},
		check: func(h *fakeHarness) {
			t := h.t
			c := h.waitContainer("app", "HEALTHY", healthIs(api.HealthHealthy))
			if c.Status.Health.Output != "ok" || c.Status.Health.ExitCode != 0 {
				t.Fatalf("health %+v", c.Status.Health)
			}
			h.rt.ScriptExec(id(h), []string{"/bin/sh", "-c", "curl -f localhost"}, fake.ExecResult{ExitCode: 7, Output: "connection refused"})
			c = h.waitContainer("app", "UNHEALTHY", healthIs(api.HealthUnhealthy))
			if c.Status.Health.ExitCode != 7 || c.Status.Health.Output != "connection refused" || c.Status.Health.FailingStreak < 2 {
				t.Fatalf("health %+v", c.Status.Health)
			}
			// Health is reported, not acted on: the task keeps running.
			if got := h.task(); got.Status.KnownStatus != api.TaskStatusRunning || got.Status.DesiredStatus == api.TaskStatusStopped {
				t.Fatalf("unhealthy container stopped the task: %s", fhDescribe(got))
			}
		},
	}, {
		rule: "6.5 health: a check that cannot run counts as failed",
		task: withCheck(check("CMD", "probe")),
		script: func(h *fakeHarness) {
			h.rt.ScriptExec(id(h), nil, fake.ExecResult{Err: errors.New("exec failed: no such process")})
		},
		check: func(h *fakeHarness) {
			t := h.t
			c := h.waitContainer("app", "UNHEALTHY", healthIs(api.HealthUnhealthy))
			if c.Status.Health.ExitCode != -1 || !strings.Contains(c.Status.Health.Output, "no such process") {
				t.Fatalf("health %+v", c.Status.Health)
			}
		},
	}, {
		rule: "6.5 health: failures within the start period do not count",
		task: func() (*api.Task, []*api.Container) {
			hc := check("CMD", "probe")
			hc.StartPeriod = metav1.Duration{Duration: time.Hour}
			return withCheck(hc)()
		},
		script: func(h *fakeHarness) { h.rt.ScriptExec(id(h), nil, fake.ExecResult{ExitCode: 1}) },
		check: func(h *fakeHarness) {
			t := h.t
			testutil.Eventually(t, "three failed checks", func() bool { return len(h.rt.Calls(fake.MethodExec)) >= 3 })
			c := h.waitContainer("app", "a recorded failed check", func(c *api.Container) bool {
				return c.Status.Health != nil && c.Status.Health.CheckedAt != nil && c.Status.Health.ExitCode == 1
			})
			if c.Status.Health.Status != api.HealthUnknown || c.Status.Health.FailingStreak != 0 {
				t.Fatalf("failures in the start period counted: %+v", c.Status.Health)
			}
		},
	}, {
		rule:     "6.5 health: ECS_DISABLE_DOCKER_HEALTH_CHECK runs no check",
		settings: func(o *Options, _ *Deps) { o.Health.Disable = true },
		task:     withCheck(check("CMD", "probe")),
		check: func(h *fakeHarness) {
			t := h.t
			c := h.waitContainer("app", "RUNNING", ctrKnown(api.ContainerStatusRunning))
			if c.Status.Health != nil || len(h.rt.Calls(fake.MethodExec)) != 0 {
				t.Fatalf("health %+v, %d execs", c.Status.Health, len(h.rt.Calls(fake.MethodExec)))
			}
		},
	}, {
		rule: "6.5 an OOM-killed container stops with OutOfMemoryError",
		script: func(h *fakeHarness) {
			h.script("app", fake.Process{Exit: fake.Code(1), ExitAfter: 20 * time.Millisecond, OOM: true})
		},
		check: func(h *fakeHarness) {
			t := h.t
			stoppedWith(t, h, "OutOfMemoryError")
			if c := h.container(tid, "app"); c.Status.Reason != ReasonOOM || exitCode(c) != "137" {
				t.Fatalf("container %+v", c.Status)
			}
		},
	}, {
		rule:   "6.5 the exit code and finish time are recorded",
		script: func(h *fakeHarness) { h.script("app", exitsWith(42, 20*time.Millisecond)) },
		check: func(h *fakeHarness) {
			t := h.t
			got := stoppedWith(t, h, ReasonEssential)
			c := h.container(tid, "app")
			if exitCode(c) != "42" || c.Status.FinishedAt == nil || got.Status.ExecutionStoppedAt == nil {
				t.Fatalf("container %+v, task %+v", c.Status, got.Status)
			}
		},
	}})
}

func TestScenarioRestartPolicy(t *testing.T) {
	withPolicy := func(p api.RestartPolicy) func() (*api.Task, []*api.Container) {
		app := ctr("app")
		app.RestartPolicy = &p
		return task(app)
	}
	runScenarios(t, []scenario{{
		rule: "6.2 restart policy: an exit restarts the container in place, unreported",
		task: withPolicy(api.RestartPolicy{Enabled: true}),
		script: func(h *fakeHarness) {
			h.script("app", fake.Process{Exit: fake.Code(5), ExitAfter: 20 * time.Millisecond, TermExitCode: fake.Code(0)})
		},
		check: func(h *fakeHarness) {
			t := h.t
			c := h.waitContainer("app", "two restarts", func(c *api.Container) bool { return c.Status.RestartCount >= 2 })
			if c.Status.KnownStatus == api.ContainerStatusStopped || c.Status.LastRestartAt == nil {
				t.Fatalf("container %+v", c.Status)
			}
			if got := h.task(); got.Status.KnownStatus != api.TaskStatusRunning {
				t.Fatalf("task %s", fhDescribe(got))
			}
			h.stopTask()
			h.waitTask(tid, "STOPPED", taskKnown(api.TaskStatusStopped))
		},
	}, {
		rule:   "6.2 restart policy: an ignored exit code stops the container",
		task:   withPolicy(api.RestartPolicy{Enabled: true, IgnoredExitCodes: []int32{5}}),
		script: func(h *fakeHarness) { h.script("app", exitsWith(5, 20*time.Millisecond)) },
		check: func(h *fakeHarness) {
			t := h.t
			stoppedWith(t, h, ReasonEssential)
			if c := h.container(tid, "app"); c.Status.RestartCount != 0 || exitCode(c) != "5" {
				t.Fatalf("container %+v", c.Status)
			}
		},
	}, {
		rule:   "6.2 restart policy: an exit within restartAttemptPeriod of the start is not restarted",
		task:   withPolicy(api.RestartPolicy{Enabled: true, RestartAttemptPeriod: 60}),
		script: func(h *fakeHarness) { h.script("app", exitsWith(5, 20*time.Millisecond)) },
		check: func(h *fakeHarness) {
			t := h.t
			stoppedWith(t, h, ReasonEssential)
			if c := h.container(tid, "app"); c.Status.RestartCount != 0 {
				t.Fatalf("restarted %d times within the attempt period", c.Status.RestartCount)
			}
		},
	}, {
		rule: "6.2 restart policy: a failed restart records the exit",
		task: withPolicy(api.RestartPolicy{Enabled: true}),
		script: func(h *fakeHarness) {
			h.script("app", exitsWith(5, 20*time.Millisecond))
			var starts atomic.Int32
			h.rt.SetHook(fake.MethodStartContainer, func(context.Context, fake.Call) error {
				if starts.Add(1) > 1 {
					return errors.New("restart refused")
				}
				return nil
			})
		},
		check: func(h *fakeHarness) {
			t := h.t
			stoppedWith(t, h, ReasonEssential)
			if c := h.container(tid, "app"); exitCode(c) != "5" || c.Status.RestartCount != 0 {
				t.Fatalf("container %+v", c.Status)
			}
		},
	}})
}

func TestScenarioRecovery(t *testing.T) {
	runScenarios(t, []scenario{{
		rule:   "6.6 a container that vanished while the agent was down: ContainerVanishedError",
		script: func(h *fakeHarness) { h.script("app", runsForever) },
		check: func(h *fakeHarness) {
			t := h.t
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			h.restartWith(false, func() { h.rt.Vanish(h.runtimeID("app")) })
			stoppedWith(t, h, "ContainerVanishedError")
			if c := h.container(tid, "app"); c.Status.Reason != ReasonVanished {
				t.Fatalf("container %+v", c.Status)
			}
		},
	}, {
		rule:   "6.6 a running container survives an agent restart untouched",
		script: func(h *fakeHarness) { h.script("app", runsForever) },
		check: func(h *fakeHarness) {
			t := h.t
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			h.restart(false)
			// The new engine looks at the container (an inspect) and leaves it running.
			before := len(h.rt.Calls(fake.MethodInspectContainer))
			testutil.Eventually(t, "the new engine to inspect the container", func() bool {
				return len(h.rt.Calls(fake.MethodInspectContainer)) > before
			})
			if n := len(h.rt.Calls(fake.MethodStartContainer)) + len(h.rt.Calls(fake.MethodSignal)); n != 1 {
				t.Fatalf("%d start/signal calls, want only the first start", n)
			}
			if got := h.task(); got.Status.KnownStatus != api.TaskStatusRunning {
				t.Fatalf("task %s", fhDescribe(got))
			}
		},
	}, {
		rule:   "6.6 a container that exited while the agent was down is recorded with its exit code",
		script: func(h *fakeHarness) { h.script("app", runsForever) },
		check: func(h *fakeHarness) {
			t := h.t
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			h.restartWith(false, func() { h.rt.Exit(h.runtimeID("app"), 3) })
			stoppedWith(t, h, ReasonEssential)
			if c := h.container(tid, "app"); exitCode(c) != "3" {
				t.Fatalf("exit code %s, want 3", exitCode(c))
			}
		},
	}, {
		rule:   "10 a lost checkpoint: the task is rebuilt from the runtime and keeps running",
		script: func(h *fakeHarness) { h.script("app", runsForever) },
		check: func(h *fakeHarness) {
			t := h.t
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			h.restart(true)
			got := h.waitTask(tid, "adopted RUNNING", taskKnown(api.TaskStatusRunning))
			if got.Spec.ARN != arnOf(tid) {
				t.Fatalf("adopted task %+v", got.Spec)
			}
			if c := h.container(tid, "app"); c.Status.RuntimeID != h.runtimeID("app") {
				t.Fatalf("adopted container %+v", c.Status)
			}
			// The adopted task still stops like any other.
			h.stopTask()
			h.waitTask(tid, "STOPPED", taskKnown(api.TaskStatusStopped))
		},
	}, {
		rule:   "events: a broken event stream is resubscribed and events flow again",
		script: func(h *fakeHarness) { h.script("app", runsForever) },
		check: func(h *fakeHarness) {
			t := h.t
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			testutil.Eventually(t, "a subscription", func() bool { return h.rt.Subscriptions() >= 1 })
			h.rt.BreakEvents(errors.New("stream reset"))
			testutil.Eventually(t, "a second subscription", func() bool { return h.rt.Subscriptions() >= 2 })
			// The relist is an hour away: only an event can tell the engine.
			h.rt.Exit(h.runtimeID("app"), 9)
			stoppedWith(t, h, ReasonEssential)
		},
	}})
}

func TestScenarioCleanup(t *testing.T) {
	runScenarios(t, []scenario{{
		rule:      "7 cleanup after CleanupWait removes the containers, their files and the task",
		fakeClock: true,
		settings: func(o *Options, _ *Deps) {
			o.Task.CleanupWait = 3 * time.Hour
			o.Task.CleanupJitter = time.Hour
			o.Metadata.Enabled = true
		},
		task: func() (*api.Task, []*api.Container) {
			tk, cs := fhTask(tid, ctr("app"))
			tk.Spec.Volumes = []api.Volume{{Name: "data"}}
			cs[0].Spec.MountPoints = []api.MountPoint{{SourceVolume: "data", ContainerPath: "/data"}}
			return tk, cs
		},
		script: func(h *fakeHarness) { h.script("app", exitsWith(0, 20*time.Millisecond)) },
		check: func(h *fakeHarness) {
			t := h.t
			h.waitContainer("app", "RUNNING", ctrKnown(api.ContainerStatusRunning))
			h.advance(20 * time.Millisecond) // the scripted exit
			got := h.waitTask(tid, "STOPPED", taskKnown(api.TaskStatusStopped))
			wait := got.Status.CleanupAt.Sub(got.Status.KnownStatusTime.Time)
			if got.Status.CleanupAt == nil || wait < 3*time.Hour || wait >= 4*time.Hour {
				t.Fatalf("cleanup at %v for a task stopped at %v, want CleanupWait plus at most the jitter", got.Status.CleanupAt, got.Status.KnownStatusTime)
			}
			taskDir := h.dataPath("tasks", tid)
			h.advance(wait - time.Second)
			if _, err := os.Stat(taskDir); err != nil {
				t.Fatalf("task directory gone before CleanupAt: %v", err)
			}
			h.advance(time.Second)
			h.waitGone(tid)
			if len(h.rt.States()) != 0 {
				t.Fatalf("runtime containers left: %+v", h.rt.States())
			}
			var cs api.ContainerList
			if err := h.st.DirectClient().List(h.ctx, &cs); err != nil || len(cs.Items) != 0 {
				t.Fatalf("container objects left: %d, %v", len(cs.Items), err)
			}
			if _, err := os.Stat(taskDir); !os.IsNotExist(err) {
				t.Fatalf("task directory %s left: %v", taskDir, err)
			}
			var im api.Image
			if err := h.st.DirectClient().Get(h.ctx, clientKey(api.ImageName(digestOf(fhImage))), &im); err != nil || len(im.Status.Users) != 0 {
				t.Fatalf("image still has users %v (%v): image cleanup could never remove it", im.Status.Users, err)
			}
			select {
			case arn := <-h.cleaned:
				if arn != arnOf(tid) {
					t.Fatalf("TaskCleaned(%q)", arn)
				}
			default:
				t.Fatal("TaskCleaned not called")
			}
		},
	}, {
		rule:     "7 cleanup of a task whose containers were never created",
		settings: func(o *Options, _ *Deps) { o.Task.CleanupWait = 0 },
		task: func() (*api.Task, []*api.Container) {
			tk, cs := fhTask(tid, ctr("app"))
			tk.Spec.DesiredStatus = api.TaskStatusStopped
			return tk, cs
		},
		check: func(h *fakeHarness) {
			t := h.t
			h.waitGone(tid)
			removed := map[string]bool{}
			for _, c := range h.rt.Calls(fake.MethodRemoveContainer) {
				removed[c.Subject] = true
			}
			if !removed[h.runtimeID("app")] {
				t.Fatalf("cleanup did not look for the container under its derived ID: %v", removed)
			}
		},
	}})
}

func TestScenarioNetwork(t *testing.T) {
	bridgeApp := func(ports ...api.PortMapping) func() (*api.Task, []*api.Container) {
		return func() (*api.Task, []*api.Container) {
			app := ctr("app")
			app.PortMappings = ports
			tk, cs := fhTask(tid, app)
			tk.Spec.NetworkMode = "bridge"
			return tk, cs
		}
	}
	awsvpc := func() (*api.Task, []*api.Container) {
		tk, cs := fhTask(tid, ctr("app"))
		tk.Spec.NetworkMode = "awsvpc"
		tk.Spec.ENIs = []string{"eni-att"}
		return tk, cs
	}
	addENI := func(h *fakeHarness, mac string, expires time.Time) {
		at := metav1.NewTime(expires)
		att := &api.Attachment{
			ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: "eni-att"},
			Spec: api.AttachmentSpec{AttachmentARN: "arn:aws:ecs:us-west-2:111122223333:attachment/eni-att", TaskARN: arnOf(tid),
				MACAddress: mac, IPv4Addresses: []string{"10.0.0.5"}, SubnetGatewayIPv4: "10.0.0.1/24",
				DomainNameServers: []string{"10.0.0.2"}, PrivateDNSName: "ip-10-0-0-5.ec2.internal", ExpiresAt: &at},
		}
		if err := h.st.DirectClient().Create(h.ctx, att); err != nil {
			h.t.Fatal(err)
		}
	}
	attachment := func(h *fakeHarness) *api.Attachment {
		att := &api.Attachment{}
		if err := h.st.DirectClient().Get(h.ctx, clientKey("eni-att"), att); err != nil {
			h.t.Fatal(err)
		}
		return att
	}
	runScenarios(t, []scenario{{
		rule:    "bridge: ports are published and reported as network bindings, and released when the container stops",
		network: fake.NewNetwork(),
		task:    bridgeApp(api.PortMapping{ContainerPort: 80}, api.PortMapping{ContainerPort: 53, HostPort: 5353, Protocol: "UDP"}),
		script:  func(h *fakeHarness) { h.script("app", runsForever) },
		check: func(h *fakeHarness) {
			t := h.t
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			c := h.container(tid, "app")
			if len(c.Status.NetworkBindings) != 2 || c.Status.NetworkBindings[0].HostPort == 0 || c.Status.NetworkBindings[1].HostPort != 5353 {
				t.Fatalf("bindings %+v", c.Status.NetworkBindings)
			}
			if c.Status.Network == nil || c.Status.Network.IPv4Address == "" || c.Status.Network.IPv4SubnetCIDR == "" {
				t.Fatalf("network %+v", c.Status.Network)
			}
			cfg, _ := h.rt.Config(c.Status.RuntimeID)
			if cfg.NetNSPath != c.Status.Network.NetNSPath || cfg.Hostname == "" {
				t.Fatalf("container config: netns %q hostname %q", cfg.NetNSPath, cfg.Hostname)
			}
			h.stopTask()
			c = h.waitContainer("app", "network released", func(c *api.Container) bool {
				return c.Status.Network != nil && c.Status.Network.ReleasedAt != nil
			})
			if !h.tornDown(c.Status.Network.ID) {
				t.Fatalf("network %s not torn down", c.Status.Network.ID)
			}
		},
	}, {
		rule:    "bridge: a host port already taken stops the task with CannotCreateContainerError",
		network: &fake.Network{SetupErr: fmt.Errorf("host port 8080/tcp: %w", runtime.ErrPortAllocated)},
		task:    bridgeApp(api.PortMapping{ContainerPort: 80, HostPort: 8080}),
		check: func(h *fakeHarness) {
			t := h.t
			if got := stoppedWith(t, h, ReasonCreate+": "); !strings.Contains(got.Status.StoppedReason, "8080") {
				t.Fatalf("reason %q", got.Status.StoppedReason)
			}
		},
	}, {
		rule:    "bridge: links resolve to the target's address in the container's /etc/hosts",
		network: fake.NewNetwork(),
		task: func() (*api.Task, []*api.Container) {
			app := ctr("app")
			app.Links = []string{"db:database"}
			tk, cs := fhTask(tid, app, sidecar("db"))
			tk.Spec.NetworkMode = "bridge"
			return tk, cs
		},
		script: func(h *fakeHarness) { h.script("db", runsForever) },
		check: func(h *fakeHarness) {
			t := h.t
			h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			db := h.container(tid, "db")
			cfg, _ := h.rt.Config(h.runtimeID("app"))
			var hosts string
			for _, m := range cfg.Mounts {
				if m.Destination == "/etc/hosts" {
					hosts = m.Source
				}
			}
			b, err := os.ReadFile(hosts)
			if err != nil || !strings.Contains(string(b), db.Status.Network.IPv4Address) || !strings.Contains(string(b), "database") {
				t.Fatalf("/etc/hosts %q (%v) lacks database → %s", b, err, db.Status.Network.IPv4Address)
			}
		},
	}, {
		rule:    "awsvpc without ECS_ENABLE_TASK_ENI: refused with CannotCreateContainerError",
		network: fake.NewNetwork(),
		task:    awsvpc,
		check:   func(h *fakeHarness) { stoppedWith(h.t, h, ReasonCreate+": ") },
	}, {
		rule:     "awsvpc: an ENI that never appears stops the task",
		network:  fake.NewNetwork(),
		settings: func(o *Options, _ *Deps) { o.Network.AWSVPCEnabled = true },
		script:   func(h *fakeHarness) { addENI(h, "02:00:00:00:00:99", time.Now().Add(-time.Second)) },
		task:     awsvpc,
		check: func(h *fakeHarness) {
			t := h.t
			if got := stoppedWith(t, h, ReasonCreate+": "); !strings.Contains(got.Status.StoppedReason, "02:00:00:00:00:99") {
				t.Fatalf("reason %q", got.Status.StoppedReason)
			}
		},
	}, {
		rule:     "awsvpc: the task's network is set up once, its ENI ATTACHED, then torn down and DETACHED",
		network:  fake.NewNetwork(),
		settings: func(o *Options, _ *Deps) { o.Network.AWSVPCEnabled = true },
		script: func(h *fakeHarness) {
			mac := "02:00:00:00:00:05"
			h.host.AddInterface(mac)
			addENI(h, mac, time.Now().Add(time.Hour))
			h.script("app", runsForever)
		},
		task: awsvpc,
		check: func(h *fakeHarness) {
			t := h.t
			got := h.waitTask(tid, "RUNNING", taskKnown(api.TaskStatusRunning))
			if got.Status.Network == nil || got.Status.Network.ID != tid || got.Status.Network.IPv4SubnetCIDR != "10.0.0.0/24" {
				t.Fatalf("task network %+v", got.Status.Network)
			}
			if att := attachment(h); att.Status.Status != api.AttachmentAttached {
				t.Fatalf("attachment %+v", att.Status)
			}
			cfg, _ := h.rt.Config(h.runtimeID("app"))
			if cfg.Hostname != "ip-10-0-0-5.ec2.internal" {
				t.Fatalf("hostname %q, want the ENI's private DNS name", cfg.Hostname)
			}
			h.stopTask()
			h.waitTask(tid, "network released", func(t *api.Task) bool {
				return t.Status.Network != nil && t.Status.Network.ReleasedAt != nil
			})
			if att := attachment(h); att.Status.Status != api.AttachmentDetached {
				t.Fatalf("attachment %+v", att.Status)
			}
		},
	}, {
		rule: "a network no object accounts for is torn down by the sweep",
		network: func() *fake.Network {
			n := fake.NewNetwork()
			if _, err := n.Setup(context.Background(), runtime.NetworkRequest{ID: "t0-gone", Mode: runtime.NetworkBridge}); err != nil {
				panic(err)
			}
			return n
		}(),
		check: func(h *fakeHarness) {
			t := h.t
			testutil.Eventually(t, "the orphaned network torn down", func() bool { return h.tornDown("t0-gone") })
		},
	}})
}

func TestScenarioInputs(t *testing.T) {
	withSecret := func() (*api.Task, []*api.Container) {
		app := ctr("app")
		app.Secrets = []api.SecretRef{{Name: "DB_PASS", ValueFrom: "arn:aws:ssm:us-west-2:111122223333:parameter/db", Provider: api.SecretProviderSSM, Target: api.SecretTargetContainer}}
		return fhTask(tid, app, sidecar("side"))
	}
	runScenarios(t, []scenario{{
		rule: "secrets reach the container's environment and are never stored",
		settings: func(_ *Options, d *Deps) {
			d.Inputs = fakeInputs{secrets: map[string]string{"DB_PASS": "s3cr3t-value"}}
		},
		task: withSecret,
		check: func(h *fakeHarness) {
			t := h.t
			h.waitContainer("app", "RUNNING", ctrKnown(api.ContainerStatusRunning))
			cfg, _ := h.rt.Config(h.runtimeID("app"))
			if !slices.Contains(cfg.Env, "DB_PASS=s3cr3t-value") {
				t.Fatalf("env %v", cfg.Env)
			}
			if c := h.container(tid, "app"); strings.Contains(fmt.Sprintf("%+v", c), "s3cr3t-value") || strings.Contains(string(cfg.Record), "s3cr3t-value") {
				t.Fatal("a secret value was stored")
			}
		},
	}, {
		rule: "secrets that cannot be read stop the task with the reason, before any container is created",
		settings: func(_ *Options, d *Deps) {
			d.Inputs = fakeInputs{err: errors.New("ResourceInitializationError: unable to pull secrets")}
		},
		task: withSecret,
		check: func(h *fakeHarness) {
			t := h.t
			stoppedWith(t, h, "ResourceInitializationError")
		},
	}, {
		rule: "secrets on an instance without the inputs reader: the task stops",
		task: withSecret,
		check: func(h *fakeHarness) {
			t := h.t
			stoppedWith(t, h, "secrets and S3 environment files are not available")
		},
	}})
}

func TestScenarioAdoption(t *testing.T) {
	// seed creates a runtime container as an earlier agent would have, without the engine.
	seed := func(h *fakeHarness, id string, labels map[string]string, running bool) {
		ctx := context.Background()
		if _, err := h.rt.PullImage(ctx, fhImage, nil); err != nil {
			h.t.Fatal(err)
		}
		if err := h.rt.CreateContainer(ctx, runtime.ContainerConfig{ID: id, Image: fhImage, Labels: labels}); err != nil {
			h.t.Fatal(err)
		}
		if running {
			if err := h.rt.StartContainer(ctx, id); err != nil {
				h.t.Fatal(err)
			}
		}
	}
	none := func() (*api.Task, []*api.Container) { return nil, nil }
	runScenarios(t, []scenario{{
		rule: "10 a runtime container with ECS labels but no record: its task is rebuilt to be stopped with AgentStateLostError",
		task: none,
		check: func(h *fakeHarness) {
			t := h.t
			seed(h, "lost-1", map[string]string{api.LabelTaskARN: arnOf("t9"), api.LabelContainerName: "app", api.LabelTaskName: "t9",
				api.LabelFamily: "test", api.LabelRevision: "3"}, true)
			h.restart(true)
			got := h.waitTask("t9", "STOPPED", taskKnown(api.TaskStatusStopped))
			if !strings.HasPrefix(got.Status.StoppedReason, "AgentStateLostError") {
				t.Fatalf("reason %q", got.Status.StoppedReason)
			}
			if st, _ := h.rt.State("lost-1"); st.Status != runtime.StatusStopped {
				t.Fatalf("the lost task's container was left %s", st.Status)
			}
		},
	}, {
		rule: "10 runtime containers without ECS labels: a stopped one is removed, a running one left alone",
		task: none,
		check: func(h *fakeHarness) {
			t := h.t
			seed(h, "stray-stopped", nil, false)
			seed(h, "stray-running", nil, true)
			h.restart(true)
			testutil.Eventually(t, "the stopped stray removed", func() bool {
				_, ok := h.rt.State("stray-stopped")
				return !ok
			})
			if st, ok := h.rt.State("stray-running"); !ok || st.Status != runtime.StatusRunning {
				t.Fatalf("running stray: %+v, %v", st, ok)
			}
		},
	}})
}
