package tcs

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/go-logr/logr/testr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/stats"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/store"
)

const (
	testKey     = "AKIDEXAMPLE"
	testSecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testRegion  = "us-west-2"
	testCluster = "prod"
	testCI      = "arn:aws:ecs:us-west-2:111122223333:container-instance/prod/0f1e"
	mib         = 1 << 20
)

func testCreds() aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}, nil
	})
}

func lookup(id string) (string, bool) {
	if id == testKey {
		return testSecret, true
	}
	return "", false
}

func newStore(t testing.TB) *store.Store {
	t.Helper()
	scheme := k8sruntime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	st, err := store.New(context.Background(), scheme)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func taskARN(id string) string { return "arn:aws:ecs:us-west-2:111122223333:task/prod/" + id }

// testCtr describes a container of a test task.
type testCtr struct {
	name string
	// status defaults to RUNNING; runtimeID defaults to the object name unless noRuntime.
	status    api.ContainerState
	noRuntime bool
	health    *api.Health
	checked   bool // has a health check
	restart   bool // has a restart policy
	restarts  int32
}

// addTask stores a RUNNING task with the given containers (setTaskStatus moves it on).
func addTask(t testing.TB, st *store.Store, id string, ctrs ...testCtr) {
	t.Helper()
	ctx := context.Background()
	task := &api.Task{
		ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: api.Namespace},
		Spec: api.TaskSpec{ARN: taskARN(id), ClusterARN: "arn:aws:ecs:us-west-2:111122223333:cluster/prod",
			Family: "web", Version: "3", DesiredStatus: api.TaskStatusRunning},
		Status: api.TaskStatus{KnownStatus: api.TaskStatusRunning},
	}
	for _, c := range ctrs {
		task.Spec.Containers = append(task.Spec.Containers, c.name)
	}
	if err := st.Create(ctx, task); err != nil {
		t.Fatal(err)
	}
	for _, c := range ctrs {
		obj := &api.Container{
			ObjectMeta: metav1.ObjectMeta{Name: api.ContainerName(id, c.name), Namespace: api.Namespace},
			Spec:       api.ContainerSpec{TaskName: id, Name: c.name, Image: "busybox", Essential: true},
			Status:     api.ContainerStatus{KnownStatus: c.status, Health: c.health, RestartCount: c.restarts},
		}
		if obj.Status.KnownStatus == "" {
			obj.Status.KnownStatus = api.ContainerStatusRunning
		}
		if !c.noRuntime {
			obj.Status.RuntimeID = rid(id, c.name)
		}
		if c.checked {
			obj.Spec.HealthCheck = &api.HealthCheck{Test: []string{"CMD-SHELL", "true"}}
		}
		if c.restart {
			obj.Spec.RestartPolicy = &api.RestartPolicy{Enabled: true}
		}
		if err := st.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
}

// rid is the runtime ID the create step gives container name of task id.
func rid(id, name string) string { return api.RuntimeID(taskARN(id), name) }

// setTaskStatus changes a stored task's known status.
func setTaskStatus(t testing.TB, st *store.Store, id string, status api.TaskState) {
	t.Helper()
	task := &api.Task{}
	ctx := context.Background()
	if err := st.Get(ctx, keyOf(id), task); err != nil {
		t.Fatal(err)
	}
	task.Status.KnownStatus = status
	if err := st.UpdateStatus(ctx, task); err != nil {
		t.Fatal(err)
	}
}

// setRestarts changes a stored container's restart count.
func setRestarts(t testing.TB, st *store.Store, name string, n int32) {
	t.Helper()
	c := &api.Container{}
	ctx := context.Background()
	if err := st.Get(ctx, keyOf(name), c); err != nil {
		t.Fatal(err)
	}
	c.Status.RestartCount = n
	if err := st.UpdateStatus(ctx, c); err != nil {
		t.Fatal(err)
	}
}

func keyOf(name string) client.ObjectKey {
	return client.ObjectKey{Namespace: api.Namespace, Name: name}
}

// fakeStats answers Stats from fn, counting calls per runtime ID.
type fakeStats struct {
	mu    sync.Mutex
	calls map[string]int
	fn    func(id string, n int) (runtime.Stats, error)
}

func newFakeStats(fn func(id string, n int) (runtime.Stats, error)) *fakeStats {
	return &fakeStats{calls: map[string]int{}, fn: fn}
}

func (f *fakeStats) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	if err := ctx.Err(); err != nil {
		return runtime.Stats{}, err
	}
	f.mu.Lock()
	n := f.calls[id]
	f.calls[id]++
	f.mu.Unlock()
	return f.fn(id, n)
}

var epoch = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

// steadyStats is a container using 1 s of CPU every 5 s (10 % of a 2-CPU instance) and
// 80 MiB of memory (100 MiB minus 20 MiB of cache).
func steadyStats(_ string, n int) (runtime.Stats, error) {
	return runtime.Stats{
		Time:          epoch.Add(time.Duration(n) * 5 * time.Second),
		CPUUsageNanos: uint64(n) * 1e9,
		MemoryUsage:   100 * mib,
		MemoryCache:   20 * mib,
	}, nil
}

// runSampler runs the agent's sampler over r's containers, reading src (steadyStats if
// nil) every 2 ms on 2 CPUs, until the test ends.
func runSampler(t *testing.T, r client.Reader, src stats.StatsSource) *stats.Sampler {
	t.Helper()
	if src == nil {
		src = newFakeStats(steadyStats)
	}
	s, err := stats.New(stats.Options{Reader: r, Runtime: src, Interval: 2 * time.Millisecond, NumCPU: 2,
		Logger: testr.New(t).WithName("sampler")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}
