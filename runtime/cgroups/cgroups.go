// Package cgroups manages the per-task cgroup that carries an ECS task's task-level CPU,
// memory and pids limits (ECS_ENABLE_TASK_CPU_MEM_LIMIT, ECS_TASK_PIDS_LIMIT), on a cgroup
// v1 (or hybrid) host and on the unified cgroup v2 hierarchy alike. Containers are created beneath it, so
// together they can never use more than the task definition allows. Every task gets one,
// limits or not, as with the reference agent: the <root>/<task>/<container ID> path is
// what monitoring tools read a container's ID from. It writes cgroupfs
// directly: the runtime (runc) creates the containers' own cgroups under this parent.
package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ecsd/ecsd/runtime"
)

// Limits are a task's cgroup limits (runtime.CgroupLimits); zero means unlimited.
type Limits = runtime.CgroupLimits

// Manager implements runtime.TaskCgroups.
var _ runtime.TaskCgroups = Manager{}

// CPU shares bounds of cgroup v1 (and of runc's conversion to cpu.weight).
const (
	minCPUShares = 2
	maxCPUShares = 262144
)

// cpuWeight converts cpu.shares to cgroup v2's cpu.weight the way runc does, so a task's
// weight relates to its containers' weights (which runc converts) as on cgroup v1.
func cpuWeight(shares uint64) uint64 {
	shares = min(max(shares, minCPUShares), maxCPUShares)
	return 1 + ((shares-2)*9999)/262142
}

// DefaultRoot is the cgroup parent of task cgroups, as the reference agent names it.
const DefaultRoot = "/ecs"

// DefaultMount is where the cgroup filesystem is usually mounted.
const DefaultMount = "/sys/fs/cgroup"

// Manager creates and removes task cgroups under Root (a cgroupfs path such as "/ecs")
// in the cgroup filesystem mounted at Mount.
type Manager struct {
	Mount string
	Root  string
}

// ErrControllerUnavailable is returned by Ensure when a limit needs a cgroup controller
// (cpu, memory, pids) the host's hierarchy does not offer where the task cgroup lives.
var ErrControllerUnavailable = errors.New("cgroup controller not available")

// Unified reports whether Mount is the unified cgroup v2 hierarchy (Amazon Linux 2023,
// Debian 12 and most current distributions), rather than cgroup v1 or a hybrid layout.
func (m Manager) Unified() bool { return m.unified() }

// unified reports whether Mount is a cgroup v2 hierarchy.
func (m Manager) unified() bool {
	_, err := os.Stat(filepath.Join(m.Mount, "cgroup.controllers"))
	return err == nil
}

// MissingControllers names the controllers task limits need (cpu, memory) that the host's
// cgroup filesystem does not offer: on cgroup v2 those absent from the root's
// cgroup.controllers, on v1 those without a hierarchy. Without them the agent does not
// claim task-level limits (capability task-cpu-mem-limit).
func (m Manager) MissingControllers() []string {
	var missing []string
	if m.unified() {
		avail, err := os.ReadFile(filepath.Join(m.Mount, "cgroup.controllers"))
		for _, c := range []string{"cpu", "memory"} {
			if err != nil || !slices.Contains(strings.Fields(string(avail)), c) {
				missing = append(missing, c)
			}
		}
		return missing
	}
	for _, c := range []string{"cpu", "memory"} {
		if _, err := os.Stat(filepath.Join(m.Mount, c)); err != nil {
			missing = append(missing, c)
		}
	}
	return missing
}

// Path is the cgroup parent (relative to the hierarchy) for a task's containers.
func (m Manager) Path(taskID string) string {
	return filepath.Join("/", m.Root, taskID)
}

// Ensure creates the task's cgroup with its limits; it is idempotent.
func (m Manager) Ensure(taskID string, l Limits) error {
	if m.unified() {
		return m.ensureV2(taskID, l)
	}
	if err := m.ensureV1(m.Path(taskID)); err != nil {
		return err
	}
	if l.CPUQuota > 0 && l.Period > 0 {
		cpu := filepath.Join(m.Mount, "cpu", m.Path(taskID))
		if err := write(cpu, "cpu.cfs_period_us", strconv.FormatInt(l.Period.Microseconds(), 10)); err != nil {
			return err
		}
		if err := write(cpu, "cpu.cfs_quota_us", strconv.FormatInt(l.CPUQuota.Microseconds(), 10)); err != nil {
			return err
		}
	}
	if l.CPUShares > 0 {
		shares := min(max(l.CPUShares, minCPUShares), maxCPUShares)
		if err := write(filepath.Join(m.Mount, "cpu", m.Path(taskID)), "cpu.shares", strconv.FormatUint(shares, 10)); err != nil {
			return err
		}
	}
	if l.MemoryBytes > 0 {
		if err := write(filepath.Join(m.Mount, "memory", m.Path(taskID)), "memory.limit_in_bytes", strconv.FormatInt(l.MemoryBytes, 10)); err != nil {
			return err
		}
	}
	if l.PidsLimit > 0 {
		if _, err := os.Stat(filepath.Join(m.Mount, "pids")); err != nil {
			return fmt.Errorf("task pids limit: no pids hierarchy at %s: %w", filepath.Join(m.Mount, "pids"), ErrControllerUnavailable)
		}
		if err := write(filepath.Join(m.Mount, "pids", m.Path(taskID)), "pids.max", strconv.FormatInt(l.PidsLimit, 10)); err != nil {
			return err
		}
	}
	return nil
}

// ensureV1 creates rel in every mounted v1 hierarchy, and in a hybrid host's v2 mount
// ("unified"), which runc joins too.
func (m Manager) ensureV1(rel string) error {
	for _, sub := range []string{"cpu", "cpuacct", "memory", "pids", "cpuset", "blkio", "devices", "freezer", "unified"} {
		dir := filepath.Join(m.Mount, sub, rel)
		if _, err := os.Stat(filepath.Join(m.Mount, sub)); err != nil {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cgroup %s: %w", dir, err)
		}
		if sub == "cpuset" {
			// A new cpuset cgroup starts empty; inherit the parent's CPUs and memory nodes
			// all the way down or no process can join it.
			if err := inheritCpuset(filepath.Join(m.Mount, sub), rel); err != nil {
				return err
			}
		}
	}
	return nil
}

// EnsureRoot creates Root, the parent of every task container's cgroup, and returns its
// path in the cgroup v2 hierarchy: what an iptables cgroup match on task traffic names. It
// returns "" on a host without a v2 hierarchy (pure v1), where no such match exists.
func (m Manager) EnsureRoot() (string, error) {
	root := filepath.Join("/", m.Root)
	if m.unified() {
		if err := os.MkdirAll(filepath.Join(m.Mount, root), 0o755); err != nil {
			return "", fmt.Errorf("cgroup root: %w", err)
		}
		return root, nil
	}
	if err := m.ensureV1(root); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(m.Mount, "unified", "cgroup.controllers")); err != nil {
		return "", nil
	}
	return root, nil
}

// V2Mount returns where the cgroup v2 hierarchy is mounted: Mount itself on a unified host,
// its "unified" directory on a hybrid one, "" on a pure v1 host.
func (m Manager) V2Mount() string {
	if m.unified() {
		return m.Mount
	}
	if _, err := os.Stat(filepath.Join(m.Mount, "unified", "cgroup.controllers")); err == nil {
		return filepath.Join(m.Mount, "unified")
	}
	return ""
}

func (m Manager) ensureV2(taskID string, l Limits) error {
	dir := filepath.Join(m.Mount, m.Path(taskID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("task cgroup %s: %w", dir, err)
	}
	// On cgroup v2 a limit file exists only where the parent delegates its controller
	// (cgroup.subtree_control), so the controllers go down level by level from the
	// hierarchy's root to the task, and on into the task for its containers.
	levels := []string{m.Mount}
	for _, part := range splitPath(m.Path(taskID)) {
		levels = append(levels, filepath.Join(levels[len(levels)-1], part))
	}
	needed := controllers(l)
	for _, d := range levels {
		if err := delegate(d, needed); err != nil {
			return err
		}
	}
	if l.CPUQuota > 0 && l.Period > 0 {
		if err := write(dir, "cpu.max", fmt.Sprintf("%d %d", l.CPUQuota.Microseconds(), l.Period.Microseconds())); err != nil {
			return err
		}
	}
	if l.CPUShares > 0 {
		if err := write(dir, "cpu.weight", strconv.FormatUint(cpuWeight(l.CPUShares), 10)); err != nil {
			return err
		}
	}
	if l.MemoryBytes > 0 {
		if err := write(dir, "memory.max", strconv.FormatInt(l.MemoryBytes, 10)); err != nil {
			return err
		}
	}
	if l.PidsLimit > 0 {
		if err := write(dir, "pids.max", strconv.FormatInt(l.PidsLimit, 10)); err != nil {
			return err
		}
	}
	return nil
}

// delegatedControllers are the controllers a task cgroup hands down to its containers,
// so runc can put the containers' own limits (cpu.weight, memory.max) on them.
var delegatedControllers = []string{"cpu", "memory", "pids"}

// controllers are the cgroup v2 controllers l's limits need.
func controllers(l Limits) []string {
	var c []string
	if (l.CPUQuota > 0 && l.Period > 0) || l.CPUShares > 0 {
		c = append(c, "cpu")
	}
	if l.MemoryBytes > 0 {
		c = append(c, "memory")
	}
	if l.PidsLimit > 0 {
		c = append(c, "pids")
	}
	return c
}

// delegate enables cpu, memory and pids in dir's cgroup.subtree_control, one at a time so
// that one the hierarchy lacks does not keep the others off. A controller a limit needs
// (needed) that dir does not have, or cannot enable, is an error naming the directory;
// one no limit needs is skipped, as containers can live without it.
func delegate(dir string, needed []string) error {
	avail, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("cgroup v2 %s: %w", dir, err)
	}
	enabled, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return fmt.Errorf("cgroup v2 %s: %w", dir, err)
	}
	for _, c := range delegatedControllers {
		if slices.Contains(strings.Fields(string(enabled)), c) {
			continue
		}
		if !slices.Contains(strings.Fields(string(avail)), c) {
			if slices.Contains(needed, c) {
				return fmt.Errorf("cgroup v2: the %s controller is not available in %s (cgroup.controllers: %q): %w",
					c, dir, strings.TrimSpace(string(avail)), ErrControllerUnavailable)
			}
			continue
		}
		if err := write(dir, "cgroup.subtree_control", "+"+c); err != nil && slices.Contains(needed, c) {
			return fmt.Errorf("cgroup v2: enable the %s controller: %w", c, err)
		}
	}
	return nil
}

// Remove deletes the task's cgroup; its containers must be gone. Absent is success.
func (m Manager) Remove(taskID string) error {
	var dirs []string
	if m.unified() {
		dirs = []string{filepath.Join(m.Mount, m.Path(taskID))}
	} else {
		matches, _ := filepath.Glob(filepath.Join(m.Mount, "*", m.Path(taskID)))
		dirs = matches
	}
	var errs []error
	for _, d := range dirs {
		// Container cgroups runc left behind (e.g. after a crash) go first.
		subs, _ := os.ReadDir(d)
		for _, s := range subs {
			if s.IsDir() {
				if err := os.Remove(filepath.Join(d, s.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, err)
				}
			}
		}
		if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func write(dir, file, value string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644); err != nil {
		return fmt.Errorf("write %s to %s: %w", value, filepath.Join(dir, file), err)
	}
	return nil
}

// inheritCpuset copies cpuset.cpus and cpuset.mems down from the hierarchy root to rel.
func inheritCpuset(mount, rel string) error {
	parent := mount
	for _, part := range splitPath(rel) {
		child := filepath.Join(parent, part)
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			cur, _ := os.ReadFile(filepath.Join(child, f))
			if len(cur) > 0 && string(cur) != "\n" {
				continue
			}
			v, err := os.ReadFile(filepath.Join(parent, f))
			if err != nil {
				return fmt.Errorf("cpuset: %w", err)
			}
			if err := write(child, f, string(v)); err != nil {
				return err
			}
		}
		parent = child
	}
	return nil
}

// splitPath returns the elements of a slash path: "/ecs/t1" → ["ecs", "t1"].
func splitPath(p string) []string {
	var parts []string
	for p != "/" && p != "." && p != "" {
		dir, file := filepath.Split(filepath.Clean(p))
		parts = append([]string{file}, parts...)
		p = dir
	}
	return parts
}
