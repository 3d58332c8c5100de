package containerd

import (
	"context"
	"fmt"
	"time"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"

	"github.com/ecsd/ecsd/runtime"
)

// Stats returns the cumulative usage of the container's cgroup, decoding whichever
// cgroup version the shim reports (v1 on hybrid hosts like this one, v2 on unified).
func (r *Runtime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	ctx = r.withNS(ctx)
	m, err := r.metrics(ctx, id)
	if err != nil {
		return runtime.Stats{}, wrapErr(err, "stats for container %s", id)
	}
	s := runtime.Stats{Time: time.Now()}
	switch m := m.(type) {
	case *v1.Metrics:
		if m.CPU != nil && m.CPU.Usage != nil {
			s.CPUUsageNanos = m.CPU.Usage.Total
		}
		if m.Memory != nil {
			if m.Memory.Usage != nil {
				s.MemoryUsage = m.Memory.Usage.Usage
				s.MemoryLimit = m.Memory.Usage.Limit
			}
			s.MemoryCache = m.Memory.TotalCache
		}
		if m.Pids != nil {
			s.Pids = m.Pids.Current
		}
	case *v2.Metrics:
		if m.CPU != nil {
			s.CPUUsageNanos = m.CPU.UsageUsec * 1000
		}
		if m.Memory != nil {
			s.MemoryUsage = m.Memory.Usage
			s.MemoryLimit = m.Memory.UsageLimit
			s.MemoryCache = m.Memory.InactiveFile
		}
		if m.Pids != nil {
			s.Pids = m.Pids.Current
		}
	default:
		return runtime.Stats{}, fmt.Errorf("stats for container %s: unexpected metrics type %T", id, m)
	}
	return s, nil
}

// metrics fetches and decodes the task's cgroup metrics.
func (r *Runtime) metrics(ctx context.Context, id string) (any, error) {
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return nil, err
	}
	t, err := c.Task(ctx, nil)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, errNotRunning(id)
		}
		return nil, err
	}
	m, err := t.Metrics(ctx)
	if err != nil {
		return nil, err
	}
	if m.Data == nil {
		return nil, fmt.Errorf("no metrics data: %w", errdefs.ErrNotFound)
	}
	return typeurl.UnmarshalAny(m.Data)
}

// oomKilled asks the container's memory cgroup whether the kernel OOM killer acted in it
// (v1 memory.oom_control oom_kill, v2 memory.events oom_kill). It only works while the
// task still exists; any error counts as "no".
func (r *Runtime) oomKilled(ctx context.Context, id string) bool {
	m, err := r.metrics(ctx, id)
	if err != nil {
		return false
	}
	switch m := m.(type) {
	case *v1.Metrics:
		return m.MemoryOomControl != nil && m.MemoryOomControl.OomKill > 0
	case *v2.Metrics:
		return m.MemoryEvents != nil && m.MemoryEvents.OomKill > 0
	}
	return false
}
