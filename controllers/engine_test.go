//go:build integration

package controllers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/metadatafile"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/cgroups"
)

// A shell loop that exits 0 on SIGTERM, as a well-behaved service does.
const serviceCmd = `trap "exit 0" TERM; while true; do sleep 0.1; done`

func sh(name, script string) api.ContainerSpec {
	return api.ContainerSpec{Name: name, Image: testenv.BusyboxImage(), Essential: true, Command: []string{"sh", "-c", script}}
}

func TestTaskRunsToCompletionWithExitCode(t *testing.T) {
	h := newHarness(t, nil)
	task, cs := newTask("onerun", sh("app", "echo hello-from-ecsd; exit 3"))
	h.run(task, cs)

	got := h.waitTask("onerun", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	c := h.container("onerun", "app")
	if c.Status.ExitCode == nil || *c.Status.ExitCode != 3 {
		t.Fatalf("exit code = %v, want 3", c.Status.ExitCode)
	}
	if c.Status.StartedAt == nil || c.Status.FinishedAt == nil || c.Status.ImageDigest == "" {
		t.Fatalf("missing timestamps or digest: %+v", c.Status)
	}
	if !strings.HasPrefix(c.Status.ImageID, "sha256:") || c.Status.ImageID == c.Status.ImageDigest {
		t.Fatalf("image ID %q: want the config digest, not the manifest digest %q", c.Status.ImageID, c.Status.ImageDigest)
	}
	if got.Status.StoppedReason != ReasonEssential {
		t.Fatalf("stopped reason = %q, want %q", got.Status.StoppedReason, ReasonEssential)
	}
	if got.Status.PullStartedAt == nil || got.Status.PullStoppedAt == nil || got.Status.ExecutionStoppedAt == nil {
		t.Fatalf("task timestamps missing: %+v", got.Status)
	}
	var sawRunning bool
	for _, tr := range got.Status.History {
		sawRunning = sawRunning || tr.To == string(api.TaskStatusRunning)
	}
	if !sawRunning {
		t.Fatalf("task never recorded RUNNING: %+v", got.Status.History)
	}
	logs, err := os.ReadFile(c.Status.LogPath)
	if err != nil || !strings.Contains(string(logs), "hello-from-ecsd") {
		t.Fatalf("log %s: %q, %v", c.Status.LogPath, logs, err)
	}
}

func TestStopTaskSendsSIGTERM(t *testing.T) {
	h := newHarness(t, nil)
	task, cs := newTask("stopme", sh("svc", serviceCmd))
	h.run(task, cs)
	h.waitTask("stopme", time.Minute, "RUNNING", known(api.TaskStatusRunning))

	h.stopTask("stopme")
	h.waitTask("stopme", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	c := h.container("stopme", "svc")
	if c.Status.ExitCode == nil || *c.Status.ExitCode != 0 {
		t.Fatalf("exit code = %v, want 0 (clean exit on SIGTERM)", c.Status.ExitCode)
	}
}

func TestStopTimeoutEscalatesToSIGKILL(t *testing.T) {
	h := newHarness(t, nil)
	spec := sh("stubborn", `trap "" TERM; while true; do sleep 0.1; done`)
	spec.StopTimeout = 2
	task, cs := newTask("stubborn", spec)
	h.run(task, cs)
	h.waitTask("stubborn", time.Minute, "RUNNING", known(api.TaskStatusRunning))

	h.stopTask("stubborn")
	h.waitTask("stubborn", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	c := h.container("stubborn", "stubborn")
	if c.Status.ExitCode == nil || *c.Status.ExitCode != 137 {
		t.Fatalf("exit code = %v, want 137 (SIGKILL)", c.Status.ExitCode)
	}
	if took := c.Status.FinishedAt.Sub(c.Status.StopRequestedAt.Time); took < 2*time.Second-100*time.Millisecond {
		t.Fatalf("killed %v after SIGTERM, before the 2s stopTimeout", took)
	}
}

func TestDependsOnOrdersContainers(t *testing.T) {
	h := newHarness(t, nil)
	setup := sh("setup", "sleep 1; exit 0")
	setup.Essential = false
	sidecar := sh("sidecar", serviceCmd)
	sidecar.Essential = false
	app := sh("app", serviceCmd)
	app.DependsOn = []api.Dependency{
		{ContainerName: "setup", Condition: api.ConditionSuccess},
		{ContainerName: "sidecar", Condition: api.ConditionStart},
	}
	task, cs := newTask("deps", app, setup, sidecar)
	h.run(task, cs)

	h.waitContainer("deps", "app", time.Minute, "RUNNING", func(c *api.Container) bool {
		return c.Status.KnownStatus == api.ContainerStatusRunning
	})
	a, s, sc := h.container("deps", "app"), h.container("deps", "setup"), h.container("deps", "sidecar")
	if s.Status.FinishedAt == nil || a.Status.CreatedAt.Before(s.Status.FinishedAt) {
		t.Fatalf("app created at %v before setup finished at %v", a.Status.CreatedAt, s.Status.FinishedAt)
	}
	if sc.Status.StartedAt == nil || a.Status.StartedAt.Before(sc.Status.StartedAt) {
		t.Fatalf("app started before its START dependency")
	}
	// The task runs although a non-essential container exited.
	h.waitTask("deps", time.Minute, "RUNNING", known(api.TaskStatusRunning))

	// Shutdown goes in reverse order: app stops before sidecar.
	h.stopTask("deps")
	h.waitTask("deps", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	a, sc = h.container("deps", "app"), h.container("deps", "sidecar")
	if sc.Status.StopRequestedAt.Time.Before(a.Status.FinishedAt.Time) {
		t.Fatalf("sidecar was asked to stop at %v, before app finished at %v", sc.Status.StopRequestedAt, a.Status.FinishedAt)
	}
}

func TestFailedSuccessDependencyStopsDependent(t *testing.T) {
	h := newHarness(t, nil)
	setup := sh("setup", "exit 4")
	setup.Essential = false
	app := sh("app", serviceCmd)
	app.DependsOn = []api.Dependency{{ContainerName: "setup", Condition: api.ConditionSuccess}}
	task, cs := newTask("depfail", app, setup)
	h.run(task, cs)

	got := h.waitTask("depfail", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	if !strings.Contains(got.Status.StoppedReason, "exited with code 4") {
		t.Fatalf("stopped reason = %q, want the failed dependency named", got.Status.StoppedReason)
	}
	if c := h.container("depfail", "app"); c.Status.StartedAt != nil {
		t.Fatalf("app started although its SUCCESS dependency failed")
	}
}

func TestEssentialExitStopsTask(t *testing.T) {
	h := newHarness(t, nil)
	side := sh("side", serviceCmd)
	side.Essential = false
	task, cs := newTask("essential", sh("main", "sleep 1; exit 1"), side)
	h.run(task, cs)

	got := h.waitTask("essential", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	if got.Status.StoppedReason != ReasonEssential {
		t.Fatalf("reason = %q, want %q", got.Status.StoppedReason, ReasonEssential)
	}
	if c := h.container("essential", "side"); c.Status.KnownStatus != api.ContainerStatusStopped || c.Status.ExitCode == nil || *c.Status.ExitCode != 0 {
		t.Fatalf("side container: %+v", c.Status)
	}
}

func TestHealthCheckTurnsHealthyThenUnhealthy(t *testing.T) {
	h := newHarness(t, nil)
	hostDir := t.TempDir()
	spec := sh("web", serviceCmd)
	spec.MountPoints = []api.MountPoint{{SourceVolume: "probe", ContainerPath: "/probe"}}
	spec.HealthCheck = &api.HealthCheck{
		Test:     []string{"CMD-SHELL", "test -f /probe/ok"},
		Interval: metav1.Duration{Duration: 500 * time.Millisecond},
		Timeout:  metav1.Duration{Duration: 2 * time.Second},
		Retries:  2,
	}
	task, cs := newTask("health", spec)
	task.Spec.Volumes = []api.Volume{{Name: "probe", Type: "host", HostSourcePath: hostDir}}
	h.run(task, cs)

	h.waitTask("health", time.Minute, "RUNNING", known(api.TaskStatusRunning))
	if err := os.WriteFile(filepath.Join(hostDir, "ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	isHealth := func(s api.HealthState) func(*api.Container) bool {
		return func(c *api.Container) bool { return c.Status.Health != nil && c.Status.Health.Status == s }
	}
	h.waitContainer("health", "web", 30*time.Second, "HEALTHY", isHealth(api.HealthHealthy))
	if err := os.Remove(filepath.Join(hostDir, "ok")); err != nil {
		t.Fatal(err)
	}
	c := h.waitContainer("health", "web", 30*time.Second, "UNHEALTHY", isHealth(api.HealthUnhealthy))
	if c.Status.Health.ExitCode == 0 {
		t.Fatalf("unhealthy with exit code 0: %+v", c.Status.Health)
	}
}

func TestPullBehaviors(t *testing.T) {
	missing := testenv.Registry() + "/ecsd/does-not-exist:latest"
	for _, b := range []PullBehavior{PullDefault, PullAlways, PullOnce, PullPreferCached} {
		t.Run(string(b)+"/missing image stops the task", func(t *testing.T) {
			h := newHarness(t, func(s *Options, d *Deps) { s.Pull.Behavior = b })
			spec := sh("app", serviceCmd)
			spec.Image = missing
			task, cs := newTask("missing", spec)
			h.run(task, cs)
			got := h.waitTask("missing", time.Minute, "STOPPED", known(api.TaskStatusStopped))
			if !strings.HasPrefix(got.Status.StoppedReason, ReasonPull+":") {
				t.Fatalf("reason = %q, want %s", got.Status.StoppedReason, ReasonPull)
			}
		})
	}

	// Pull once with good credentials, then lose them: the cached image is what each
	// behavior falls back to, or not.
	authRef := testenv.AuthBusyboxImage()
	host := strings.SplitN(authRef, "/", 2)[0]
	good := map[string]runtime.Auth{host: {Username: testenv.AuthUser(), Password: testenv.AuthPassword()}}
	bad := map[string]runtime.Auth{host: {Username: testenv.AuthUser(), Password: "wrong-password"}}
	for _, tc := range []struct {
		behavior PullBehavior
		runs     bool
	}{
		{PullDefault, true}, {PullAlways, false}, {PullOnce, true}, {PullPreferCached, true},
	} {
		t.Run(string(tc.behavior)+"/cached image after the registry refuses", func(t *testing.T) {
			h := newHarness(t, func(s *Options, d *Deps) { s.Pull.Behavior = tc.behavior; s.Pull.RegistryAuth = good })
			spec := sh("app", serviceCmd)
			spec.Image = authRef
			task, cs := newTask("first", spec)
			h.run(task, cs)
			h.waitTask("first", time.Minute, "RUNNING", known(api.TaskStatusRunning))

			h.opts.Pull.RegistryAuth = bad
			h.restart()
			task, cs = newTask("second", spec)
			h.run(task, cs)
			if tc.runs {
				h.waitTask("second", time.Minute, "RUNNING", known(api.TaskStatusRunning))
				return
			}
			got := h.waitTask("second", time.Minute, "STOPPED", known(api.TaskStatusStopped))
			if !strings.HasPrefix(got.Status.StoppedReason, ReasonPull+":") {
				t.Fatalf("reason = %q, want %s", got.Status.StoppedReason, ReasonPull)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		h := newHarness(t, func(s *Options, d *Deps) { s.Pull.RegistryAuth = bad })
		spec := sh("app", serviceCmd)
		spec.Image = authRef
		task, cs := newTask("badauth", spec)
		h.run(task, cs)
		got := h.waitTask("badauth", time.Minute, "STOPPED", known(api.TaskStatusStopped))
		if !strings.HasPrefix(got.Status.StoppedReason, ReasonPull+":") {
			t.Fatalf("reason = %q, want %s", got.Status.StoppedReason, ReasonPull)
		}
	})
}

func TestInvalidTaskIsStoppedAndEngineKeepsRunning(t *testing.T) {
	h := newHarness(t, nil)
	bad, _ := newTask("invalid")
	bad.Spec.Invalid = "UnrecogniedTaskError: Error loading task - container app: no image"
	bad.Spec.DesiredStatus = api.TaskStatusStopped
	h.run(bad, nil)
	got := h.waitTask("invalid", 30*time.Second, "STOPPED", known(api.TaskStatusStopped))
	if got.Status.StoppedReason != bad.Spec.Invalid {
		t.Fatalf("reason = %q", got.Status.StoppedReason)
	}

	// A definition the runtime cannot honour stops only its own task.
	priv := sh("app", serviceCmd)
	priv.MountPoints = []api.MountPoint{{SourceVolume: "nope", ContainerPath: "/x"}}
	task, cs := newTask("badmount", priv)
	h.run(task, cs)
	got = h.waitTask("badmount", 30*time.Second, "STOPPED", known(api.TaskStatusStopped))
	if !strings.HasPrefix(got.Status.StoppedReason, ReasonCreate+":") || !strings.Contains(got.Status.StoppedReason, "nope") {
		t.Fatalf("reason = %q", got.Status.StoppedReason)
	}

	task, cs = newTask("good", sh("app", serviceCmd))
	h.run(task, cs)
	h.waitTask("good", time.Minute, "RUNNING", known(api.TaskStatusRunning))
}

func TestRestartPolicyRestartsInPlace(t *testing.T) {
	h := newHarness(t, nil)
	spec := sh("flaky", "sleep 0.2; exit 5")
	spec.RestartPolicy = &api.RestartPolicy{Enabled: true, RestartAttemptPeriod: 0}
	task, cs := newTask("restarts", spec)
	h.run(task, cs)
	c := h.waitContainer("restarts", "flaky", time.Minute, "two restarts", func(c *api.Container) bool {
		return c.Status.RestartCount >= 2
	})
	if c.Status.KnownStatus == api.ContainerStatusStopped {
		t.Fatalf("container reported STOPPED although the restart policy restarts it")
	}
	h.stopTask("restarts")
	h.waitTask("restarts", time.Minute, "STOPPED", known(api.TaskStatusStopped))
}

func TestCleanupRemovesEverything(t *testing.T) {
	cleaned := make(chan string, 1)
	h := newHarness(t, func(s *Options, d *Deps) {
		s.Task.CleanupWait = time.Second
		d.TaskCleaned = func(arn string) { cleaned <- arn }
	})
	task, cs := newTask("cleanme", sh("app", "echo bye"))
	h.run(task, cs)
	h.waitTask("cleanme", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	logPath := h.container("cleanme", "app").Status.LogPath

	deadline := time.Now().Add(time.Minute)
	for {
		var list api.TaskList
		if err := h.st.DirectClient().List(h.ctx, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task not cleaned up: %s", describe(&list.Items[0]))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(logPath); !os.IsNotExist(err) {
		t.Fatalf("log file %s still there: %v", logPath, err)
	}
	rc, err := h.rt.ListContainers(h.ctx)
	if err != nil || len(rc) != 0 {
		t.Fatalf("runtime containers left: %v %v", rc, err)
	}
	select {
	case arn := <-cleaned:
		if arn != task.Spec.ARN {
			t.Errorf("TaskCleaned(%q), want %q", arn, task.Spec.ARN)
		}
	default:
		t.Error("TaskCleaned was not called (the task's credentials would outlive it)")
	}
}

func TestNetworkModes(t *testing.T) {
	h := newHarness(t, nil)
	// Interfaces other than loopback, counted from inside the container.
	probe := `n=$(grep -c : /proc/net/dev); echo "ifaces=$n"; test "$n" -eq "$EXPECT"`
	for _, tc := range []struct {
		mode   string
		expect string
	}{
		{"none", "1"}, // lo only
		{"bridge", "1"},
	} {
		spec := sh("probe", probe)
		spec.Environment = map[string]string{"EXPECT": tc.expect}
		id := "net" + tc.mode
		task, cs := newTask(id, spec)
		task.Spec.NetworkMode = tc.mode
		h.run(task, cs)
		h.waitTask(id, time.Minute, "STOPPED", known(api.TaskStatusStopped))
		c := h.container(id, "probe")
		logs, _ := os.ReadFile(c.Status.LogPath)
		if c.Status.ExitCode == nil || *c.Status.ExitCode != 0 {
			t.Errorf("mode %s: %s (exit %v)", tc.mode, logs, c.Status.ExitCode)
		}
	}
	// Host mode sees the host's interfaces: more than loopback.
	spec := sh("probe", `n=$(grep -c : /proc/net/dev); echo "ifaces=$n"; test "$n" -gt 1`)
	task, cs := newTask("nethost", spec)
	h.run(task, cs)
	h.waitTask("nethost", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	if c := h.container("nethost", "probe"); c.Status.ExitCode == nil || *c.Status.ExitCode != 0 {
		logs, _ := os.ReadFile(c.Status.LogPath)
		t.Errorf("host mode: %s", logs)
	}
}

func TestTaskCgroupCarriesTaskLimits(t *testing.T) {
	root := "/ecsd-test-" + testenv.UniqueName(t, "cg")
	h := newHarness(t, func(s *Options, d *Deps) {
		d.Cgroups = cgroups.Manager{Mount: cgroups.DefaultMount, Root: root}
		s.Task.CleanupWait = time.Second
		s.Create.TaskPidsLimit = 50 // ECS_TASK_PIDS_LIMIT
	})
	t.Cleanup(func() {
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", root))
		for _, d := range dirs {
			_ = os.Remove(d)
		}
	})
	task, cs := newTask("limited", sh("app", serviceCmd))
	task.Spec.CPU = 0.5
	task.Spec.Memory = 96
	h.run(task, cs)
	h.waitTask("limited", time.Minute, "RUNNING", known(api.TaskStatusRunning))

	memDir := filepath.Join("/sys/fs/cgroup/memory", root, "limited")
	if b, err := os.ReadFile(filepath.Join(memDir, "memory.limit_in_bytes")); err != nil || strings.TrimSpace(string(b)) != "100663296" {
		t.Fatalf("task memory limit = %q, %v; want 96 MiB", b, err)
	}
	cpuDir := filepath.Join("/sys/fs/cgroup/cpu", root, "limited")
	if b, err := os.ReadFile(filepath.Join(cpuDir, "cpu.cfs_quota_us")); err != nil || strings.TrimSpace(string(b)) != "50000" {
		t.Fatalf("task cpu quota = %q, %v; want 50000 (0.5 vCPU of a 100ms period)", b, err)
	}
	pidsDir := filepath.Join("/sys/fs/cgroup/pids", root, "limited")
	if b, err := os.ReadFile(filepath.Join(pidsDir, "pids.max")); err != nil || strings.TrimSpace(string(b)) != "50" {
		t.Fatalf("task pids.max = %q, %v; want 50 (ECS_TASK_PIDS_LIMIT)", b, err)
	}
	// The container lives beneath the task cgroup, named by its runtime ID.
	if _, err := os.Stat(filepath.Join(memDir, h.container("limited", "app").Status.RuntimeID)); err != nil {
		t.Fatalf("container cgroup not under the task cgroup: %v", err)
	}

	h.stopTask("limited")
	h.waitTask("limited", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(memDir); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task cgroup %s not removed by cleanup", memDir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSlowStopDoesNotDelayOtherTasks: a task whose container ignores SIGTERM for its whole
// stop timeout must not hold up a task launched meanwhile (a long-standing complaint
// about the reference agent).
func TestSlowStopDoesNotDelayOtherTasks(t *testing.T) {
	h := newHarness(t, nil)
	slow := sh("slow", `trap "" TERM; while true; do sleep 0.1; done`)
	slow.StopTimeout = 30
	task, cs := newTask("slowstop", slow)
	h.run(task, cs)
	h.waitTask("slowstop", time.Minute, "RUNNING", known(api.TaskStatusRunning))
	h.stopTask("slowstop")
	h.waitContainer("slowstop", "slow", 10*time.Second, "SIGTERM sent", func(c *api.Container) bool {
		return c.Status.StopRequestedAt != nil
	})

	task, cs = newTask("fast", sh("app", serviceCmd))
	h.run(task, cs)
	h.waitTask("fast", 20*time.Second, "RUNNING", known(api.TaskStatusRunning))
	if got := h.task("slowstop"); got.Status.KnownStatus == api.TaskStatusStopped {
		t.Fatalf("the slow task stopped before its 30s stop timeout")
	}
}

func TestDependsOnHealthyAndComplete(t *testing.T) {
	h := newHarness(t, nil)
	db := sh("db", `touch /tmp/ready; `+serviceCmd)
	db.HealthCheck = &api.HealthCheck{
		Test:     []string{"CMD-SHELL", "test -f /tmp/ready"},
		Interval: metav1.Duration{Duration: 300 * time.Millisecond},
		Retries:  3,
	}
	migrate := sh("migrate", "exit 3")
	migrate.Essential = false
	app := sh("app", serviceCmd)
	app.DependsOn = []api.Dependency{
		{ContainerName: "db", Condition: api.ConditionHealthy},
		{ContainerName: "migrate", Condition: api.ConditionComplete},
	}
	task, cs := newTask("healthdeps", app, db, migrate)
	h.run(task, cs)
	h.waitTask("healthdeps", time.Minute, "RUNNING", known(api.TaskStatusRunning))

	a, d, m := h.container("healthdeps", "app"), h.container("healthdeps", "db"), h.container("healthdeps", "migrate")
	if d.Status.Health == nil || d.Status.Health.Status != api.HealthHealthy || a.Status.CreatedAt.Before(d.Status.Health.Since) {
		t.Fatalf("app created at %v, before db was HEALTHY (%+v)", a.Status.CreatedAt, d.Status.Health)
	}
	if m.Status.ExitCode == nil || *m.Status.ExitCode != 3 || a.Status.CreatedAt.Before(m.Status.FinishedAt) {
		t.Fatalf("app created at %v, before migrate completed (%+v)", a.Status.CreatedAt, m.Status)
	}
}

func TestAgentEnvironment(t *testing.T) {
	h := newHarness(t, func(s *Options, d *Deps) { s.Create.Region = "us-test-1" })
	check := `env | sort; test "$ECS_CONTAINER_METADATA_URI" = "http://169.254.170.2/v3/$EID" &&
test "$ECS_CONTAINER_METADATA_URI_V4" = "http://169.254.170.2/v4/$EID" &&
test "$ECS_AGENT_URI" = "http://169.254.170.2/api/$EID" &&
test "$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" = /v2/credentials/cred-1 &&
test "$AWS_REGION" = "$WANT_REGION" && test "${AWS_DEFAULT_REGION-unset}" = "$WANT_DEFAULT"`
	agentRegion := sh("plain", check)
	agentRegion.EndpointID = "0f2b3c4d-1111-2222-3333-444455556666"
	agentRegion.Environment = map[string]string{
		"EID": agentRegion.EndpointID, "WANT_REGION": "us-test-1", "WANT_DEFAULT": "us-test-1",
		// The agent's values win over a definition's.
		"ECS_CONTAINER_METADATA_URI": "http://example.invalid/v3/other",
	}
	ownRegion := sh("own", check)
	ownRegion.EndpointID = "7a6b5c4d-1111-2222-3333-444455556666"
	ownRegion.Environment = map[string]string{
		"EID": ownRegion.EndpointID, "AWS_REGION": "eu-own-1", "WANT_REGION": "eu-own-1", "WANT_DEFAULT": "unset",
	}
	// One after the other, so the first exit cannot stop the task before the second ran.
	ownRegion.Essential = false
	agentRegion.DependsOn = []api.Dependency{{ContainerName: "own", Condition: api.ConditionComplete}}
	task, cs := newTask("agentenv", agentRegion, ownRegion)
	task.Spec.RoleCredentialsID = "cred-1"
	h.run(task, cs)
	h.waitTask("agentenv", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	for _, name := range []string{"plain", "own"} {
		c := h.container("agentenv", name)
		if c.Status.ExitCode == nil || *c.Status.ExitCode != 0 {
			logs, _ := os.ReadFile(c.Status.LogPath)
			t.Errorf("%s: exit %v, environment:\n%s", name, c.Status.ExitCode, logs)
		}
	}
}

func TestContainerMetadataFile(t *testing.T) {
	h := newHarness(t, func(s *Options, d *Deps) {
		s.Metadata.Enabled = true
		s.Metadata.Instance = metadatafile.Instance{Cluster: "meta-cluster", ContainerInstanceARN: "arn:aws:ecs:us-west-2:1:container-instance/meta-cluster/ci"}
		s.Task.CleanupWait = time.Second
	})
	// The container waits for READY, as clients do, then prints the file.
	spec := sh("app", `for i in $(seq 100); do grep -q '"MetadataFileStatus": "READY"' "$ECS_CONTAINER_METADATA_FILE" && break; sleep 0.1; done; cat "$ECS_CONTAINER_METADATA_FILE"`)
	spec.EndpointID = "5e1f0c3a-1111-2222-3333-444455556666"
	task, cs := newTask("metafile", spec)
	h.run(task, cs)
	h.waitTask("metafile", time.Minute, "STOPPED", known(api.TaskStatusStopped))
	c := h.container("metafile", "app")
	logs, _ := os.ReadFile(c.Status.LogPath)
	var f map[string]any
	if err := json.Unmarshal(logs, &f); err != nil {
		t.Fatalf("the container did not see a JSON metadata file: %v\n%s", err, logs)
	}
	for k, want := range map[string]any{
		"MetadataFileStatus": "READY", "Cluster": "meta-cluster", "ContainerID": api.RuntimeID(task.Spec.ARN, "app"),
		"ContainerName": "app", "TaskARN": task.Spec.ARN, "DockerContainerName": "/" + api.DockerName(task, c),
	} {
		if f[k] != want {
			t.Errorf("%s = %v, want %v (file:\n%s)", k, f[k], want, logs)
		}
	}
	host := filepath.Join(h.opts.DataDir, "metadata", "metafile", "app", metadatafile.FileName)
	if _, err := os.Stat(host); err != nil {
		t.Fatalf("host copy: %v", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(filepath.Dir(filepath.Dir(host))); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("metadata directory not removed at task cleanup")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
