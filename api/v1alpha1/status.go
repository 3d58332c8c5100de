package v1alpha1

// ContainerStatus values follow the reference agent's container state machine. Their order
// matters: a container only moves forward, one step at a time.
type ContainerState string

const (
	ContainerStatusNone                 ContainerState = "NONE"
	ContainerStatusManifestPulled       ContainerState = "MANIFEST_PULLED"
	ContainerStatusPulled               ContainerState = "PULLED"
	ContainerStatusCreated              ContainerState = "CREATED"
	ContainerStatusRunning              ContainerState = "RUNNING"
	ContainerStatusResourcesProvisioned ContainerState = "RESOURCES_PROVISIONED"
	ContainerStatusStopped              ContainerState = "STOPPED"
	ContainerStatusZombie               ContainerState = "ZOMBIE"
)

var containerOrder = map[ContainerState]int{
	"": 0, ContainerStatusNone: 0, ContainerStatusManifestPulled: 1, ContainerStatusPulled: 2,
	ContainerStatusCreated: 3, ContainerStatusRunning: 4, ContainerStatusResourcesProvisioned: 5,
	ContainerStatusStopped: 6, ContainerStatusZombie: 7,
}

// Ord is the position of s in the state machine; unknown values sort as NONE.
func (s ContainerState) Ord() int { return containerOrder[s] }

// Before reports whether s comes strictly before o.
func (s ContainerState) Before(o ContainerState) bool { return s.Ord() < o.Ord() }

// AtLeast reports whether s is o or later.
func (s ContainerState) AtLeast(o ContainerState) bool { return s.Ord() >= o.Ord() }

// OrNone returns NONE for the empty value.
func (s ContainerState) OrNone() ContainerState {
	if s == "" {
		return ContainerStatusNone
	}
	return s
}

// TaskState values follow the reference agent's task state machine.
type TaskState string

const (
	TaskStatusNone           TaskState = "NONE"
	TaskStatusManifestPulled TaskState = "MANIFEST_PULLED"
	TaskStatusPulled         TaskState = "PULLED"
	TaskStatusCreated        TaskState = "CREATED"
	TaskStatusRunning        TaskState = "RUNNING"
	TaskStatusStopped        TaskState = "STOPPED"
	TaskStatusZombie         TaskState = "ZOMBIE"
)

var taskOrder = map[TaskState]int{
	"": 0, TaskStatusNone: 0, TaskStatusManifestPulled: 1, TaskStatusPulled: 2,
	TaskStatusCreated: 3, TaskStatusRunning: 4, TaskStatusStopped: 5, TaskStatusZombie: 6,
}

// Ord is the position of s in the state machine; unknown values sort as NONE.
func (s TaskState) Ord() int { return taskOrder[s] }

// Before reports whether s comes strictly before o.
func (s TaskState) Before(o TaskState) bool { return s.Ord() < o.Ord() }

// AtLeast reports whether s is o or later.
func (s TaskState) AtLeast(o TaskState) bool { return s.Ord() >= o.Ord() }

// OrNone returns NONE for the empty value.
func (s TaskState) OrNone() TaskState {
	if s == "" {
		return TaskStatusNone
	}
	return s
}

// BackendStatus is what ECS is told for a task status: RUNNING, STOPPED, or PENDING.
func (s TaskState) BackendStatus() string {
	switch s {
	case TaskStatusRunning:
		return "RUNNING"
	case TaskStatusStopped, TaskStatusZombie:
		return "STOPPED"
	default:
		return "PENDING"
	}
}

// MaxTask returns the later of two task states.
func MaxTask(a, b TaskState) TaskState {
	if a.Before(b) {
		return b
	}
	return a
}

// MaxContainer returns the later of two container states.
func MaxContainer(a, b ContainerState) ContainerState {
	if a.Before(b) {
		return b
	}
	return a
}

// HealthState is a container's health as reported to ECS and the task metadata endpoint.
type HealthState string

const (
	HealthUnknown   HealthState = "UNKNOWN"
	HealthHealthy   HealthState = "HEALTHY"
	HealthUnhealthy HealthState = "UNHEALTHY"
)

// DependencyCondition is a dependsOn condition.
type DependencyCondition string

const (
	ConditionCreate   DependencyCondition = "CREATE"
	ConditionStart    DependencyCondition = "START"
	ConditionComplete DependencyCondition = "COMPLETE"
	ConditionSuccess  DependencyCondition = "SUCCESS"
	ConditionHealthy  DependencyCondition = "HEALTHY"
)
