package stats

import (
	"context"
	"errors"
	goruntime "runtime"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
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
	// cost stays a small fraction of what one-second sampling would be. It also gives TCS
	// four samples per 20 s publish, so every published container has the two it needs.
	DefaultInterval = 5 * time.Second
	// DefaultConcurrency is how many runtime reads one pass has in flight at most: enough
	// that one slow shim does not hold up the others, few enough that a host with hundreds
	// of containers does not get hundreds of RPCs at once every interval.
	DefaultConcurrency = 4
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

// Options configures a Sampler.
type Options struct {
	// Reader reads the agent's Task and Container objects (api.Namespace); the agent passes
	// its cache-backed client.
	Reader client.Reader
	// Runtime reads container cgroup usage.
	Runtime StatsSource
	// Interval is the sampling period per container; zero means DefaultInterval.
	Interval time.Duration
	// Concurrency bounds the runtime reads in flight; zero means DefaultConcurrency.
	Concurrency int
	// NumCPU is the instance's CPU count TCS's CPU percentage is relative to; zero means
	// runtime.NumCPU().
	NumCPU int
	// Clock schedules passes and stamps samples; default the real clock.
	Clock  clock.WithTicker
	Logger logr.Logger
}

// Sampler samples every running container once per Interval and keeps what its views need.
type Sampler struct {
	reader        client.Reader
	rt            StatsSource
	interval      time.Duration
	poll          time.Duration
	concurrency   int
	numCPU        float64
	clock         clock.WithTicker
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
	// sampled is set by the first complete pass: before it, no telemetry container means
	// "not looked yet", not "idle".
	sampled bool
	// telemetryRunning is how many containers TCS reports on the last pass listed.
	telemetryRunning int
}

// tracked is the sampling state of one container.
type tracked struct {
	target
	// sampledAt is when it was last sampled, by the Sampler's clock.
	sampledAt time.Time
	// last is the previous sample, the source of the next document's precpu_stats.
	last Sample
	net  netRate
	doc  Stats
	rate *NetworkRateStats
	// win is the TCS publish window.
	win window
}

// New returns a Sampler; Run does the sampling.
func New(o Options) (*Sampler, error) {
	if o.Reader == nil || o.Runtime == nil {
		return nil, errors.New("stats sampler: no reader or no runtime")
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.NumCPU <= 0 {
		o.NumCPU = goruntime.NumCPU()
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return &Sampler{
		reader: o.Reader, rt: o.Runtime, interval: o.Interval, poll: min(o.Interval, discoverEvery),
		concurrency: o.Concurrency, numCPU: float64(o.NumCPU), clock: o.Clock, log: o.Logger,
		machineMemory: machineMemory(), hostCPU: systemCPU, readNet: ReadNetworkStats,
		containers: map[string]*tracked{}, taskNets: map[string]*netRate{},
	}, nil
}

// Run samples until ctx ends: at once, then every poll period it samples the containers
// that are new or whose last sample is an Interval old, and forgets those no longer running.
func (s *Sampler) Run(ctx context.Context) {
	t := s.clock.NewTicker(s.poll)
	defer t.Stop()
	for {
		if err := s.Sample(ctx); err != nil && ctx.Err() == nil {
			s.log.V(1).Info("cannot sample container stats", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// reading is what one pass read for one due container.
type reading struct {
	target
	stats runtime.Stats
	ok    bool
	nets  map[string]NetworkStats
	netOK bool
}

// Sample does one pass: it lists running containers, reads the due ones without holding
// the lock, then applies all readings together, so that a view sees whole passes, and
// forgets containers that are gone.
func (s *Sampler) Sample(ctx context.Context) error {
	l, err := list(ctx, s.reader)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	due := s.due(l.targets, now)
	var readings []reading
	var sysNanos uint64
	var online uint32
	if len(due) > 0 {
		if sysNanos, online, err = s.hostCPU(); err != nil {
			s.log.V(1).Info("cannot read host CPU time", "error", err.Error())
		}
		if readings, err = s.read(ctx, due); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget(l.targets)
	for _, r := range readings {
		if r.ok {
			s.apply(r, Sample{Runtime: r.stats, SystemCPUNanos: sysNanos, OnlineCPUs: online}, now)
		}
	}
	s.telemetryRunning = 0
	for _, tg := range l.targets {
		if tr := s.containers[tg.runtimeID]; tr != nil {
			tr.setTarget(tg)
		}
		if tg.telemetry {
			s.telemetryRunning++
		}
	}
	s.sampled = true
	return nil
}

// due picks the targets that have no sample yet or whose last one is an Interval old. Half
// a poll period of slack keeps ticker jitter from pushing a sample a whole period late.
func (s *Sampler) due(targets []target, now time.Time) []target {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []target
	for _, tg := range targets {
		tr := s.containers[tg.runtimeID]
		if tr == nil || now.Sub(tr.sampledAt) >= s.interval-s.poll/2 {
			out = append(out, tg)
		}
	}
	return out
}

// read takes the runtime and network readings of the due targets, at most Concurrency at a
// time. A namespace shared by several containers (an awsvpc task) is read once, so they
// all report the same values; a container whose runtime read failed is not read further.
func (s *Sampler) read(ctx context.Context, due []target) ([]reading, error) {
	out := make([]reading, len(due))
	s.forEach(ctx, len(due), func(i int) {
		tg := due[i]
		out[i] = reading{target: tg}
		sctx, cancel := context.WithTimeout(ctx, statsTimeout)
		st, err := s.rt.Stats(sctx, tg.runtimeID)
		cancel()
		if err != nil {
			// A container that just stopped is ErrNotFound and not worth a line.
			if ctx.Err() == nil && !errors.Is(err, runtime.ErrNotFound) {
				s.log.V(1).Info("cannot read container stats", "container", tg.runtimeID, "error", err.Error())
			}
			return
		}
		out[i].stats, out[i].ok = st, true
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var paths []string
	seen := map[string]bool{}
	for _, r := range out {
		if r.ok && r.netNS != "" && !seen[r.netNS] {
			seen[r.netNS] = true
			paths = append(paths, r.netNS)
		}
	}
	type netResult struct {
		nets map[string]NetworkStats
		ok   bool
	}
	results := make([]netResult, len(paths))
	s.forEach(ctx, len(paths), func(i int) {
		n, err := s.readNet(paths[i])
		if err != nil {
			s.log.V(1).Info("cannot read network stats", "netns", paths[i], "error", err.Error())
		}
		results[i] = netResult{nets: n, ok: err == nil}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	byPath := make(map[string]netResult, len(paths))
	for i, p := range paths {
		byPath[p] = results[i]
	}
	for i := range out {
		if res, ok := byPath[out[i].netNS]; ok && out[i].ok {
			out[i].nets, out[i].netOK = res.nets, res.ok
		}
	}
	return out, nil
}

// forEach calls fn(0..n-1) with at most Concurrency calls running, and returns when all
// that started have returned; once ctx ends no more start.
func (s *Sampler) forEach(ctx context.Context, n int, fn func(i int)) {
	sem := make(chan struct{}, s.concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
}

// forget drops the state of containers and awsvpc tasks no longer running. s.mu is held.
func (s *Sampler) forget(targets []target) {
	ids := make(map[string]bool, len(targets))
	tasks := map[string]bool{}
	for _, tg := range targets {
		ids[tg.runtimeID] = true
		if tg.awsvpcTask != "" {
			tasks[tg.awsvpcTask] = true
		}
	}
	for id := range s.containers {
		if !ids[id] {
			delete(s.containers, id)
		}
	}
	for name := range s.taskNets {
		if !tasks[name] {
			delete(s.taskNets, name)
		}
	}
}

// apply turns one reading into the container's new document and adds it to its publish
// window. s.mu is held.
func (s *Sampler) apply(r reading, smp Sample, now time.Time) {
	tr := s.containers[r.runtimeID]
	first := tr == nil
	if first {
		tr = &tracked{}
		s.containers[r.runtimeID] = tr
	}
	tr.setTarget(r.target)
	if smp.Runtime.Time.IsZero() {
		smp.Runtime.Time = now
	}
	var rate *NetworkRateStats
	if r.netOK {
		smp.Networks = r.nets
		if r.awsvpcTask != "" {
			smp.Networks = shareNetworks(r.nets, r.shares)
		}
		rate = s.networkRate(r.awsvpcTask, tr, readingOf(smp.Networks, now))
	}
	var prev *Sample
	if !first {
		prev = &tr.last
	}
	tr.doc = Convert(r.runtimeID, smp, prev, s.machineMemory)
	// Host networking has no networks key, and then no rate either.
	if tr.doc.Networks == nil {
		rate = nil
	}
	tr.rate = rate
	tr.last = smp
	tr.sampledAt = now
	tr.win.add(smp.Runtime, now, s.numCPU)
}

// setTarget refreshes what the store says about the container, and opens or closes its
// publish window as it starts or stops being one TCS reports on.
func (tr *tracked) setTarget(tg target) {
	tr.target = tg
	switch {
	case tg.telemetry && !tr.win.open:
		tr.win.start(tg.restartCount)
	case !tg.telemetry && tr.win.open:
		tr.win = window{}
	}
}

// networkRate advances the byte-rate state a reading belongs to and returns its rate: the
// container's own for a bridge namespace, the task's for an awsvpc one. s.mu is held.
func (s *Sampler) networkRate(task string, tr *tracked, nr netReading) *NetworkRateStats {
	if task == "" {
		tr.net.add(nr)
		return tr.net.rate
	}
	n := s.taskNets[task]
	if n == nil {
		n = &netRate{}
		s.taskNets[task] = n
	}
	// Several containers of the task sampled in one pass bring the same reading; the
	// first one advances the rate and the others see the same timestamp, which keeps it.
	n.add(nr)
	return n.rate
}
