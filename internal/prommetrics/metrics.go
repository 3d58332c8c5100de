// Package prommetrics is the agent's Prometheus metrics (ECS_ENABLE_PROMETHEUS_METRICS):
// collectors that read the agent's state when scraped, two histograms fed by the store's
// informers, and the /metrics handler.
//
// Almost nothing here is kept in step by hand. Task, container and image figures are
// counted from the store's cache at each scrape, the state-change backlog is derived
// from the objects as the report controller derives it (report.Backlog), the ACS and TCS
// figures are read from the sessions' trackers and the log figures from the data
// directory monitor's totals. Only the launch and pull histograms observe events, from
// the informers' view of status changes. Reconcile counts, errors and latencies are
// controller-runtime's own (its metrics.Registry, which the agent gathers beside this
// package's registry), not repeated here.
package prommetrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/controllers/datadir"
	"github.com/ecsd/ecsd/controlplane/wssession"
)

// namespace prefixes every metric of this package.
const namespace = "ecsd"

// listTimeout bounds the cache reads of one scrape; the cache is in memory, so only a
// wedged agent comes near it.
const listTimeout = 5 * time.Second

// Sources are what the collectors read.
type Sources struct {
	// Reader is the store's cache: tasks, containers and images are counted from it.
	Reader client.Reader
	// ACS and TCS are the sessions' trackers; nil leaves that session's metrics out.
	ACS, TCS *wssession.Tracker
	// LogTotals returns the container loggers' totals (datadir.Monitor.LogTotals); nil
	// leaves the log metrics out.
	LogTotals func() datadir.LogTotals
	// Version and GitHash label ecsd_build_info.
	Version, GitHash string
	// Clock dates ages and launches; nil is the real clock.
	Clock clock.PassiveClock
}

// Metrics are the agent's collectors, registered with the registry given to New.
type Metrics struct {
	clock  clock.PassiveClock
	launch prometheus.Histogram
	pull   prometheus.Histogram

	// launching holds when each task not yet RUNNING was first seen with nothing done
	// (the informers' view), by UID, for the launch histogram. Entries go when the task
	// runs, stops or is deleted, so it holds at most the tasks on the way up.
	mu        sync.Mutex
	launching map[types.UID]time.Time
}

// New makes the collectors and registers them with reg.
func New(reg prometheus.Registerer, s Sources) (*Metrics, error) {
	if s.Clock == nil {
		s.Clock = clock.RealClock{}
	}
	m := &Metrics{clock: s.Clock, launching: map[types.UID]time.Time{},
		launch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "task_launch_seconds",
			Help:    "Time from the agent first seeing a task (nothing done yet) to the task RUNNING.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}),
		pull: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "image_pull_seconds",
			Help:    "Time a container's image took to pull (or to be found, with a cached pull behavior), its last attempt.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}),
	}
	cs := []prometheus.Collector{
		m.launch, m.pull,
		&objectCollector{reader: s.Reader, clock: s.Clock},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "build_info", Help: "The agent's version; always 1.",
			ConstLabels: prometheus.Labels{"version": s.Version, "git_hash": s.GitHash},
		}, func() float64 { return 1 }),
	}
	if s.ACS != nil {
		cs = append(cs, newSessionCollector("acs", s.ACS))
	}
	if s.TCS != nil {
		cs = append(cs, newSessionCollector("tcs", s.TCS))
	}
	if s.LogTotals != nil {
		cs = append(cs, newLogCollector(s.LogTotals))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Watch feeds the launch and pull histograms from the cache's Task and Container
// informers. Call it before the cache starts, so that no change is missed.
func (m *Metrics) Watch(ctx context.Context, c cache.Cache) error {
	ti, err := c.GetInformer(ctx, &api.Task{})
	if err != nil {
		return err
	}
	if _, err := ti.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { m.taskSeen(nil, asTask(obj)) },
		UpdateFunc: func(old, obj any) { m.taskSeen(asTask(old), asTask(obj)) },
		DeleteFunc: func(obj any) { m.taskGone(obj) },
	}); err != nil {
		return err
	}
	ci, err := c.GetInformer(ctx, &api.Container{})
	if err != nil {
		return err
	}
	_, err = ci.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, obj any) { m.containerChanged(asContainer(old), asContainer(obj)) },
	})
	return err
}

func asTask(obj any) *api.Task {
	t, _ := obj.(*api.Task)
	return t
}

func asContainer(obj any) *api.Container {
	c, _ := obj.(*api.Container)
	return c
}

// taskSeen times a task from when it is first seen with nothing done (a new task, or one
// left in NONE by an earlier agent: timed from this agent's start) to RUNNING.
func (m *Metrics) taskSeen(old, t *api.Task) {
	if t == nil {
		return
	}
	now := m.clock.Now()
	known := t.Status.KnownStatus.OrNone()
	m.mu.Lock()
	defer m.mu.Unlock()
	start, timing := m.launching[t.UID]
	switch {
	case known == api.TaskStatusNone && t.DesiredStatus() == api.TaskStatusRunning:
		if !timing && old == nil { // an Add: the task's first sight
			m.launching[t.UID] = now
		}
	case known == api.TaskStatusRunning && timing:
		delete(m.launching, t.UID)
		m.launch.Observe(now.Sub(start).Seconds())
	case timing && (known.AtLeast(api.TaskStatusStopped) || t.DesiredStatus() == api.TaskStatusStopped):
		delete(m.launching, t.UID) // stopped before it ran: not a launch
	}
}

func (m *Metrics) taskGone(obj any) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if t := asTask(obj); t != nil {
		m.mu.Lock()
		delete(m.launching, t.UID)
		m.mu.Unlock()
	}
}

// containerChanged observes a pull when its result is recorded (PullStoppedAt set).
func (m *Metrics) containerChanged(old, c *api.Container) {
	if old == nil || c == nil || old.Status.PullStoppedAt != nil || c.Status.PullStoppedAt == nil || c.Status.PullStartedAt == nil {
		return
	}
	if d := c.Status.PullStoppedAt.Sub(c.Status.PullStartedAt.Time); d >= 0 {
		m.pull.Observe(d.Seconds())
	}
}
