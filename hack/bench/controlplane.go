package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsd/ecsd/localplane"
)

const (
	benchKey    = "BENCHACCESSKEY"
	benchSecret = "bench-secret"
	benchRegion = "us-west-2"
)

// benchBackend is a local ECS control plane in the bench process; agents reach it through
// ECS_BACKEND_HOST as they would reach ECS, over loopback.
type benchBackend struct {
	srv     *localplane.Server
	hs      *http.Server
	addr    string
	ecs     *ecs.Client
	cluster string
}

func startBackend(ctx context.Context, cluster string) (*benchBackend, error) {
	srv, err := localplane.New(ctx, localplane.Options{Region: benchRegion, Credentials: map[string]string{benchKey: benchSecret}, Clusters: []string{cluster}})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &benchBackend{srv: srv, hs: &http.Server{Handler: srv.Handler()}, addr: ln.Addr().String(), cluster: cluster}
	go func() { _ = b.hs.Serve(ln) }()
	b.ecs = ecs.New(ecs.Options{
		Region:       benchRegion,
		BaseEndpoint: aws.String("http://" + b.addr),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: benchKey, SecretAccessKey: benchSecret}, nil
		}),
	})
	return b, nil
}

func (b *benchBackend) close() {
	_ = b.hs.Close()
	_ = b.srv.Close()
}

// startAgent starts the agent binary registered with b, with its own data directory. Stops
// are not measured, so the bench's sleep containers (which, as PID 1, ignore SIGTERM) get
// SIGKILL after 1 s instead of 30 s: that took about 7 of the bench's minutes.
func (b *benchBackend) startAgent(ctx context.Context, agent, address, ns, dir string) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, agent)
	cmd.Env = append(os.Environ(), "ECSD_CONTAINERD_ADDRESS="+address, "ECSD_CONTAINERD_NAMESPACE="+ns,
		"ECS_DATADIR="+filepath.Join(dir, "data"), "ECS_LOGLEVEL=warn", "AWS_EC2_METADATA_DISABLED=true",
		"ECSD_API_TOKEN_FILE="+filepath.Join(dir, "secrets", "api-token"),
		"ECSD_LOCAL_CREDENTIALS_FILE="+filepath.Join(dir, "secrets", "local-plane.json"),
		"ECS_BACKEND_HOST=http://"+b.addr, "AWS_DEFAULT_REGION="+benchRegion, "AWS_ACCESS_KEY_ID="+benchKey,
		"AWS_SECRET_ACCESS_KEY="+benchSecret, "ECS_CLUSTER="+b.cluster, "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=1s",
		"ECS_CONTAINER_STOP_TIMEOUT=1s")
	cmd.Env = append(cmd.Env, agentEnv...)
	cmd.Stderr = os.Stderr
	return cmd, cmd.Start()
}

func stopAgent(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
}

// instances is the number of container instances registered in the cluster.
func (b *benchBackend) instances(ctx context.Context) int {
	out, err := b.ecs.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String(b.cluster)})
	if err != nil {
		return 0
	}
	return len(out.ContainerInstanceArns)
}

func (b *benchBackend) connected(ctx context.Context) bool {
	list, err := b.ecs.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String(b.cluster)})
	if err != nil || len(list.ContainerInstanceArns) == 0 {
		return false
	}
	out, err := b.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String(b.cluster), ContainerInstances: list.ContainerInstanceArns})
	return err == nil && len(out.ContainerInstances) > 0 && out.ContainerInstances[len(out.ContainerInstances)-1].AgentConnected
}

func (b *benchBackend) register(ctx context.Context, image string) (string, error) {
	out, err := b.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String("bench"),
		NetworkMode: types.NetworkModeHost,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String(image), Essential: aws.Bool(true), Memory: aws.Int32(32),
			Command: []string{"sleep", "3600"},
		}},
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn), nil
}

// runTasks runs count tasks in one RunTask call (one ACS payload) and returns their ARNs.
func (b *benchBackend) runTasks(ctx context.Context, def string, count int) ([]string, error) {
	out, err := b.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String(b.cluster), TaskDefinition: aws.String(def), Count: aws.Int32(int32(count))})
	if err != nil {
		return nil, err
	}
	if len(out.Failures) > 0 {
		return nil, fmt.Errorf("RunTask: %s", aws.ToString(out.Failures[0].Reason))
	}
	var arns []string
	for _, t := range out.Tasks {
		arns = append(arns, aws.ToString(t.TaskArn))
	}
	return arns, nil
}

// reported waits until the backend received status for every task, or ctx ends, and
// returns when the last of those reports arrived.
func (b *benchBackend) reported(ctx context.Context, arns []string, status string) (time.Time, error) {
	want := map[string]bool{}
	for _, a := range arns {
		want[a] = true
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var last time.Time
		got := map[string]bool{}
		for _, sc := range b.srv.StateChanges() {
			if sc.Task != nil && want[sc.Task.Task] && sc.Task.Status == status && !got[sc.Task.Task] {
				got[sc.Task.Task] = true
				if sc.Received.After(last) {
					last = sc.Received
				}
			}
		}
		if len(got) == len(want) {
			return last, nil
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("%d of %d tasks reported %s after 3m", len(got), len(want), status)
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("%d of %d tasks reported %s: %w", len(got), len(want), status, context.Cause(ctx))
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (b *benchBackend) stopAll(ctx context.Context, arns []string) error {
	for _, a := range arns {
		if _, err := b.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(b.cluster), Task: aws.String(a)}); err != nil {
			return err
		}
	}
	_, err := b.reported(ctx, arns, "STOPPED")
	return err
}

// cpResult is the control-plane measurements.
type cpResult struct {
	registered, one, ten []time.Duration
}

// controlPlaneBench measures agent start → registered (rounds fresh agents), then with one
// agent ACS payload → RUNNING reported for one task (rounds times) and for a payload of
// ten tasks (rounds/2 times, at least 3).
func controlPlaneBench(ctx context.Context, agent, address, image, ns string, rounds int) (cpResult, error) {
	var r cpResult
	dir, err := os.MkdirTemp("", "ecsd-bench-cp-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	defer purgeNS(address, ns)
	for i := 0; i < min(rounds, 10); i++ {
		b, err := startBackend(ctx, fmt.Sprintf("reg%d", i))
		if err != nil {
			return r, err
		}
		start := time.Now()
		cmd, err := b.startAgent(ctx, agent, address, ns, filepath.Join(dir, fmt.Sprint("reg", i)))
		if err != nil {
			b.close()
			return r, err
		}
		for b.instances(ctx) == 0 {
			if time.Since(start) > time.Minute {
				stopAgent(cmd)
				b.close()
				return r, fmt.Errorf("agent did not register within a minute")
			}
			time.Sleep(time.Millisecond)
		}
		r.registered = append(r.registered, time.Since(start))
		stopAgent(cmd)
		b.close()
	}

	b, err := startBackend(ctx, "launch")
	if err != nil {
		return r, err
	}
	defer b.close()
	cmd, err := b.startAgent(ctx, agent, address, ns, filepath.Join(dir, "launch"))
	if err != nil {
		return r, err
	}
	defer stopAgent(cmd)
	for !b.connected(ctx) {
		time.Sleep(5 * time.Millisecond)
	}
	def, err := b.register(ctx, image)
	if err != nil {
		return r, err
	}
	measure := func(count int) (time.Duration, error) {
		start := time.Now()
		arns, err := b.runTasks(ctx, def, count)
		if err != nil {
			return 0, err
		}
		at, err := b.reported(ctx, arns, "RUNNING")
		if err != nil {
			return 0, err
		}
		return at.Sub(start), b.stopAll(ctx, arns)
	}
	// A first launch pulls the image into the namespace; it is not counted.
	if _, err := measure(1); err != nil {
		return r, err
	}
	for i := 0; i < rounds; i++ {
		d, err := measure(1)
		if err != nil {
			return r, err
		}
		r.one = append(r.one, d)
	}
	for i := 0; i < max(3, rounds/2); i++ {
		d, err := measure(10)
		if err != nil {
			return r, err
		}
		r.ten = append(r.ten, d)
	}
	return r, nil
}

func printControlPlane(r cpResult) {
	fmt.Printf("agent-start-registered-p50-ms %.1f (%d fresh agents)\n", ms(pct(r.registered, 50)), len(r.registered))
	fmt.Printf("agent-start-registered-p99-ms %.1f\n", ms(pct(r.registered, 99)))
	fmt.Printf("acs-payload-running-reported-1task-p50-ms %.1f (%d runs)\n", ms(pct(r.one, 50)), len(r.one))
	fmt.Printf("acs-payload-running-reported-1task-p99-ms %.1f\n", ms(pct(r.one, 99)))
	fmt.Printf("acs-payload-running-reported-10tasks-p50-ms %.1f (%d runs, all 10 reported)\n", ms(pct(r.ten, 50)), len(r.ten))
	fmt.Printf("acs-payload-running-reported-10tasks-p99-ms %.1f\n", ms(pct(r.ten, 99)))
}
