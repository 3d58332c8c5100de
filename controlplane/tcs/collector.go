package tcs

import (
	"context"
	"errors"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/runtime"
)

const (
	// DefaultSampleInterval is how often container usage is sampled: four samples per
	// 20 s publish, so every published container has the two samples TCS needs.
	DefaultSampleInterval = 5 * time.Second
	// maxWindow bounds how old a sample in an unpublished statistic set may be. TCS drops
	// data older than five minutes, so while the session is down the sets restart rather
	// than grow into one aggregate over the whole outage.
	maxWindow = 5 * time.Minute
	// minSamples is how many CPU samples a container needs before it is published (spec §4).
	minSamples = 2
	// statsTimeout bounds one Stats call so that one stuck shim cannot stall sampling.
	statsTimeout = 10 * time.Second
	bytesPerMiB  = 1 << 20
)

// StatsSource reads a running container's cumulative usage. runtime.Runtime implements it.
type StatsSource interface {
	Stats(ctx context.Context, runtimeID string) (runtime.Stats, error)
}

// CollectorOptions configures a Collector.
type CollectorOptions struct {
	// Reader reads Task and Container objects; the agent passes its cache-backed client.
	Reader client.Reader
	// Stats reads container usage; required for metrics (Health works without it).
	Stats StatsSource
	// NumCPU is the instance's CPU count the CPU percentage is relative to; default
	// runtime.NumCPU().
	NumCPU int
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger logr.Logger
}

// Collector samples every running task container and accumulates, per container, the
// statistic sets of the samples taken since the last Flush.
type Collector struct {
	reader client.Reader
	stats  StatsSource
	numCPU float64
	now    func() time.Time
	log    logr.Logger

	mu sync.Mutex
	// containers holds the containers running at the last sample, by object name.
	containers map[string]*tracked
	// sampled is set by the first complete Sample: before it, an empty containers map
	// means "not looked yet", not "idle".
	sampled bool
}

// tracked is the sampling state of one container.
type tracked struct {
	target
	// last is the previous raw reading, the base of the next CPU sample.
	last    runtime.Stats
	hasLast bool
	cpu     accumulator
	mem     accumulator
	// since is when the first sample of the current sets was taken.
	since time.Time
	// restartBase is the restart count at the previous publish.
	restartBase int32
}

// NewCollector returns a Collector; Run samples periodically, Sample once.
func NewCollector(o CollectorOptions) (*Collector, error) {
	if o.Reader == nil {
		return nil, errors.New("tcs collector: no reader")
	}
	if o.NumCPU <= 0 {
		o.NumCPU = goruntime.NumCPU()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Collector{reader: o.Reader, stats: o.Stats, numCPU: float64(o.NumCPU), now: o.Now,
		log: o.Logger, containers: map[string]*tracked{}}, nil
}

// Run samples every interval (DefaultSampleInterval if zero), starting at once, until
// ctx ends.
func (c *Collector) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultSampleInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := c.Sample(ctx); err != nil && ctx.Err() == nil {
			c.log.V(1).Info("cannot sample container usage", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reading is one Stats result.
type reading struct {
	target
	stats runtime.Stats
	ok    bool
}

// Sample reads the usage of every running container once and adds it to the sets.
// Containers no longer running are forgotten. The runtime is called without the lock
// held, and all readings are applied together, so a Flush sees whole sampling rounds.
func (c *Collector) Sample(ctx context.Context) error {
	if c.stats == nil {
		return errors.New("tcs collector: no stats source")
	}
	running, err := runningContainers(ctx, c.reader)
	if err != nil {
		return err
	}
	readings := make([]reading, 0, len(running))
	for _, tg := range running {
		sctx, cancel := context.WithTimeout(ctx, statsTimeout)
		s, err := c.stats.Stats(sctx, tg.runtimeID)
		cancel()
		r := reading{target: tg, stats: s, ok: err == nil}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !errors.Is(err, runtime.ErrNotFound) {
				// A container that just stopped is ErrNotFound and not worth a line.
				c.log.V(1).Info("cannot read container stats", "container", tg.key, "error", err.Error())
			}
		}
		readings = append(readings, r)
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[string]bool, len(readings))
	for _, r := range readings {
		seen[r.key] = true
		c.apply(r, now)
	}
	for k := range c.containers {
		if !seen[k] {
			delete(c.containers, k)
		}
	}
	c.sampled = true
	return nil
}

// apply adds one reading to its container's sets. c.mu is held.
func (c *Collector) apply(r reading, now time.Time) {
	tr := c.containers[r.key]
	if tr == nil || tr.runtimeID != r.runtimeID {
		tr = &tracked{target: r.target, restartBase: r.restartCount}
		c.containers[r.key] = tr
	}
	tr.target = r.target
	if !r.ok {
		return
	}
	if !tr.since.IsZero() && now.Sub(tr.since) > maxWindow {
		tr.cpu.reset()
		tr.mem.reset()
		tr.since = time.Time{}
	}
	s := r.stats
	if s.Time.IsZero() {
		s.Time = now
	}
	if tr.since.IsZero() {
		tr.since = now
	}
	mem := s.MemoryUsage
	if s.MemoryCache < mem {
		mem -= s.MemoryCache
	}
	// Whole MiB, as the reference agent reports.
	tr.mem.add(float64(mem / bytesPerMiB))
	if tr.hasLast {
		wall := s.Time.Sub(tr.last.Time)
		// A counter that went back means the container's task was replaced (restart
		// policy): the reading only becomes the new base.
		if wall > 0 && s.CPUUsageNanos >= tr.last.CPUUsageNanos {
			cpu := float64(s.CPUUsageNanos-tr.last.CPUUsageNanos) / c.numCPU
			tr.cpu.add(100 * cpu / float64(wall.Nanoseconds()))
		}
	}
	tr.last, tr.hasLast = s, true
}

// Flush returns the statistics of every container with enough samples, grouped by task,
// and starts new sets for them; containers with fewer samples keep accumulating. idle
// reports that no container was running at the last sample: the instance runs no task.
// Before the first sample there is nothing to report, idle or not.
func (c *Collector) Flush() (tasks []TaskMetric, idle bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.containers) == 0 {
		return nil, c.sampled
	}
	byTask := map[string]*TaskMetric{}
	for _, tr := range c.containers {
		if tr.cpu.n < minSamples {
			continue
		}
		m := ContainerMetric{ContainerName: tr.name, CPUStatsSet: tr.cpu.set(), MemoryStatsSet: tr.mem.set()}
		if tr.restartPolicy {
			m.RestartStatsSet = &RestartStatsSet{RestartCount: int64(max(tr.restartCount-tr.restartBase, 0))}
		}
		tr.restartBase = tr.restartCount
		tr.cpu.reset()
		tr.mem.reset()
		tr.since = time.Time{}
		tm := byTask[tr.task.arn]
		if tm == nil {
			tm = &TaskMetric{TaskArn: tr.task.arn, TaskDefinitionFamily: tr.task.family, TaskDefinitionVersion: tr.task.version}
			byTask[tr.task.arn] = tm
		}
		tm.ContainerMetrics = append(tm.ContainerMetrics, m)
	}
	for _, tm := range byTask {
		slices.SortFunc(tm.ContainerMetrics, func(a, b ContainerMetric) int { return strings.Compare(a.ContainerName, b.ContainerName) })
		tasks = append(tasks, *tm)
	}
	slices.SortFunc(tasks, func(a, b TaskMetric) int { return strings.Compare(a.TaskArn, b.TaskArn) })
	return tasks, false
}

// Tracked returns how many running containers the last sample saw.
func (c *Collector) Tracked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.containers)
}
