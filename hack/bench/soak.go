package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"golang.org/x/sys/unix"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/netns"
	"github.com/ecsd/ecsd/runtime/containerd"
)

var (
	soakOnly   = flag.Bool("soak", false, "run only the soak: hundreds of short tasks with image churn (make soak)")
	soakTasks  = flag.Int("soak-tasks", 300, "soak: tasks in all (with the whole bench: -bench-soak-tasks)")
	benchSoak  = flag.Int("bench-soak-tasks", 200, "tasks of the soak the whole bench runs (0: none)")
	soakBatch  = flag.Int("soak-batch", 10, "soak: tasks per RunTask (one ACS payload), run together")
	soakImages = flag.Int("soak-images", 12, "soak: distinct images the batches rotate through (pushed by hack/soak-images.sh)")
	soakRepo   = flag.String("soak-repo", "127.0.0.1:5000/ecsd/soak", "soak: repository of the images, tags 0 … soak-images-1")
	soakProf   = flag.String("soak-heap-profiles", "", "soak: save the agent's heap profiles (after a GC) at the start and the end in this directory, for go tool pprof -base start.pb.gz end.pb.gz")
)

// soakFigures are the figures the soak compares at its start (once warmed up) and its end
// (everything stopped and cleaned up).
type soakFigures struct {
	tasks        int
	rssKiB       uint64
	heap         int64 // live heap after a forced GC (pprof heap?gc=1)
	goroutines   int
	checkpoint   int64
	images       int
	imageBytes   int64
	snapshots    int
	snapshotSize int64
	taskLogs     int64
	objects      int // Task, Container and Image objects
}

func (f soakFigures) String() string {
	return fmt.Sprintf("%d tasks: rss %.1f MiB, live heap %s, goroutines %d, checkpoint %s, objects %d, images %d (%s), snapshots %d (%s), task logs %s",
		f.tasks, float64(f.rssKiB)/1024, size(f.heap), f.goroutines, size(f.checkpoint), f.objects, f.images, size(f.imageBytes),
		f.snapshots, size(f.snapshotSize), size(f.taskLogs))
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

type soakResult struct {
	start, end soakFigures
	took       time.Duration
	failures   []string
}

// soak runs tasks short tasks through the local plane, batch at a time, each batch on the
// next of the soak images, with image cleanup every 2 s for images unused for 1 s: every
// image is pulled, used, removed and pulled again many times. The agent runs in a network
// namespace of its own (none-mode tasks, the registry and the plane forwarded in), so its
// ports never meet another agent's. It samples the agent's resident memory, goroutines
// (pprof), checkpoint size and object count, and the namespace's images, snapshots and task
// logs once warmed up and at the end, once every task is cleaned up, and fails when one of
// them grew beyond what the end state of a bounded agent allows.
func soak(ctx context.Context, agent, address, tag string, tasks int) (soakResult, error) {
	var r soakResult
	ns := "bench-soak-" + tag
	dir, err := os.MkdirTemp("", "ecsd-soak-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	defer purgeNS(address, ns)
	host, err := netns.Create("/run/ecsd-soak", ns)
	if err != nil {
		return r, fmt.Errorf("network namespace: %w", err)
	}
	defer func() { _ = netns.Delete(host) }()
	defer func() { _ = netns.DeleteDir(filepath.Join(dir, "data", "cni", "netns")) }()
	b, err := startBackend(ctx, "soak")
	if err != nil {
		return r, err
	}
	defer b.close()
	registry, _, _ := strings.Cut(*soakRepo, "/")
	for _, addr := range []string{registry, b.addr} {
		f, err := netns.Forward(ctx, host, addr, addr)
		if err != nil {
			return r, fmt.Errorf("forward %s: %w", addr, err)
		}
		defer f.Close()
	}
	if err := netns.Do(host, func() error { return exec.Command("ip", "link", "set", "lo", "up").Run() }); err != nil {
		return r, fmt.Errorf("loopback up: %w", err)
	}

	data := filepath.Join(dir, "data")
	tokenFile := filepath.Join(dir, "secrets", "api-token")
	cmd := exec.CommandContext(ctx, agent)
	cmd.Env = append(os.Environ(), "ECSD_CONTAINERD_ADDRESS="+address, "ECSD_CONTAINERD_NAMESPACE="+ns,
		"ECS_DATADIR="+data, "ECS_LOGLEVEL=warn", "AWS_EC2_METADATA_DISABLED=true", "ECSD_HOST_NETNS="+host,
		"ECSD_API_TOKEN_FILE="+tokenFile, "ECSD_LOCAL_CREDENTIALS_FILE="+filepath.Join(dir, "secrets", "local-plane.json"),
		"ECS_BACKEND_HOST=http://"+b.addr, "AWS_DEFAULT_REGION="+benchRegion, "AWS_ACCESS_KEY_ID="+benchKey,
		"AWS_SECRET_ACCESS_KEY="+benchSecret, "ECS_CLUSTER="+b.cluster, "ECS_ENABLE_RUNTIME_STATS=true",
		"ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=1s", "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION_JITTER=1ms",
		"ECS_CONTAINER_STOP_TIMEOUT=1s", "ECS_IMAGE_PULL_BEHAVIOR=prefer-cached",
		"ECSD_IMAGE_CLEANUP_INTERVAL=2s", "ECS_IMAGE_MINIMUM_CLEANUP_AGE=1s", "ECS_NUM_IMAGES_DELETE_PER_CYCLE=10")
	cmd.Env = append(cmd.Env, agentEnv...)
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return r, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := netns.Do(host, cmd.Start); err != nil {
		return r, err
	}
	defer stopAgent(cmd)
	for !b.connected(ctx) {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		time.Sleep(10 * time.Millisecond)
	}
	rt, err := containerd.New(ctx, address, ns)
	if err != nil {
		return r, err
	}
	defer rt.Close()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) { return netns.Dial(ctx, host, "tcp", addr) },
	}}
	// get reads path of the agent's introspection port with its API token.
	get := func(path string) ([]byte, error) {
		token, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:51678"+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return body, err
	}
	measure := func(done int) (soakFigures, error) {
		f := soakFigures{tasks: done}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		if err != nil {
			return f, err
		}
		f.rssKiB = field(status, "VmRSS:")
		prof, err := get("/debug/pprof/goroutine?debug=1")
		if err != nil {
			return f, err
		}
		if _, err := fmt.Sscanf(string(prof), "goroutine profile: total %d", &f.goroutines); err != nil {
			return f, fmt.Errorf("goroutine profile: %w", err)
		}
		heap, err := get("/debug/pprof/heap?gc=1&debug=1")
		if err != nil {
			return f, err
		}
		if i := strings.Index(string(heap), "# HeapAlloc = "); i < 0 {
			return f, errors.New("heap profile without HeapAlloc")
		} else if _, err := fmt.Sscanf(string(heap[i:]), "# HeapAlloc = %d", &f.heap); err != nil {
			return f, fmt.Errorf("heap profile: %w", err)
		}
		for _, kind := range []string{"tasks", "containers", "images"} {
			body, err := get("/apis/ecs.ecsd.io/v1alpha1/namespaces/" + api.Namespace + "/" + kind)
			if err != nil {
				return f, err
			}
			var list struct{ Items []json.RawMessage }
			if err := json.Unmarshal(body, &list); err != nil {
				return f, fmt.Errorf("%s: %w", kind, err)
			}
			f.objects += len(list.Items)
		}
		if st, err := os.Stat(filepath.Join(data, "ecsd.db")); err == nil {
			f.checkpoint = st.Size()
		}
		imgs, err := rt.ListImages(ctx)
		if err != nil {
			return f, err
		}
		f.images = len(imgs)
		for _, im := range imgs {
			f.imageBytes += im.Size
		}
		sn := rt.Client().SnapshotService(containerd.DefaultSnapshotter)
		nctx := namespaces.WithNamespace(ctx, ns)
		err = sn.Walk(nctx, func(ctx context.Context, info snapshots.Info) error {
			f.snapshots++
			if u, err := sn.Usage(ctx, info.Name); err == nil {
				f.snapshotSize += u.Size
			}
			return nil
		})
		if err != nil {
			return f, err
		}
		f.taskLogs = diskUse(filepath.Join(data, "tasks"))
		return f, nil
	}

	defs := make([]string, *soakImages)
	for i := range defs {
		out, err := b.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
			Family:      aws.String(fmt.Sprintf("soak-%d", i)),
			NetworkMode: types.NetworkModeNone,
			ContainerDefinitions: []types.ContainerDefinition{{
				Name: aws.String("app"), Image: aws.String(fmt.Sprintf("%s:%d", *soakRepo, i)), Essential: aws.Bool(true),
				Memory: aws.Int32(32), Command: []string{"sh", "-c", "echo soak task; cat /etc/soak; sleep 0.2"},
			}},
		})
		if err != nil {
			return r, err
		}
		defs[i] = aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	}
	began := time.Now()
	// The start figures are taken halfway: until then the store's and the object API's
	// bounded watch histories (store.DefaultHistory events per kind, each with its object)
	// are still filling, which is growth that stops.
	warm := max(tasks/2, *soakBatch)
	done := 0
	for batch := 0; done < tasks; batch++ {
		n := min(*soakBatch, tasks-done)
		arns, err := b.runTasks(ctx, defs[batch%len(defs)], n)
		if err != nil {
			return r, err
		}
		if err := b.waitStopped(ctx, arns); err != nil {
			return r, err
		}
		done += n
		f, err := measure(done)
		if err != nil {
			return r, err
		}
		fmt.Fprintf(os.Stderr, "soak: %s (%s)\n", f, time.Since(began).Round(time.Second))
		if r.start.tasks == 0 && done >= warm {
			r.start = f
			saveHeapProfile(get, "start.pb.gz")
		}
	}
	// The end state: every task cleaned up, and then every image unused for long enough.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		f, err := measure(done)
		if err != nil {
			return r, err
		}
		if f.objects == 0 && f.images == 0 && f.taskLogs == 0 {
			r.end = f
			saveHeapProfile(get, "end.pb.gz")
			break
		}
		if time.Now().After(deadline) {
			r.end = f
			r.failures = append(r.failures, fmt.Sprintf("not everything was cleaned up 2 minutes after the last task: %s", f))
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	r.took = time.Since(began)
	fmt.Fprintf(os.Stderr, "soak: end %s\n", r.end)
	s, e := r.start, r.end
	// The live heap is the leak detector: at the end the agent holds less than at the start
	// (no task, no image), so anything beyond noise is state kept for tasks that are gone.
	// Resident memory only follows the heap's high-water mark, loosely.
	if e.heap > s.heap*11/10+1<<20 {
		r.failures = append(r.failures, fmt.Sprintf("the live heap grew from %d to %d bytes", s.heap, e.heap))
	}
	if e.rssKiB > max(s.rssKiB*13/10, s.rssKiB+20<<10) {
		r.failures = append(r.failures, fmt.Sprintf("resident memory grew from %d to %d KiB", s.rssKiB, e.rssKiB))
	}
	if e.goroutines > s.goroutines+25 {
		r.failures = append(r.failures, fmt.Sprintf("goroutines grew from %d to %d", s.goroutines, e.goroutines))
	}
	if e.checkpoint > s.checkpoint+1<<20 {
		r.failures = append(r.failures, fmt.Sprintf("the checkpoint grew from %d to %d bytes", s.checkpoint, e.checkpoint))
	}
	if e.snapshots > s.snapshots || e.snapshotSize > s.snapshotSize {
		r.failures = append(r.failures, fmt.Sprintf("snapshots grew from %d (%d bytes) to %d (%d bytes)", s.snapshots, s.snapshotSize, e.snapshots, e.snapshotSize))
	}
	if e.imageBytes > s.imageBytes || e.taskLogs > s.taskLogs || e.objects > s.objects {
		r.failures = append(r.failures, fmt.Sprintf("images, task logs or objects grew: %s → %s", s, e))
	}
	return r, nil
}

// saveHeapProfile saves the agent's heap profile (after a GC) as name in -soak-heap-profiles.
func saveHeapProfile(get func(string) ([]byte, error), name string) {
	if *soakProf == "" {
		return
	}
	b, err := get("/debug/pprof/heap?gc=1")
	if err == nil {
		err = os.WriteFile(filepath.Join(*soakProf, name), b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak: heap profile:", err)
	}
}

// waitStopped waits until the plane has every task STOPPED, failing on a task that stopped
// without running to completion.
func (b *benchBackend) waitStopped(ctx context.Context, arns []string) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		out, err := b.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(b.cluster), Tasks: arns})
		if err != nil {
			return err
		}
		stopped := 0
		for _, t := range out.Tasks {
			if aws.ToString(t.LastStatus) != "STOPPED" {
				continue
			}
			stopped++
			if c := t.Containers; len(c) != 1 || c[0].ExitCode == nil || *c[0].ExitCode != 0 {
				return fmt.Errorf("task %s stopped without running to completion: %s", aws.ToString(t.TaskArn), aws.ToString(t.StoppedReason))
			}
		}
		if stopped == len(arns) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d tasks STOPPED after 3 minutes", stopped, len(arns))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// diskUse is what the files and directories under dir take on disk (0 when it is absent
// or empty).
func diskUse(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if path == dir {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(path, &st) == nil {
			n += st.Blocks * 512
		}
		return nil
	})
	return n
}

func printSoak(r soakResult) {
	fmt.Printf("soak-tasks %d (%s)\n", r.end.tasks, r.took.Round(time.Second))
	fmt.Printf("soak-rss-start-mb %.1f\n", float64(r.start.rssKiB)/1024)
	fmt.Printf("soak-rss-end-mb %.1f\n", float64(r.end.rssKiB)/1024)
	fmt.Printf("soak-heap-start-mb %.1f\n", float64(r.start.heap)/(1<<20))
	fmt.Printf("soak-heap-end-mb %.1f\n", float64(r.end.heap)/(1<<20))
	fmt.Printf("soak-goroutines-start %d\n", r.start.goroutines)
	fmt.Printf("soak-goroutines-end %d\n", r.end.goroutines)
	fmt.Printf("soak-checkpoint-start-kb %.0f\n", float64(r.start.checkpoint)/1024)
	fmt.Printf("soak-checkpoint-end-kb %.0f\n", float64(r.end.checkpoint)/1024)
	fmt.Printf("soak-objects-end %d\n", r.end.objects)
	fmt.Printf("soak-images-end %d (%s)\n", r.end.images, size(r.end.imageBytes))
	fmt.Printf("soak-snapshots-end %d (%s)\n", r.end.snapshots, size(r.end.snapshotSize))
	fmt.Printf("soak-task-logs-end-kb %.0f\n", float64(r.end.taskLogs)/1024)
	for _, f := range r.failures {
		fmt.Printf("soak-failure %s\n", f)
	}
}
