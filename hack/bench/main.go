// Command bench measures, in one run on one machine, raw containerd create+start against
// ecsd's task launch latency (desired RUNNING written → RUNNING observed), the agent's
// memory and task metadata v4 throughput (tmds.go), and ends with a short soak (soak.go,
// which -soak runs alone for make soak). Its last line is `launch-ratio-p50 <number>`
// (target ≤ 1.25).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime/containerd"
)

func main() {
	n := flag.Int("n", 20, "containers/tasks per measurement")
	address := flag.String("address", "/run/ecsd/containerd/containerd.sock", "containerd socket")
	image := flag.String("image", "127.0.0.1:5000/ecsd/busybox:latest", "image to run")
	agent := flag.String("agent", "bin/ecs-agent", "agent binary for the memory measurement")
	flag.BoolVar(&memOnly, "memory-only", false, "measure only the agent's memory (no launch latency, no ratio line)")
	flag.BoolVar(&showSmaps, "smaps", false, "also print where the agent's resident memory is, per mapping kind (from /proc/<pid>/smaps)")
	flag.Var(&agentEnv, "agent-env", "extra KEY=VALUE for the agent's environment (repeatable), e.g. GOGC=50")
	flag.DurationVar(&settle, "settle", 20*time.Second, "how long the agent runs with all tasks up before its memory is sampled (start-up ends with the first relist, 10s, and the idle trim 5s later)")
	flag.DurationVar(&window, "window", 20*time.Second, "how long the agent's memory is sampled (4/s) once settled; the RSS reported is the mean")
	flag.IntVar(&cpRounds, "cp-rounds", 10, "control-plane measurements: fresh agents registered, one-task payloads (and half as many ten-task payloads)")
	flag.BoolVar(&cpOnly, "cp-only", false, "measure only the control-plane latencies")
	flag.BoolVar(&launchOnly, "launch-only", false, "measure only raw containerd against the engine's launch (ends with the ratio line)")
	flag.Parse()
	if err := run(*n, *address, *image, *agent); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var (
	memOnly    bool
	showSmaps  bool
	agentEnv   envFlags
	settle     time.Duration
	window     time.Duration
	cpRounds   int
	cpOnly     bool
	launchOnly bool
)

type envFlags []string

func (e *envFlags) String() string { return strings.Join(*e, " ") }
func (e *envFlags) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("%q is not KEY=VALUE", v)
	}
	*e = append(*e, v)
	return nil
}

func run(n int, address, image, agent string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1e9)
	if *tmdsOnly {
		var tm tmdsResult
		if err := phase("task metadata throughput", func() (err error) {
			tm, err = tmdsBench(ctx, *tmdsTasks, *tmdsClients, *tmdsDuration)
			return err
		}); err != nil {
			return fmt.Errorf("task metadata: %w", err)
		}
		printTMDS(tm)
		return nil
	}
	if *soakOnly {
		r, err := soak(ctx, agent, address, suffix, *soakTasks)
		if err != nil {
			return fmt.Errorf("soak: %w", err)
		}
		printSoak(r)
		if len(r.failures) > 0 {
			return fmt.Errorf("soak: %d figures grew: %s", len(r.failures), strings.Join(r.failures, "; "))
		}
		fmt.Printf("soak passed: %d tasks in %s; live heap %s → %s, rss %.1f → %.1f MiB, goroutines %d → %d, checkpoint %s → %s, all cleaned up\n",
			r.end.tasks, r.took.Round(time.Second), size(r.start.heap), size(r.end.heap), float64(r.start.rssKiB)/1024,
			float64(r.end.rssKiB)/1024, r.start.goroutines, r.end.goroutines, size(r.start.checkpoint), size(r.end.checkpoint))
		return nil
	}
	if *awslogsOnly {
		var r awslogsReport
		if err := phase("awslogs", func() (err error) {
			r, err = awslogsBench(ctx, agent, address, image, "bench-awslogs-"+suffix, *awslogsLines)
			return err
		}); err != nil {
			return fmt.Errorf("awslogs: %w", err)
		}
		printAWSLogs(r)
		return nil
	}
	if cpOnly {
		var cp cpResult
		if err := phase("control plane", func() (err error) {
			cp, err = controlPlaneBench(ctx, agent, address, image, "bench-cp-"+suffix, cpRounds)
			return err
		}); err != nil {
			return fmt.Errorf("control plane: %w", err)
		}
		printControlPlane(cp)
		return nil
	}
	if memOnly {
		var mem memReport
		if err := phase("agent memory", func() (err error) {
			mem, err = agentMemory(ctx, agent, address, image, "bench-rss-"+suffix, n)
			return err
		}); err != nil {
			return fmt.Errorf("agent memory: %w", err)
		}
		printMemory(mem, n)
		return nil
	}

	// The engine logs through the ecsd-logger `make build` put next to the agent.
	loggerPath, err := filepath.Abs(filepath.Join(filepath.Dir(agent), "ecsd-logger"))
	if err != nil {
		return err
	}
	if _, err := os.Stat(loggerPath); err != nil {
		return fmt.Errorf("ecsd-logger next to the agent: %w", err)
	}
	var raw, rawSeccomp, launch []time.Duration
	if err := phase(fmt.Sprintf("launch latency (%d rounds)", n), func() (err error) {
		raw, rawSeccomp, launch, err = launchRounds(ctx, address, image, suffix, loggerPath, n)
		return err
	}); err != nil {
		return err
	}
	if launchOnly {
		printLaunch(n, raw, rawSeccomp, launch)
		fmt.Printf("launch-ratio-p50 %.2f\n", float64(pct(launch, 50))/float64(pct(raw, 50)))
		return nil
	}
	var cp cpResult
	if err := phase("control plane", func() (err error) {
		cp, err = controlPlaneBench(ctx, agent, address, image, "bench-cp-"+suffix, cpRounds)
		return err
	}); err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	var mem memReport
	if err := phase("agent memory", func() (err error) {
		mem, err = agentMemory(ctx, agent, address, image, "bench-rss-"+suffix, n)
		return err
	}); err != nil {
		return fmt.Errorf("agent memory: %w", err)
	}
	var tm tmdsResult
	if err := phase("task metadata throughput", func() (err error) {
		tm, err = tmdsBench(ctx, *tmdsTasks, *tmdsClients, *tmdsDuration)
		return err
	}); err != nil {
		return fmt.Errorf("task metadata: %w", err)
	}
	var aw awslogsReport
	if err := phase("awslogs", func() (err error) {
		aw, err = awslogsBench(ctx, agent, address, image, "bench-awslogs-"+suffix, *awslogsLines)
		return err
	}); err != nil {
		return fmt.Errorf("awslogs: %w", err)
	}
	var sk soakResult
	if *benchSoak > 0 {
		if sk, err = soak(ctx, agent, address, suffix, *benchSoak); err != nil {
			return fmt.Errorf("soak: %w", err)
		}
	}
	printLaunch(n, raw, rawSeccomp, launch)
	printControlPlane(cp)
	printMemory(mem, n)
	printTMDS(tm)
	printAWSLogs(aw)
	if *benchSoak > 0 {
		printSoak(sk)
	}
	fmt.Printf("launch-ratio-p50 %.2f\n", float64(pct(launch, 50))/float64(pct(raw, 50)))
	return nil
}

func printLaunch(n int, raw, rawSeccomp, launch []time.Duration) {
	fmt.Printf("containers/tasks: %d (sequential; raw, raw with seccomp and engine launches interleaved)\n", n)
	fmt.Printf("raw-create-start-p50-ms %.1f\n", ms(pct(raw, 50)))
	fmt.Printf("raw-create-start-p99-ms %.1f\n", ms(pct(raw, 99)))
	fmt.Printf("raw-create-start-seccomp-p50-ms %.1f\n", ms(pct(rawSeccomp, 50)))
	fmt.Printf("raw-create-start-seccomp-p99-ms %.1f\n", ms(pct(rawSeccomp, 99)))
	fmt.Printf("launch-p50-ms %.1f\n", ms(pct(launch, 50)))
	fmt.Printf("launch-p99-ms %.1f\n", ms(pct(launch, 99)))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func pct(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i]
}

// phases is the time from the task write to pull start, the pull, then create, start and
// the task's RUNNING, as recorded in the container's status.
type phases [5]time.Duration

func waitRunning(ctx context.Context, w watch.Interface, id string) error {
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("watch closed")
			}
			t, isTask := ev.Object.(*api.Task)
			if !isTask || t.Name != id {
				continue
			}
			if t.Status.KnownStatus == api.TaskStatusRunning {
				return nil
			}
			if t.Status.KnownStatus == api.TaskStatusStopped {
				return fmt.Errorf("task %s stopped: %s", id, t.Status.StoppedReason)
			}
		case <-timeout:
			return fmt.Errorf("task %s: not RUNNING after 2m", id)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func taskObjects(id, image string) (*api.Task, *api.Container) {
	t := &api.Task{
		ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: id},
		Spec: api.TaskSpec{ARN: "arn:aws:ecs:local:000000000000:task/bench/" + id, Family: "bench", Version: "1",
			DesiredStatus: api.TaskStatusRunning, NetworkMode: "host", Containers: []string{"app"}},
	}
	c := &api.Container{
		ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: api.ContainerName(id, "app"),
			Labels: map[string]string{api.LabelTaskName: id}},
		Spec: api.ContainerSpec{TaskName: id, Name: "app", Image: image, Essential: true, Command: []string{"sleep", "3600"}},
	}
	return t, c
}

// memReport is the agent's memory with all tasks running, in KiB, from /proc/<pid>/status:
// VmRSS = RssAnon (heap, stacks, the binary's bss) + RssFile (the binary's text and data
// pages, shared libraries) + RssShmem. RSS, Anon, File and Shmem are means over the sampling
// window (the agent trims start-up pages once idle, and the relist every 10s touches some
// again, so a single sample depends on when it is taken); Max is the largest RSS sampled and
// Peak the high-water mark (VmHWM), start-up included.
type memReport struct {
	RSS, Anon, File, Shmem uint64
	Max, Peak              uint64
	Samples                int
	Smaps                  []smapsKind // with -smaps, at the end of the window
}

func printMemory(m memReport, n int) {
	fmt.Printf("agent-rss-mb %.1f (with %d tasks running; mean of %d samples over %s)\n", kib(m.RSS), n, m.Samples, window)
	fmt.Printf("agent-rssanon-mb %.1f\n", kib(m.Anon))
	fmt.Printf("agent-rssfile-mb %.1f\n", kib(m.File))
	if m.Shmem != 0 {
		fmt.Printf("agent-rssshmem-mb %.1f\n", kib(m.Shmem))
	}
	fmt.Printf("agent-rss-max-mb %.1f\n", kib(m.Max))
	fmt.Printf("agent-rss-peak-mb %.1f (VmHWM, start-up included)\n", kib(m.Peak))
	for _, k := range m.Smaps {
		fmt.Printf("agent-smaps %-22s rss-mb %6.1f  anon-mb %6.1f  size-mb %7.1f  mappings %d\n",
			k.Kind, kib(k.RSS), kib(k.Anon), kib(k.Size), k.Count)
	}
}

func kib(v uint64) float64 { return float64(v) / 1024 }

// agentMemory starts the real agent binary registered with a local control plane in this
// process (the production shape: ACS, TCS and state reporting all running), runs n tasks
// through RunTask, waits until all n containers run, and reads the agent's memory.
func agentMemory(ctx context.Context, agent, address, image, ns string, n int) (memReport, error) {
	var m memReport
	dir, err := os.MkdirTemp("", "ecsd-bench-agent-")
	if err != nil {
		return m, err
	}
	defer os.RemoveAll(dir)
	b, err := startBackend(ctx, "rss")
	if err != nil {
		return m, err
	}
	defer b.close()
	cmd, err := b.startAgent(ctx, agent, address, ns, dir)
	if err != nil {
		return m, err
	}
	defer purgeNS(address, ns)
	defer stopAgent(cmd)
	for !b.connected(ctx) {
		if cmd.ProcessState != nil {
			return m, fmt.Errorf("agent exited")
		}
		time.Sleep(5 * time.Millisecond)
	}
	def, err := b.register(ctx, image)
	if err != nil {
		return m, err
	}
	for left := n; left > 0; left -= 10 {
		if _, err := b.runTasks(ctx, def, min(left, 10)); err != nil {
			return m, err
		}
	}
	c, err := client.New(address)
	if err != nil {
		return m, err
	}
	defer c.Close()
	nctx := namespaces.WithNamespace(ctx, ns)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		running := 0
		ctrs, _ := c.Containers(nctx)
		for _, ctr := range ctrs {
			if t, err := ctr.Task(nctx, nil); err == nil {
				if s, err := t.Status(nctx); err == nil && s.Status == client.Running {
					running++
				}
			}
		}
		if running >= n {
			break
		}
		if time.Now().After(deadline) {
			return m, fmt.Errorf("only %d of %d tasks running after 3m", running, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Let the agent reach its steady state (the first relist, 10s after start, may still
	// write; the agent trims its start-up pages once idle for 5s), then sample its memory
	// over a window longer than the relist period.
	time.Sleep(settle)
	var sum [4]uint64
	for end := time.Now().Add(window); ; {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		if err != nil {
			return m, err
		}
		rss := field(status, "VmRSS:")
		sum[0] += rss
		sum[1] += field(status, "RssAnon:")
		sum[2] += field(status, "RssFile:")
		sum[3] += field(status, "RssShmem:")
		m.Samples++
		m.Max = max(m.Max, rss)
		m.Peak = field(status, "VmHWM:")
		if time.Now().After(end) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	k := uint64(m.Samples)
	m.RSS, m.Anon, m.File, m.Shmem = sum[0]/k, sum[1]/k, sum[2]/k, sum[3]/k
	if showSmaps {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid))
		smaps, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", cmd.Process.Pid))
		if err != nil {
			return m, err
		}
		m.Smaps = smapsByKind(smaps, exe)
	}
	return m, nil
}

// smapsKind sums the mappings of one kind: the binary's text (r-x), read-only data
// (rodata, pclntab: r--), writable data (rw-, file-backed), the anonymous mapping right
// after the binary (bss, noptrbss), the Go heap arenas (anonymous, 4 MiB aligned),
// other anonymous memory (runtime metadata, heap bitmaps, cgo), libc and the rest.
type smapsKind struct {
	Kind            string
	RSS, Anon, Size uint64
	Count           int
}

func smapsByKind(smaps []byte, exe string) []smapsKind {
	kinds := map[string]*smapsKind{}
	var order []string
	var cur *smapsKind
	prevExe := false
	for _, line := range strings.Split(string(smaps), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.Contains(f[0], "-") && len(f[1]) == 4 {
			// A mapping header: address perms offset dev inode [path].
			path := ""
			if len(f) >= 6 {
				path = f[5]
			}
			var lo, hi uint64
			fmt.Sscanf(f[0], "%x-%x", &lo, &hi)
			kind := "other " + path
			switch {
			case path == exe && strings.HasPrefix(f[1], "r-x"):
				kind = "binary text"
			case path == exe && strings.HasPrefix(f[1], "rw"):
				kind = "binary data"
			case path == exe:
				kind = "binary rodata+pclntab"
			case path == "" && prevExe:
				kind = "binary bss"
			case path == "" && lo >= 0xc000000000 && lo%(4<<20) == 0:
				// A heuristic: Go maps its heap in arenas from hint addresses
				// (amd64: 0x00c0<<32 and up, randomised since Go 1.26), 4 MiB aligned;
				// its other mmaps (metadata, stacks) and libc's are not aligned so.
				kind = "go heap arenas"
			case path == "":
				kind = "anon other"
			case strings.Contains(path, "libc") || strings.Contains(path, "ld-linux"):
				kind = "libc+ld"
			case path == "[stack]":
				kind = "main thread stack"
			case strings.HasPrefix(path, "["):
				kind = path
			}
			prevExe = path == exe
			if kinds[kind] == nil {
				kinds[kind] = &smapsKind{Kind: kind}
				order = append(order, kind)
			}
			cur = kinds[kind]
			cur.Count++
			continue
		}
		if cur == nil || len(f) < 2 {
			continue
		}
		var v uint64
		fmt.Sscanf(f[1], "%d", &v)
		switch f[0] {
		case "Rss:":
			cur.RSS += v
		case "Anonymous:":
			cur.Anon += v
		case "Size:":
			cur.Size += v
		}
	}
	out := make([]smapsKind, 0, len(order))
	for _, k := range order {
		out = append(out, *kinds[k])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RSS > out[j].RSS })
	return out
}

func field(status []byte, name string) uint64 {
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, name) {
			var v uint64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, name)), "%d", &v)
			return v
		}
	}
	return 0
}

// purgeNS removes everything in a containerd namespace through the runtime package.
func purgeNS(address, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rt, err := containerd.New(ctx, address, ns)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: purge:", err)
		return
	}
	defer rt.Close()
	if err := rt.Purge(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench: purge:", err)
	}
}

// phase runs one part of the benchmark, saying on stderr when it starts and how long it
// took: a full run takes minutes and prints its results only at the end.
func phase(name string, f func() error) error {
	start := time.Now()
	fmt.Fprintf(os.Stderr, "bench: %s ...\n", name)
	if err := f(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s failed after %s\n", name, time.Since(start).Round(100*time.Millisecond))
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: %s done (%s)\n", name, time.Since(start).Round(100*time.Millisecond))
	return nil
}
