package controllers

import (
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testutil"
)

func TestDependenciesOfAddsImplicitEdges(t *testing.T) {
	c := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, func(c *api.Container) {
		c.Spec.DependsOn = []api.Dependency{{ContainerName: "init", Condition: api.ConditionSuccess}}
		c.Spec.VolumesFrom = []api.VolumeFrom{{SourceContainer: "data"}}
		c.Spec.Links = []string{"db:database", "cache"}
	})
	got := dependenciesOf(c)
	want := []dependency{
		{name: "init", condition: api.ConditionSuccess}, // explicit, as written
		{name: "data", condition: api.ConditionCreate},  // §6.3: volumesFrom source ⇒ CREATE
		{name: "db", condition: api.ConditionStart},     // §6.3: links target ⇒ START, alias dropped
		{name: "cache", condition: api.ConditionStart},  // a link without an alias
	}
	if !slices.Equal(got, want) {
		t.Fatalf("dependenciesOf = %+v, want %+v", got, want)
	}
	if d := dependenciesOf(unitContainer("lone", "", "")); len(d) != 0 {
		t.Fatalf("a container without dependsOn, volumesFrom or links has dependencies %+v", d)
	}
}

// TestConditionMet walks the table of spec §6.3 one condition and dependency state at a time.
func TestConditionMet(t *testing.T) {
	const (
		none     = api.ContainerStatusNone
		pulled   = api.ContainerStatusPulled
		created  = api.ContainerStatusCreated
		running  = api.ContainerStatusRunning
		prov     = api.ContainerStatusResourcesProvisioned
		stopped  = api.ContainerStatusStopped
		wantRun  = api.ContainerStatusRunning
		wantStop = api.ContainerStatusStopped
	)
	wasCreated := func(c *api.Container) { c.Status.CreatedAt = unitAt(0) }
	withHC := func(c *api.Container) { c.Spec.HealthCheck = &api.HealthCheck{Test: []string{"CMD", "true"}} }
	health := func(h api.HealthState) func(*api.Container) {
		return func(c *api.Container) { c.Status.Health = &api.Health{Status: h} }
	}
	for _, tc := range []struct {
		name    string
		cond    api.DependencyCondition
		dep     *api.Container
		met     bool
		failure string // substring; "" means the condition may still hold
	}{
		// CREATE: known ≥ CREATED.
		{"CREATE waits for a dependency not created yet", api.ConditionCreate, unitContainer("dep", pulled, wantRun), false, ""},
		{"CREATE holds once the dependency is CREATED", api.ConditionCreate, unitContainer("dep", created, wantRun), true, ""},
		{"CREATE holds while the dependency runs", api.ConditionCreate, unitContainer("dep", running, wantRun), true, ""},
		{"CREATE holds for a dependency created and then stopped", api.ConditionCreate, unitContainer("dep", stopped, wantStop, wasCreated, unitExit(0)), true, ""},
		{"CREATE fails for a dependency stopped before it was created", api.ConditionCreate, unitContainer("dep", stopped, wantStop), false, `dependency "dep" will never be created`},
		{"CREATE fails for a dependency that will never run", api.ConditionCreate, unitContainer("dep", pulled, wantStop), false, `dependency "dep" will never be created`},

		// START: steady state, or STOPPED already.
		{"START waits for a created dependency", api.ConditionStart, unitContainer("dep", created, wantRun), false, ""},
		{"START holds while the dependency runs", api.ConditionStart, unitContainer("dep", running, wantRun), true, ""},
		{"START holds at RESOURCES_PROVISIONED", api.ConditionStart, unitContainer("dep", prov, wantRun), true, ""},
		{"START holds for a dependency that ran and stopped", api.ConditionStart, unitContainer("dep", stopped, wantStop, wasCreated, unitExit(0)), true, ""},
		{"START fails for a dependency that will never start", api.ConditionStart, unitContainer("dep", created, wantStop), false, `dependency "dep" will never start`},
		{"START fails for a dependency that never got a desired RUNNING", api.ConditionStart, unitContainer("dep", none, wantStop), false, "will never start"},

		// COMPLETE: STOPPED with any known exit code.
		{"COMPLETE waits while the dependency runs", api.ConditionComplete, unitContainer("dep", running, wantRun), false, ""},
		{"COMPLETE holds for exit code 0", api.ConditionComplete, unitContainer("dep", stopped, wantStop, unitExit(0)), true, ""},
		{"COMPLETE holds for a non-zero exit code", api.ConditionComplete, unitContainer("dep", stopped, wantStop, unitExit(3)), true, ""},
		{"COMPLETE fails for a dependency stopped without an exit code", api.ConditionComplete, unitContainer("dep", stopped, wantStop), false, `dependency "dep" stopped without an exit code`},

		// SUCCESS: STOPPED with exit code 0; non-zero is terminal.
		{"SUCCESS waits while the dependency runs", api.ConditionSuccess, unitContainer("dep", running, wantRun), false, ""},
		{"SUCCESS holds for exit code 0", api.ConditionSuccess, unitContainer("dep", stopped, wantStop, unitExit(0)), true, ""},
		{"SUCCESS fails for a non-zero exit code", api.ConditionSuccess, unitContainer("dep", stopped, wantStop, unitExit(2)), false, `dependency "dep" exited with code 2, condition SUCCESS needs 0`},
		{"SUCCESS fails for a dependency stopped without an exit code", api.ConditionSuccess, unitContainer("dep", stopped, wantStop), false, "stopped without an exit code"},

		// HEALTHY: has a health check and is HEALTHY.
		{"HEALTHY fails for a dependency without a health check", api.ConditionHealthy, unitContainer("dep", running, wantRun), false, `dependency "dep" has no health check, condition HEALTHY can never hold`},
		{"HEALTHY waits while health is UNKNOWN", api.ConditionHealthy, unitContainer("dep", running, wantRun, withHC, health(api.HealthUnknown)), false, ""},
		{"HEALTHY waits while health is UNHEALTHY (the startTimeout bounds it)", api.ConditionHealthy, unitContainer("dep", running, wantRun, withHC, health(api.HealthUnhealthy)), false, ""},
		{"HEALTHY waits before the dependency starts", api.ConditionHealthy, unitContainer("dep", created, wantRun, withHC), false, ""},
		{"HEALTHY holds for a running, healthy dependency", api.ConditionHealthy, unitContainer("dep", running, wantRun, withHC, health(api.HealthHealthy)), true, ""},
		{"HEALTHY fails for a dependency that stopped, even once healthy", api.ConditionHealthy, unitContainer("dep", stopped, wantStop, withHC, health(api.HealthHealthy), unitExit(0)), false, `dependency "dep" stopped before it was healthy`},
		{"HEALTHY fails for a dependency that will never run", api.ConditionHealthy, unitContainer("dep", pulled, wantStop, withHC), false, "stopped before it was healthy"},

		{"an unknown condition can never hold", "READY", unitContainer("dep", running, wantRun), false, `unknown dependency condition "READY"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			met, failure := conditionMet(tc.cond, tc.dep)
			if met != tc.met {
				t.Errorf("met = %v, want %v", met, tc.met)
			}
			switch {
			case tc.failure == "" && failure != "":
				t.Errorf("failure = %q, want none (the condition may still hold)", failure)
			case tc.failure != "" && !strings.Contains(failure, tc.failure):
				t.Errorf("failure = %q, want it to say %q", failure, tc.failure)
			}
		})
	}
}

// TestCheckDependencies covers the verdict for a whole container: missing dependencies,
// terminal failures and the dependency's startTimeout (spec §6.3).
func TestCheckDependencies(t *testing.T) {
	now := testutil.Epoch()
	dependsOn := func(deps ...api.Dependency) func(*api.Container) {
		return func(c *api.Container) { c.Spec.DependsOn = deps }
	}
	on := func(name string, cond api.DependencyCondition) api.Dependency {
		return api.Dependency{ContainerName: name, Condition: cond}
	}
	startedAgo := func(d time.Duration, timeoutSeconds int64) func(*api.Container) {
		return func(c *api.Container) {
			c.Status.StartedAt = unitAt(-d)
			c.Spec.StartTimeout = timeoutSeconds
		}
	}
	running := api.ContainerStatusRunning
	for _, tc := range []struct {
		name      string
		app       *api.Container
		siblings  []*api.Container
		ok        bool
		failure   []string // all must appear
		recheckIn time.Duration
	}{
		{
			name: "no dependencies: go ahead",
			app:  unitContainer("app", api.ContainerStatusPulled, running),
			ok:   true,
		},
		{
			name:     "every condition holds: go ahead",
			app:      unitContainer("app", api.ContainerStatusPulled, running, dependsOn(on("db", api.ConditionStart), on("init", api.ConditionSuccess))),
			siblings: []*api.Container{unitContainer("db", running, running), unitContainer("init", api.ContainerStatusStopped, api.ContainerStatusStopped, unitExit(0))},
			ok:       true,
		},
		{
			name:    "a dependency that does not exist is a TaskDependencyError naming it",
			app:     unitContainer("app", api.ContainerStatusPulled, running, dependsOn(on("ghost", api.ConditionStart))),
			failure: []string{ReasonDependency + ":", `dependency "ghost" of container "app" does not exist`},
		},
		{
			name:     "an implicit volumesFrom dependency that does not exist fails the same way",
			app:      unitContainer("app", api.ContainerStatusPulled, running, func(c *api.Container) { c.Spec.VolumesFrom = []api.VolumeFrom{{SourceContainer: "data"}} }),
			siblings: nil,
			failure:  []string{ReasonDependency, `"data"`},
		},
		{
			name:     "a SUCCESS dependency that exited non-zero stops the dependent with CannotStartContainerError",
			app:      unitContainer("app", api.ContainerStatusPulled, running, dependsOn(on("init", api.ConditionSuccess))),
			siblings: []*api.Container{unitContainer("init", api.ContainerStatusStopped, api.ContainerStatusStopped, unitExit(1))},
			failure:  []string{ReasonStart + `: container "app":`, "exited with code 1"},
		},
		{
			name:     "a dependency not started yet: wait, with no startTimeout to recheck",
			app:      unitContainer("app", api.ContainerStatusPulled, running, dependsOn(on("init", api.ConditionComplete))),
			siblings: []*api.Container{unitContainer("init", api.ContainerStatusCreated, running, func(c *api.Container) { c.Spec.StartTimeout = 30 })},
		},
		{
			name:      "within the dependency's startTimeout: wait and recheck when it expires",
			app:       unitContainer("app", api.ContainerStatusPulled, running, dependsOn(on("init", api.ConditionComplete))),
			siblings:  []*api.Container{unitContainer("init", running, running, startedAgo(10*time.Second, 30))},
			recheckIn: 20 * time.Second,
		},
		{
			name:     "the dependency's startTimeout elapsed: CannotStartContainerError",
			app:      unitContainer("app", api.ContainerStatusPulled, running, dependsOn(on("init", api.ConditionComplete))),
			siblings: []*api.Container{unitContainer("init", running, running, startedAgo(31*time.Second, 30))},
			failure:  []string{ReasonStart + `: container "app": dependency "init" did not reach COMPLETE within its startTimeout of 30s`},
		},
		{
			name:     "exactly at the startTimeout it has elapsed",
			app:      unitContainer("app", api.ContainerStatusPulled, running, dependsOn(on("init", api.ConditionSuccess))),
			siblings: []*api.Container{unitContainer("init", running, running, startedAgo(30*time.Second, 30))},
			failure:  []string{"did not reach SUCCESS within its startTimeout of 30s"},
		},
		{
			name: "the startTimeout bounds HEALTHY too",
			app:  unitContainer("app", api.ContainerStatusPulled, running, dependsOn(on("db", api.ConditionHealthy))),
			siblings: []*api.Container{unitContainer("db", running, running, startedAgo(time.Minute, 45), func(c *api.Container) {
				c.Spec.HealthCheck = &api.HealthCheck{Test: []string{"CMD", "true"}}
				c.Status.Health = &api.Health{Status: api.HealthUnhealthy}
			})},
			failure: []string{`dependency "db" did not reach HEALTHY within its startTimeout of 45s`},
		},
		{
			name:     "the startTimeout does not apply to START",
			app:      unitContainer("app", api.ContainerStatusPulled, running, dependsOn(on("db", api.ConditionStart))),
			siblings: []*api.Container{unitContainer("db", api.ContainerStatusCreated, running, startedAgo(time.Hour, 1))},
		},
		{
			name:     "the startTimeout does not apply to CREATE",
			app:      unitContainer("app", api.ContainerStatusPulled, running, dependsOn(on("db", api.ConditionCreate))),
			siblings: []*api.Container{unitContainer("db", api.ContainerStatusPulled, running, startedAgo(time.Hour, 1))},
		},
		{
			name:     "a dependency without a startTimeout is waited for as long as it takes",
			app:      unitContainer("app", api.ContainerStatusPulled, running, dependsOn(on("init", api.ConditionComplete))),
			siblings: []*api.Container{unitContainer("init", running, running, startedAgo(24*time.Hour, 0))},
		},
		{
			name: "with several dependencies, the recheck is the soonest expiry",
			app:  unitContainer("app", api.ContainerStatusPulled, running, dependsOn(on("a", api.ConditionComplete), on("b", api.ConditionComplete))),
			siblings: []*api.Container{
				unitContainer("a", running, running, startedAgo(5*time.Second, 60)),
				unitContainer("b", running, running, startedAgo(5*time.Second, 15)),
			},
			recheckIn: 10 * time.Second,
		},
		{
			name: "one terminal failure wins over dependencies still pending",
			app:  unitContainer("app", api.ContainerStatusPulled, running, dependsOn(on("a", api.ConditionComplete), on("b", api.ConditionSuccess))),
			siblings: []*api.Container{
				unitContainer("a", running, running, startedAgo(5*time.Second, 60)),
				unitContainer("b", api.ContainerStatusStopped, api.ContainerStatusStopped, unitExit(137)),
			},
			failure: []string{`dependency "b" exited with code 137`},
		},
		{
			// A cycle is rejected when the payload is accepted (controlplane/payload marks
			// the task Invalid with TaskDependencyError); here it only ever waits, it never
			// starts one side of the cycle.
			name:     "a dependency cycle never lets either side go ahead",
			app:      unitContainer("a", api.ContainerStatusPulled, running, dependsOn(on("b", api.ConditionStart))),
			siblings: []*api.Container{unitContainer("b", api.ContainerStatusPulled, running, dependsOn(on("a", api.ConditionStart)))},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sib := unitSiblings(append([]*api.Container{tc.app}, tc.siblings...)...)
			v := checkDependencies(tc.app, sib, now)
			if len(tc.failure) > 0 {
				for _, f := range tc.failure {
					if !strings.Contains(v.failure, f) {
						t.Errorf("failure = %q, want it to contain %q", v.failure, f)
					}
				}
				if v.ok {
					t.Errorf("ok with a failure")
				}
				return
			}
			if v.failure != "" {
				t.Fatalf("unexpected failure %q", v.failure)
			}
			if v.ok != tc.ok || v.recheckIn != tc.recheckIn {
				t.Fatalf("verdict = ok %v recheck %s, want ok %v recheck %s", v.ok, v.recheckIn, tc.ok, tc.recheckIn)
			}
		})
	}
}

func TestCheckDependenciesCycleFromEitherSide(t *testing.T) {
	a := unitContainer("a", api.ContainerStatusPulled, api.ContainerStatusRunning, func(c *api.Container) { c.Spec.Links = []string{"b"} })
	b := unitContainer("b", api.ContainerStatusPulled, api.ContainerStatusRunning, func(c *api.Container) { c.Spec.VolumesFrom = []api.VolumeFrom{{SourceContainer: "a"}} })
	sib := unitSiblings(a, b)
	for _, c := range []*api.Container{a, b} {
		if v := checkDependencies(c, sib, testutil.Epoch()); v.ok || v.failure != "" {
			t.Errorf("%s: verdict %+v, want to wait", c.Spec.Name, v)
		}
	}
}

// TestDependentsRunning covers the shutdown order of spec §6.3: a container is not stopped
// while a container depending on it has not stopped.
func TestDependentsRunning(t *testing.T) {
	running, stopped := api.ContainerStatusRunning, api.ContainerStatusStopped
	db := unitContainer("db", running, stopped)
	sib := unitSiblings(
		db,
		unitContainer("app", running, stopped, func(c *api.Container) {
			c.Spec.DependsOn = []api.Dependency{{ContainerName: "db", Condition: api.ConditionHealthy}}
		}),
		unitContainer("reader", api.ContainerStatusCreated, stopped, func(c *api.Container) {
			c.Spec.VolumesFrom = []api.VolumeFrom{{SourceContainer: "db"}}
		}),
		unitContainer("linked-done", stopped, stopped, func(c *api.Container) { c.Spec.Links = []string{"db:database"} }),
		unitContainer("linked", running, stopped, func(c *api.Container) { c.Spec.Links = []string{"db:database"} }),
		unitContainer("unrelated", running, stopped),
	)
	got := dependentsRunning(db, sib)
	slices.Sort(got)
	if want := []string{"app", "linked", "reader"}; !slices.Equal(got, want) {
		t.Fatalf("dependentsRunning(db) = %v, want %v (stopped and unrelated containers do not hold it)", got, want)
	}
	if got := dependentsRunning(sib["app"], sib); len(got) != 0 {
		t.Fatalf("nothing depends on app, got %v", got)
	}
}
