package e2e

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/go-logr/logr/testr"

	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/localplane"
)

const (
	backendKey    = "E2ETESTACCESSKEY"
	backendSecret = "e2e-test-secret"
	backendRegion = "us-west-2"
)

// backend is a local ECS control plane run by the test, which the agent binary reaches
// through ECS_BACKEND_HOST exactly as it would reach ECS. The test can take it down and
// bring it back on the same address.
type backend struct {
	t       *testing.T
	srv     *localplane.Server
	addr    string
	hs      *http.Server
	ecs     *ecs.Client
	cluster string
	// statePath is the backend's state file.
	statePath string
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{t: t, cluster: testenv.UniqueName(t, "cluster"), statePath: filepath.Join(t.TempDir(), "state", "backend.json")}
	srv, err := localplane.New(context.Background(), localplane.Options{
		Region:      backendRegion,
		Credentials: map[string]string{backendKey: backendSecret},
		Clusters:    []string{b.cluster},
		StatePath:   b.statePath,
		ResendAfter: 2 * time.Second,
		Logger:      testr.NewWithOptions(t, testr.Options{Verbosity: 0}),
	})
	if err != nil {
		t.Fatal(err)
	}
	b.srv = srv
	b.up("127.0.0.1:0")
	b.ecs = ecs.New(ecs.Options{
		Region:       backendRegion,
		BaseEndpoint: aws.String("http://" + b.addr),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: backendKey, SecretAccessKey: backendSecret}, nil
		}),
	})
	t.Cleanup(func() {
		b.down()
		srv.Close()
	})
	return b
}

// up serves on addr (the previous address when bringing the backend back).
func (b *backend) up(addr string) {
	b.t.Helper()
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		if ln, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		b.t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	b.hs = &http.Server{Handler: b.srv.Handler()}
	go func() {
		if err := b.hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.t.Errorf("backend: %v", err)
		}
	}()
}

// down stops serving and cuts the sessions: the agent sees the backend unreachable.
func (b *backend) down() {
	if b.hs == nil {
		return
	}
	_ = b.hs.Close()
	b.srv.DropSessions()
	b.hs = nil
}

// agentEnv points an agent at this backend.
func (b *backend) agentEnv() []string {
	return []string{
		"ECS_BACKEND_HOST=http://" + b.addr,
		"AWS_DEFAULT_REGION=" + backendRegion,
		"AWS_ACCESS_KEY_ID=" + backendKey,
		"AWS_SECRET_ACCESS_KEY=" + backendSecret,
		"ECS_CLUSTER=" + b.cluster,
	}
}

// sleeperDef registers a one-container task definition whose container runs until SIGTERM
// (or, with exitAfter, exits by itself with code 3 after that many seconds).
func (b *backend) sleeperDef(family string, exitAfter int) string {
	b.t.Helper()
	cmd := "echo started; trap 'exit 0' TERM; while true; do sleep 0.2; done"
	if exitAfter > 0 {
		cmd = "echo started; sleep " + strconv.Itoa(exitAfter) + "; exit 3"
	}
	out, err := b.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String(family),
		NetworkMode: types.NetworkModeHost,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:      aws.String("app"),
			Image:     aws.String(testenv.BusyboxImage()),
			Essential: aws.Bool(true),
			Memory:    aws.Int32(64),
			Command:   []string{"sh", "-c", cmd},
		}},
	})
	if err != nil {
		b.t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

func (b *backend) runTask(def string, count int32) []string {
	b.t.Helper()
	return b.runTaskInput(&ecs.RunTaskInput{TaskDefinition: aws.String(def), Count: aws.Int32(count)})
}

// runTaskInput runs in (tags, propagateTags, overrides…) on the test cluster and returns
// the task ARNs; every placement must succeed.
func (b *backend) runTaskInput(in *ecs.RunTaskInput) []string {
	b.t.Helper()
	in.Cluster = aws.String(b.cluster)
	out, err := b.ecs.RunTask(context.Background(), in)
	if err != nil {
		b.t.Fatalf("RunTask: %v", err)
	}
	if len(out.Failures) > 0 {
		var why []string
		for _, f := range out.Failures {
			why = append(why, aws.ToString(f.Arn)+": "+aws.ToString(f.Reason)+" "+aws.ToString(f.Detail))
		}
		b.t.Fatalf("RunTask failures: %s", strings.Join(why, "; "))
	}
	var arns []string
	for _, t := range out.Tasks {
		arns = append(arns, aws.ToString(t.TaskArn))
	}
	return arns
}

// waitTasks polls DescribeTasks until every task satisfies cond.
func (b *backend) waitTasks(what string, timeout time.Duration, arns []string, cond func(types.Task) bool) []types.Task {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var last []types.Task
	for {
		out, err := b.ecs.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: aws.String(b.cluster), Tasks: arns})
		if err == nil {
			last = out.Tasks
			ok := len(out.Tasks) == len(arns)
			for _, t := range out.Tasks {
				ok = ok && cond(t)
			}
			if ok {
				return out.Tasks
			}
		}
		if time.Now().After(deadline) {
			for _, t := range last {
				b.t.Errorf("task %s: last %s desired %s reason %q", aws.ToString(t.TaskArn), aws.ToString(t.LastStatus), aws.ToString(t.DesiredStatus), aws.ToString(t.StoppedReason))
			}
			b.t.Fatalf("timed out after %s waiting for %s (%v)", timeout, what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lastStatus(s string) func(types.Task) bool {
	return func(t types.Task) bool { return aws.ToString(t.LastStatus) == s }
}

// taskStatuses are the task statuses the backend received for arn, in arrival order.
func (b *backend) taskStatuses(arn string) []string {
	var out []string
	for _, sc := range b.srv.StateChanges() {
		if sc.Task != nil && sc.Task.Task == arn {
			out = append(out, sc.Task.Status)
		}
	}
	return out
}
