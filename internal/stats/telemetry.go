package stats

import (
	"slices"
	"strings"
	"time"

	"github.com/ecsd/ecsd/runtime"
)

const (
	// maxWindow bounds how old a sample in an unpublished window may be. TCS drops data
	// older than five minutes, so while its session is down the windows restart rather
	// than grow into one aggregate over the whole outage.
	maxWindow = 5 * time.Minute
	// minSamples is how many CPU samples a container needs before TCS publishes it.
	minSamples  = 2
	bytesPerMiB = 1 << 20
)

// Set is a statistic set over the samples of one window: what TCS calls a CWStatsSet.
type Set struct {
	Min, Max, Sum float64
	Count         int64
}

// ContainerUsage is one container's window: CPU as a percentage of the whole instance
// (all CPUs), memory as whole MiB of working set (usage minus page cache).
type ContainerUsage struct {
	// Name is the container's name within its task.
	Name   string
	CPU    *Set
	Memory *Set
	// Restarts is how often the container restarted during the window; nil for a
	// container without a restart policy.
	Restarts *int64
}

// TaskUsage is the windows of one task's containers, sorted by container name.
type TaskUsage struct {
	Task       TaskRef
	Containers []ContainerUsage
}

// Flush returns, by task (sorted by ARN), the window of every container TCS reports on
// that has enough samples, and starts new windows for them; containers with fewer samples
// keep accumulating. idle reports that the last pass found no such container: the
// instance runs no task. Before the first pass there is nothing to report, idle or not.
//
// Flush is meant for one consumer (the TCS session): each window is handed over once.
func (s *Sampler) Flush() (tasks []TaskUsage, idle bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.telemetryRunning == 0 {
		return nil, s.sampled
	}
	byTask := map[string]*TaskUsage{}
	for _, tr := range s.containers {
		if !tr.win.open || tr.win.cpu.n < minSamples {
			continue
		}
		u := ContainerUsage{Name: tr.name, CPU: tr.win.cpu.set(), Memory: tr.win.mem.set()}
		if tr.restartPolicy {
			n := int64(max(tr.restartCount-tr.win.restartBase, 0))
			u.Restarts = &n
		}
		tr.win.restart(tr.restartCount)
		tu := byTask[tr.task.ARN]
		if tu == nil {
			tu = &TaskUsage{Task: tr.task}
			byTask[tr.task.ARN] = tu
		}
		tu.Containers = append(tu.Containers, u)
	}
	for _, tu := range byTask {
		slices.SortFunc(tu.Containers, func(a, b ContainerUsage) int { return strings.Compare(a.Name, b.Name) })
		tasks = append(tasks, *tu)
	}
	slices.SortFunc(tasks, func(a, b TaskUsage) int { return strings.Compare(a.Task.ARN, b.Task.ARN) })
	return tasks, false
}

// window accumulates one container's samples between two publishes. It has its own CPU
// base rather than the document's previous sample, so that a window opened while the
// container already ran starts from a reading taken inside it.
type window struct {
	// open is set while TCS reports on the container.
	open bool
	// base is the previous reading, the base of the next CPU sample.
	base    runtime.Stats
	hasBase bool
	cpu     accumulator
	mem     accumulator
	// since is when the first sample of the current sets was taken.
	since time.Time
	// restartBase is the restart count at the previous publish.
	restartBase int32
}

// start opens a window on a container that has restarted restartCount times so far.
func (w *window) start(restartCount int32) {
	*w = window{open: true, restartBase: restartCount}
}

// restart begins the next window after a publish; the CPU base carries over.
func (w *window) restart(restartCount int32) {
	w.restartBase = restartCount
	w.cpu.reset()
	w.mem.reset()
	w.since = time.Time{}
}

// add folds reading st, taken at now (the sampler's clock; st.Time is the runtime's), into
// the window.
func (w *window) add(st runtime.Stats, now time.Time, numCPU float64) {
	if !w.open {
		return
	}
	if !w.since.IsZero() && now.Sub(w.since) > maxWindow {
		w.cpu.reset()
		w.mem.reset()
		w.since = time.Time{}
	}
	if w.since.IsZero() {
		w.since = now
	}
	mem := st.MemoryUsage
	if st.MemoryCache < mem {
		mem -= st.MemoryCache
	}
	// Whole MiB, as the reference agent reports.
	w.mem.add(float64(mem / bytesPerMiB))
	if w.hasBase {
		wall := st.Time.Sub(w.base.Time)
		// A counter that went back means the container's task was replaced (restart
		// policy): the reading only becomes the new base.
		if wall > 0 && st.CPUUsageNanos >= w.base.CPUUsageNanos {
			cpu := float64(st.CPUUsageNanos-w.base.CPUUsageNanos) / numCPU
			w.cpu.add(100 * cpu / float64(wall.Nanoseconds()))
		}
	}
	w.base, w.hasBase = st, true
}

// accumulator folds samples into a statistic set without keeping them: a container costs
// a few words however long the window.
type accumulator struct {
	min, max, sum float64
	n             int64
}

func (a *accumulator) add(v float64) {
	if a.n == 0 || v < a.min {
		a.min = v
	}
	if a.n == 0 || v > a.max {
		a.max = v
	}
	a.sum += v
	a.n++
}

// set returns the statistic set, or nil when there is no sample.
func (a *accumulator) set() *Set {
	if a.n == 0 {
		return nil
	}
	return &Set{Min: a.min, Max: a.max, Sum: a.sum, Count: a.n}
}

func (a *accumulator) reset() { *a = accumulator{} }
