package fake

import (
	"path"
	"sync"

	"github.com/ecsd/ecsd/runtime"
)

// Cgroups is an in-memory runtime.TaskCgroups under Root ("/ecs" when empty). EnsureErr
// and RemoveErr, when set, fail every call.
type Cgroups struct {
	Root      string
	EnsureErr error
	RemoveErr error

	mu     sync.Mutex
	limits map[string]runtime.CgroupLimits
}

var _ runtime.TaskCgroups = (*Cgroups)(nil)

// Path is Root/taskID.
func (c *Cgroups) Path(taskID string) string {
	root := c.Root
	if root == "" {
		root = "/ecs"
	}
	return path.Join("/", root, taskID)
}

// Ensure records the task's limits.
func (c *Cgroups) Ensure(taskID string, l runtime.CgroupLimits) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.EnsureErr != nil {
		return c.EnsureErr
	}
	if c.limits == nil {
		c.limits = map[string]runtime.CgroupLimits{}
	}
	c.limits[taskID] = l
	return nil
}

// Remove forgets the task's cgroup.
func (c *Cgroups) Remove(taskID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.RemoveErr != nil {
		return c.RemoveErr
	}
	delete(c.limits, taskID)
	return nil
}

// Limits returns the limits the task's cgroup was last ensured with.
func (c *Cgroups) Limits(taskID string) (runtime.CgroupLimits, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.limits[taskID]
	return l, ok
}
