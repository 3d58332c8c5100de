package controllers

import (
	"fmt"
	"strings"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// dependency is one dependsOn edge, explicit or implied by volumesFrom and links.
type dependency struct {
	name      string
	condition api.DependencyCondition
}

// dependenciesOf returns c's explicit and implicit dependencies (spec §6.3): a volumesFrom
// source must be CREATED, a links target STARTED.
func dependenciesOf(c *api.Container) []dependency {
	var out []dependency
	for _, d := range c.Spec.DependsOn {
		out = append(out, dependency{name: d.ContainerName, condition: d.Condition})
	}
	for _, v := range c.Spec.VolumesFrom {
		out = append(out, dependency{name: v.SourceContainer, condition: api.ConditionCreate})
	}
	for _, l := range c.Spec.Links {
		name, _, _ := strings.Cut(l, ":")
		out = append(out, dependency{name: name, condition: api.ConditionStart})
	}
	return out
}

// depVerdict is the outcome of checking a container's dependencies.
type depVerdict struct {
	// ok means every condition holds.
	ok bool
	// failure, when set, means a condition can never hold: the container must stop.
	failure string
	// recheckIn, when non-zero, is when a startTimeout will expire.
	recheckIn time.Duration
}

// checkDependencies evaluates c's dependsOn conditions against its siblings.
func checkDependencies(c *api.Container, siblings map[string]*api.Container, now time.Time) depVerdict {
	v := depVerdict{ok: true}
	for _, d := range dependenciesOf(c) {
		dep, found := siblings[d.name]
		if !found {
			return depVerdict{failure: fmt.Sprintf("%s: dependency %q of container %q does not exist", ReasonDependency, d.name, c.Spec.Name)}
		}
		met, failure := conditionMet(d.condition, dep)
		if failure != "" {
			return depVerdict{failure: fmt.Sprintf("%s: container %q: %s", ReasonStart, c.Spec.Name, failure)}
		}
		if met {
			continue
		}
		v.ok = false
		// The dependency's own startTimeout bounds how long COMPLETE, SUCCESS and HEALTHY
		// may take, counted from when the dependency started.
		if d.condition == api.ConditionCreate || d.condition == api.ConditionStart {
			continue
		}
		if dep.Spec.StartTimeout > 0 && dep.Status.StartedAt != nil {
			left := time.Duration(dep.Spec.StartTimeout)*time.Second - now.Sub(dep.Status.StartedAt.Time)
			if left <= 0 {
				return depVerdict{failure: fmt.Sprintf("%s: container %q: dependency %q did not reach %s within its startTimeout of %ds",
					ReasonStart, c.Spec.Name, d.name, d.condition, dep.Spec.StartTimeout)}
			}
			if v.recheckIn == 0 || left < v.recheckIn {
				v.recheckIn = left
			}
		}
	}
	return v
}

// conditionMet tells whether dep satisfies cond, or why it never will.
func conditionMet(cond api.DependencyCondition, dep *api.Container) (bool, string) {
	known := dep.Status.KnownStatus.OrNone()
	stopped := known == api.ContainerStatusStopped
	willNotRun := desiredContainer(dep) == api.ContainerStatusStopped && known.Before(api.ContainerStatusRunning)
	switch cond {
	case api.ConditionCreate:
		if known.AtLeast(api.ContainerStatusCreated) && (!stopped || dep.Status.CreatedAt != nil) {
			return true, ""
		}
		if willNotRun || stopped {
			return false, fmt.Sprintf("dependency %q will never be created", dep.Spec.Name)
		}
	case api.ConditionStart:
		if known.AtLeast(api.ContainerStatusRunning) {
			return true, ""
		}
		if willNotRun || stopped {
			return false, fmt.Sprintf("dependency %q will never start", dep.Spec.Name)
		}
	case api.ConditionComplete:
		if stopped && dep.Status.ExitCode != nil {
			return true, ""
		}
		if stopped {
			return false, fmt.Sprintf("dependency %q stopped without an exit code", dep.Spec.Name)
		}
	case api.ConditionSuccess:
		if stopped && dep.Status.ExitCode != nil {
			if *dep.Status.ExitCode == 0 {
				return true, ""
			}
			return false, fmt.Sprintf("dependency %q exited with code %d, condition SUCCESS needs 0", dep.Spec.Name, *dep.Status.ExitCode)
		}
		if stopped {
			return false, fmt.Sprintf("dependency %q stopped without an exit code", dep.Spec.Name)
		}
	case api.ConditionHealthy:
		if dep.Spec.HealthCheck == nil {
			return false, fmt.Sprintf("dependency %q has no health check, condition HEALTHY can never hold", dep.Spec.Name)
		}
		if dep.Status.Health != nil && dep.Status.Health.Status == api.HealthHealthy && known == api.ContainerStatusRunning {
			return true, ""
		}
		if stopped || willNotRun {
			return false, fmt.Sprintf("dependency %q stopped before it was healthy", dep.Spec.Name)
		}
	default:
		return false, fmt.Sprintf("unknown dependency condition %q", cond)
	}
	return false, ""
}

// dependentsRunning lists siblings that depend on c and have not stopped yet; c is stopped
// only after them (reverse start order).
func dependentsRunning(c *api.Container, siblings map[string]*api.Container) []string {
	var out []string
	for _, s := range siblings {
		if s.Name == c.Name || s.Status.KnownStatus.OrNone() == api.ContainerStatusStopped {
			continue
		}
		for _, d := range dependenciesOf(s) {
			if d.name == c.Spec.Name {
				out = append(out, s.Spec.Name)
				break
			}
		}
	}
	return out
}
