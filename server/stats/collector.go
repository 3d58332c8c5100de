package stats

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/runtime"
)

const (
	// DefaultInterval is the sampling period when Options.Interval is zero, i.e. when the
	// agent is not polling (ECS_POLL_METRICS=false). The reference agent then streams from
	// Docker, about one sample a second, but containerd cannot stream and every sample is a
	// shim RPC plus a namespace switch per container. 5 s is the shortest period the
	// reference agent allows when polling (ECS_POLLING_METRICS_WAIT_DURATION is clamped to
	// [5 s, 20 s]), so documents are never staler than under any polling setting, while the
	// cost stays a small fraction of what one-second sampling would be. It is also the TCS
	// collector's period, so both samplers load the runtime alike.
	DefaultInterval = 5 * time.Second
	// discoverEvery bounds how long a newly started container waits for its first sample:
	// the store is listed this often (a cheap cache read), and containers without a sample
	// are sampled at once rather than an Interval later.
	discoverEvery = time.Second
	// statsTimeout bounds one runtime call so that one stuck shim cannot stall sampling.
	statsTimeout = 10 * time.Second
)

// StatsSource reads a running container's cumulative usage; runtime.Runtime implements it.
type StatsSource interface {
	Stats(ctx context.Context, id string) (runtime.Stats, error)
}

// Options configures a Collector.
type Options struct {
	// Reader reads the agent's Task and Container objects (api.Namespace).
	Reader client.Reader
	// Runtime reads container cgroup usage.
	Runtime StatsSource
	// Interval is the sampling period per container; zero means DefaultInterval.
	Interval time.Duration
	// Now is the clock for scheduling and network timestamps; default time.Now.
	Now    func() time.Time
	Logger logr.Logger
}

// Collector samples every running container each Interval and keeps its latest Docker
// stats document for the task metadata endpoint.
type Collector struct {
	reader        client.Reader
	rt            StatsSource
	interval      time.Duration
	poll          time.Duration
	now           func() time.Time
	log           logr.Logger
	machineMemory uint64
	// hostCPU and readNet read the host; tests replace them.
	hostCPU func() (nanos uint64, online uint32, err error)
	readNet func(path string) (map[string]NetworkStats, error)

	mu sync.RWMutex
	// containers is the state of every running container, by runtime ID.
	containers map[string]*tracked
	// taskNets follows the byte totals of awsvpc task namespaces, by task object name.
	taskNets map[string]*netRate
}

// tracked is the sampling state of one container.
type tracked struct {
	// sampledAt is when it was last sampled, by the Collector's clock.
	sampledAt time.Time
	// last is the previous sample, the source of the next document's precpu_stats.
	last Sample
	net  netRate
	doc  Stats
	rate *NetworkRateStats
}

// New returns a Collector; Run does the sampling.
func New(o Options) *Collector {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Collector{
		reader: o.Reader, rt: o.Runtime, interval: o.Interval, poll: min(o.Interval, discoverEvery),
		now: o.Now, log: o.Logger, machineMemory: machineMemory(),
		hostCPU: systemCPU, readNet: ReadNetworkStats,
		containers: map[string]*tracked{}, taskNets: map[string]*netRate{},
	}
}

// Run samples until ctx ends: at once, then every poll period it samples the containers
// that are new or whose last sample is an Interval old, and forgets those no longer running.
func (c *Collector) Run(ctx context.Context) {
	t := time.NewTicker(c.poll)
	defer t.Stop()
	for {
		if err := c.sample(ctx); err != nil && ctx.Err() == nil {
			c.log.V(1).Info("cannot sample container stats", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ContainerStats returns the latest document of the container with runtime ID runtimeID:
// a Stats, or a StatsV4 (with network_rate_stats) if v4. ok is false before its first
// sample and after it stopped.
func (c *Collector) ContainerStats(runtimeID string, v4 bool) (doc any, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	tr := c.containers[runtimeID]
	if tr == nil {
		return nil, false
	}
	if !v4 {
		return tr.doc, true
	}
	d := StatsV4{Stats: tr.doc}
	if tr.rate != nil {
		r := *tr.rate
		d.NetworkRateStats = &r
	}
	return d, true
}

// reading is what one pass read for one due container.
type reading struct {
	target
	stats runtime.Stats
	nets  map[string]NetworkStats
	netOK bool
}

// sample does one pass: it lists running containers, reads the due ones without holding
// the lock, then applies all readings and forgets containers that are gone.
func (c *Collector) sample(ctx context.Context) error {
	if c.rt == nil || c.reader == nil {
		return errors.New("stats collector: no runtime or reader")
	}
	targets, err := runningTargets(ctx, c.reader)
	if err != nil {
		return err
	}
	now := c.now()
	due := c.due(targets, now)
	var readings []reading
	var sysNanos uint64
	var online uint32
	if len(due) > 0 {
		if sysNanos, online, err = c.hostCPU(); err != nil {
			c.log.V(1).Info("cannot read host CPU time", "error", err.Error())
		}
		if readings, err = c.read(ctx, due); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forget(targets)
	for _, r := range readings {
		c.apply(r, Sample{Runtime: r.stats, SystemCPUNanos: sysNanos, OnlineCPUs: online}, now)
	}
	return nil
}

// due picks the targets that have no sample yet or whose last one is an Interval old. Half
// a poll period of slack keeps ticker jitter from pushing a sample a whole period late.
func (c *Collector) due(targets []target, now time.Time) []target {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []target
	for _, tg := range targets {
		tr := c.containers[tg.runtimeID]
		if tr == nil || now.Sub(tr.sampledAt) >= c.interval-c.poll/2 {
			out = append(out, tg)
		}
	}
	return out
}

// read takes the runtime and network readings of the due targets. A namespace shared by
// several due containers (an awsvpc task) is read once, so they all report the same values.
func (c *Collector) read(ctx context.Context, due []target) ([]reading, error) {
	type netResult struct {
		nets map[string]NetworkStats
		ok   bool
	}
	nets := map[string]netResult{}
	out := make([]reading, 0, len(due))
	for _, tg := range due {
		sctx, cancel := context.WithTimeout(ctx, statsTimeout)
		s, err := c.rt.Stats(sctx, tg.runtimeID)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// A container that just stopped is ErrNotFound and not worth a line.
			if !errors.Is(err, runtime.ErrNotFound) {
				c.log.V(1).Info("cannot read container stats", "container", tg.runtimeID, "error", err.Error())
			}
			continue
		}
		r := reading{target: tg, stats: s}
		if tg.netNS != "" {
			res, seen := nets[tg.netNS]
			if !seen {
				n, err := c.readNet(tg.netNS)
				if err != nil {
					c.log.V(1).Info("cannot read network stats", "container", tg.runtimeID, "error", err.Error())
				}
				res = netResult{nets: n, ok: err == nil}
				nets[tg.netNS] = res
			}
			r.nets, r.netOK = res.nets, res.ok
		}
		out = append(out, r)
	}
	return out, nil
}

// forget drops the state of containers and awsvpc tasks no longer running. c.mu is held.
func (c *Collector) forget(targets []target) {
	ids := make(map[string]bool, len(targets))
	tasks := map[string]bool{}
	for _, tg := range targets {
		ids[tg.runtimeID] = true
		if tg.task != "" {
			tasks[tg.task] = true
		}
	}
	for id := range c.containers {
		if !ids[id] {
			delete(c.containers, id)
		}
	}
	for name := range c.taskNets {
		if !tasks[name] {
			delete(c.taskNets, name)
		}
	}
}

// apply turns one reading into the container's new document. c.mu is held.
func (c *Collector) apply(r reading, s Sample, now time.Time) {
	tr := c.containers[r.runtimeID]
	first := tr == nil
	if first {
		tr = &tracked{}
		c.containers[r.runtimeID] = tr
	}
	if s.Runtime.Time.IsZero() {
		s.Runtime.Time = now
	}
	var rate *NetworkRateStats
	if r.netOK {
		s.Networks = r.nets
		if r.task != "" {
			s.Networks = shareNetworks(r.nets, r.shares)
		}
		rate = c.networkRate(r.task, tr, readingOf(s.Networks, now))
	}
	var prev *Sample
	if !first {
		prev = &tr.last
	}
	tr.doc = Convert(r.runtimeID, s, prev, c.machineMemory)
	// Host networking has no networks key, and then no rate either.
	if tr.doc.Networks == nil {
		rate = nil
	}
	tr.rate = rate
	tr.last = s
	tr.sampledAt = now
}

// networkRate advances the byte-rate state a reading belongs to and returns its rate: the
// container's own for a bridge namespace, task's for an awsvpc one. c.mu is held.
func (c *Collector) networkRate(task string, tr *tracked, nr netReading) *NetworkRateStats {
	if task == "" {
		tr.net.add(nr)
		return tr.net.rate
	}
	n := c.taskNets[task]
	if n == nil {
		n = &netRate{}
		c.taskNets[task] = n
	}
	// Several containers of the task sampled in one pass bring the same reading; the
	// first one advances the rate and the others see the same timestamp, which keeps it.
	n.add(nr)
	return n.rate
}
