package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/server/metadata"
	"github.com/ecsd/ecsd/server/tmds"
	"github.com/ecsd/ecsd/store"
)

// The task metadata measurement's knobs. They live here, not in main, so that the launch
// measurements' flags and this one's can change independently.
var (
	tmdsOnly     = flag.Bool("tmds-only", false, "measure only task metadata v4 throughput and latency")
	tmdsTasks    = flag.Int("tmds-tasks", 100, "task metadata: tasks in the store (two containers each)")
	tmdsClients  = flag.Int("tmds-clients", 8, "task metadata: concurrent keep-alive clients")
	tmdsDuration = flag.Duration("tmds-duration", 5*time.Second, "task metadata: how long the clients send requests")
)

// tmdsResult is the task metadata measurement: every request's latency over the window.
type tmdsResult struct {
	latencies []time.Duration
	window    time.Duration
	tasks     int
	clients   int
}

// tmdsBench serves the real task metadata handler over a real store and informer cache, as
// the agent wires them, on 127.0.0.1, and has C keep-alive clients ask for
// /v4/<endpointId>/task of every container in turn for a fixed time. The rate limit is set
// far above what the clients can send so that it never answers 429, but it still runs, as
// in the agent.
func tmdsBench(ctx context.Context, tasks, clients int, window time.Duration) (tmdsResult, error) {
	r := tmdsResult{window: window, tasks: tasks, clients: clients}
	if tasks < 1 || clients < 1 {
		return r, fmt.Errorf("need at least one task and one client (got %d and %d)", tasks, clients)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	scheme := k8sruntime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		return r, err
	}
	st, err := store.New(ctx, scheme)
	if err != nil {
		return r, err
	}
	defer st.Close()
	ids, err := populateTMDS(ctx, st, tasks)
	if err != nil {
		return r, err
	}
	// The indexes the agent registers for its endpoints (cmd/ecs-agent/endpoints.go).
	if err := metadata.IndexFields(ctx, st.Cache()); err != nil {
		return r, err
	}
	cacheDone := make(chan error, 1)
	go func() { cacheDone <- st.Cache().Start(ctx) }()
	defer func() { cancel(); <-cacheDone }()
	if !st.Cache().WaitForCacheSync(ctx) {
		return r, errors.New("cache did not sync")
	}
	h, err := tmds.NewHandler(tmds.Options{
		Reader: st.Client(),
		Instance: func() tmds.Instance {
			return tmds.Instance{Cluster: "bench", ContainerInstanceARN: "arn:aws:ecs:local:000000000000:container-instance/bench/0"}
		},
		SteadyRPS: 1 << 30, BurstRPS: 1 << 30,
		AgentVersion: "bench",
		Logger:       logr.Discard(),
	})
	if err != nil {
		return r, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	srv := &http.Server{Handler: h, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String() + "/v4/"

	// A short warm-up fills the connection pools and the handler's first-use paths.
	if _, err := hammer(ctx, base, ids, clients, 500*time.Millisecond); err != nil {
		return r, err
	}
	if r.latencies, err = hammer(ctx, base, ids, clients, window); err == nil && len(r.latencies) == 0 {
		err = errors.New("no request completed")
	}
	return r, err
}

// hammer runs clients goroutines, each with its own keep-alive connection, for d and returns
// every request's latency. A non-200 answer is an error: the measurement is of answers.
func hammer(ctx context.Context, base string, ids []string, clients int, d time.Duration) ([]time.Duration, error) {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		all      []time.Duration
		firstErr error
	)
	deadline := time.Now().Add(d)
	for i := range clients {
		wg.Go(func() {
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
			defer c.CloseIdleConnections()
			lat := make([]time.Duration, 0, 1<<14)
			var err error
			for j := i; time.Now().Before(deadline) && ctx.Err() == nil; j++ {
				start := time.Now()
				if err = getTask(ctx, c, base+ids[j%len(ids)]+"/task"); err != nil {
					break
				}
				lat = append(lat, time.Since(start))
			}
			mu.Lock()
			defer mu.Unlock()
			all = append(all, lat...)
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	return all, firstErr
}

func getTask(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// populateTMDS writes n running bridge tasks the way the agent's controllers leave them:
// two containers each with endpoint IDs, runtime IDs, digests, port bindings and their own
// network, and returns every container's endpoint ID.
func populateTMDS(ctx context.Context, st *store.Store, n int) ([]string, error) {
	now := metav1.Now()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%032x", i+1)
		arn := "arn:aws:ecs:local:000000000000:task/bench/" + id
		names := []string{"app", "sidecar"}
		objs := []ctrlclient.Object{&api.Task{
			ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: id},
			Spec: api.TaskSpec{ARN: arn, Family: "bench", Version: "1", DesiredStatus: api.TaskStatusRunning,
				NetworkMode: "bridge", Containers: names},
			Status: api.TaskStatus{KnownStatus: api.TaskStatusRunning, PullStartedAt: &now, PullStoppedAt: &now},
		}}
		for j, name := range names {
			ep := uuid()
			ids = append(ids, ep)
			cname := api.ContainerName(id, name)
			objs = append(objs, &api.Container{
				ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: cname,
					Labels: map[string]string{api.LabelTaskName: id, api.LabelTaskARN: arn}},
				Spec: api.ContainerSpec{TaskName: id, Name: name, Image: "127.0.0.1:5000/ecsd/busybox:latest", Essential: j == 0,
					EndpointID: ep, CPU: 128, Memory: 64, Command: []string{"sleep", "3600"},
					PortMappings: []api.PortMapping{{ContainerPort: 8080, Protocol: "tcp"}}},
				Status: api.ContainerStatus{KnownStatus: api.ContainerStatusRunning, DesiredStatus: api.ContainerStatusRunning,
					RuntimeID: api.RuntimeID(arn, name), ImageDigest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
					NetworkBindings: []api.NetworkBinding{{BindIP: "0.0.0.0", ContainerPort: 8080, HostPort: int32(32768 + 2*i + j), Protocol: "tcp"}},
					Network: &api.NetworkStatus{Mode: "bridge", ID: cname,
						IPv4Address: fmt.Sprintf("172.17.%d.%d", (2*i+j)/250, (2*i+j)%250+2), IPv4Gateway: "172.17.0.1"},
					CreatedAt: &now, StartedAt: &now},
			})
		}
		if err := st.CreateOrUpdateAll(ctx, objs...); err != nil {
			return nil, fmt.Errorf("write task %s: %w", id, err)
		}
	}
	return ids, nil
}

// uuid is a random version 4 UUID, the form of the agent's endpoint IDs.
func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func printTMDS(r tmdsResult) {
	rps := float64(len(r.latencies)) / r.window.Seconds()
	fmt.Printf("tmds-v4-task-rps %.0f (%d tasks, %d keep-alive clients on loopback, %s)\n", rps, r.tasks, r.clients, r.window)
	fmt.Printf("tmds-v4-task-p50-ms %.3f\n", ms(pct(r.latencies, 50)))
	fmt.Printf("tmds-v4-task-p99-ms %.3f\n", ms(pct(r.latencies, 99)))
}
