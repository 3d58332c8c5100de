package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/go-logr/logr"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/controllers"
	"github.com/ecsd/ecsd/runtime/cgroups"
	"github.com/ecsd/ecsd/runtime/containerd"
	"github.com/ecsd/ecsd/runtime/hostfs"
	"github.com/ecsd/ecsd/store"
)

// launchRounds measures raw containerd create+start (without and with Docker's default
// seccomp profile) and the engine's launch latency in rounds: each round launches one of
// each, in an order that rotates from round to round. Measured one after the other, a
// change in the machine's load between the phases (another process, page cache, a GC)
// moved the ratio by ±0.3; interleaved, all three see the same conditions.
//
// The engine logs through loggerPath (ecsd-logger) as the agent does; "" leaves the shim's
// own file copy.
func launchRounds(ctx context.Context, address, image, suffix, loggerPath string, n int) (raw, rawSeccomp, launch []time.Duration, err error) {
	plain, err := newRawLauncher(ctx, address, image, "bench-raw-"+suffix, false)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("raw containerd: %w", err)
	}
	defer plain.close()
	// The agent, like Docker and so the reference agent, applies Docker's default seccomp
	// profile to every unprivileged container: this shows what that costs.
	sec, err := newRawLauncher(ctx, address, image, "bench-raws-"+suffix, true)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("raw containerd with seccomp: %w", err)
	}
	defer sec.close()
	eng, err := newEngineLauncher(ctx, address, image, "bench-eng-"+suffix, loggerPath)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("engine: %w", err)
	}
	defer eng.close()

	type launcher struct {
		name string
		one  func(ctx context.Context, id string) (time.Duration, error)
		out  *[]time.Duration
	}
	ls := []launcher{{"raw containerd", plain.one, &raw}, {"raw containerd with seccomp", sec.one, &rawSeccomp}, {"engine", eng.one, &launch}}
	// Round -1 warms every path up (informers, the image cache, the shim binary's pages)
	// and is not counted.
	for i := -1; i < n; i++ {
		for j := range ls {
			l := ls[(i+1+j)%len(ls)]
			d, err := l.one(ctx, fmt.Sprintf("b%d", i+1))
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s: %w", l.name, err)
			}
			if i >= 0 {
				*l.out = append(*l.out, d)
			}
		}
	}
	eng.printPhases()
	return raw, rawSeccomp, launch, nil
}

// rawLauncher creates and starts containers with the bare containerd client, the way any
// containerd user would.
type rawLauncher struct {
	c           *client.Client
	ctx         context.Context
	address, ns string
	img         client.Image
	withSeccomp bool
}

func newRawLauncher(ctx context.Context, address, image, ns string, withSeccomp bool) (*rawLauncher, error) {
	c, err := client.New(address)
	if err != nil {
		return nil, err
	}
	l := &rawLauncher{c: c, ctx: namespaces.WithNamespace(ctx, ns), address: address, ns: ns, withSeccomp: withSeccomp}
	l.img, err = c.Pull(l.ctx, image, client.WithPullUnpack, client.WithResolver(plainHTTPResolver()))
	if err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

func (l *rawLauncher) one(_ context.Context, id string) (time.Duration, error) {
	ctx := l.ctx
	start := time.Now()
	specOpts := []oci.SpecOpts{oci.WithImageConfig(l.img), oci.WithProcessArgs("sleep", "3600")}
	if l.withSeccomp {
		specOpts = append(specOpts, seccomp.WithDefaultProfile())
	}
	ctr, err := l.c.NewContainer(ctx, id, client.WithNewSnapshot(id, l.img), client.WithNewSpec(specOpts...))
	if err != nil {
		return 0, err
	}
	t, err := ctr.NewTask(ctx, cio.NullIO)
	if err != nil {
		return 0, err
	}
	if _, err := t.Wait(ctx); err != nil {
		return 0, err
	}
	if err := t.Start(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func (l *rawLauncher) close() {
	purgeNS(l.address, l.ns)
	_ = l.c.Close()
}

// engineLauncher runs the real engine in-process; one launch is the write of a
// one-container task (what an ACS payload does) until the task's known status is RUNNING.
type engineLauncher struct {
	st        *store.Store
	rt        *containerd.Runtime
	w         watch.Interface
	image     string
	dir       string
	cancel    context.CancelFunc
	breakdown []phases
}

func newEngineLauncher(ctx context.Context, address, image, ns, loggerPath string) (_ *engineLauncher, err error) {
	l := &engineLauncher{image: image}
	ctx, l.cancel = context.WithCancel(ctx)
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	if l.dir, err = os.MkdirTemp("", "ecsd-bench-"); err != nil {
		return nil, err
	}
	scheme := k8sruntime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if l.st, err = store.New(ctx, scheme, store.WithCheckpoint(filepath.Join(l.dir, "ecsd.db"))); err != nil {
		return nil, err
	}
	if l.rt, err = containerd.New(ctx, address, ns, containerd.WithLogBinary(loggerPath, 0)); err != nil {
		return nil, err
	}
	o := controllers.DefaultOptions()
	o.DataDir = l.dir
	d := controllers.Deps{Runtime: l.rt, Cgroups: cgroups.Manager{Mount: cgroups.DefaultMount, Root: cgroups.DefaultRoot}, HostFS: hostfs.Host{}}
	eng := controllers.New(l.st.DirectClient(), l.st.Client(), l.st.Cache(), d, o, logr.Discard())
	go func() { _ = l.st.Cache().Start(ctx) }()
	go func() { _ = eng.Run(ctx) }()
	if !l.st.Cache().WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("cache did not sync")
	}
	gvk, err := apiutil.GVKForObject(&api.Task{}, scheme)
	if err != nil {
		return nil, err
	}
	if l.w, err = l.st.Watch(ctx, gvk, l.st.ResourceVersion(), nil); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *engineLauncher) one(ctx context.Context, id string) (time.Duration, error) {
	task, ctr := taskObjects(id, l.image)
	start := time.Now()
	if err := l.st.CreateOrUpdateAll(ctx, task, ctr); err != nil {
		return 0, err
	}
	if err := waitRunning(ctx, l.w, id); err != nil {
		return 0, err
	}
	d := time.Since(start)
	c := &api.Container{}
	if err := l.st.Get(ctx, ctrlclient.ObjectKeyFromObject(ctr), c); err == nil {
		l.breakdown = append(l.breakdown, phases{
			c.Status.PullStartedAt.Sub(start),
			c.Status.PullStoppedAt.Sub(c.Status.PullStartedAt.Time),
			c.Status.CreatedAt.Sub(c.Status.PullStoppedAt.Time),
			c.Status.StartedAt.Sub(c.Status.CreatedAt.Time),
			start.Add(d).Sub(c.Status.StartedAt.Time),
		})
	}
	return d, nil
}

// printPhases prints, with BENCH_PHASES set, where each engine launch spent its time.
func (l *engineLauncher) printPhases() {
	if os.Getenv("BENCH_PHASES") == "" {
		return
	}
	for _, b := range l.breakdown {
		fmt.Fprintf(os.Stderr, "phases: to-pull %.1fms pull %.1fms to-created %.1fms to-started %.1fms to-running %.1fms\n",
			ms(b[0]), ms(b[1]), ms(b[2]), ms(b[3]), ms(b[4]))
	}
}

func (l *engineLauncher) close() {
	if l.w != nil {
		l.w.Stop()
	}
	l.cancel()
	if l.rt != nil {
		pctx, pcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer pcancel()
		_ = l.rt.Purge(pctx)
	}
	if l.st != nil {
		l.st.Close()
	}
	if l.dir != "" {
		os.RemoveAll(l.dir)
	}
}
