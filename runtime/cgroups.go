package runtime

import "time"

// TaskCgroups manages the per-task cgroup that carries an ECS task's task-level CPU and
// memory limits; runtime/cgroups implements it on cgroupfs, runtime/fake in memory. All
// methods are idempotent, so every container of a task may call Ensure.
type TaskCgroups interface {
	// Path is the cgroup parent (relative to the hierarchy) for a task's containers; ""
	// is the root beneath which every task cgroup lives.
	Path(taskID string) string
	// Ensure creates the task's cgroup with its limits.
	Ensure(taskID string, l CgroupLimits) error
	// Remove deletes the task's cgroup; absent is success.
	Remove(taskID string) error
}

// CgroupLimits are a task's cgroup limits; zero means unlimited.
type CgroupLimits struct {
	// CPUQuota is the CPU time the task may use per Period (vCPUs × Period).
	CPUQuota time.Duration
	Period   time.Duration
	// MemoryBytes is the hard memory limit.
	MemoryBytes int64
	// CPUShares is the task's cpu.shares (cpu.weight on cgroup v2) for a task without a
	// CPU quota: the sum of its containers' shares, so a task weighs against other tasks
	// what its containers weighed side by side. Zero leaves the kernel's default.
	CPUShares uint64
	// PidsLimit is the task's pids.max (ECS_TASK_PIDS_LIMIT): how many processes and
	// threads all its containers together may have.
	PidsLimit int64
}
