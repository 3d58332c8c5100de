//go:build systemd

package systemd

import (
	"bufio"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsd/ecsd/localplane/access"
)

// plane is ecs-local, the standalone local control plane, on the host's loopback: the
// machine's agent reaches it through a forwarder the test opens when it chooses, and the
// test drives it with the ECS API as a user would.
type plane struct {
	t       *testing.T
	cmd     *exec.Cmd
	exited  chan error
	logPath string
	keys    access.File
	addr    string // host:port of the endpoint
	cluster string
	ecs     *ecs.Client
}

func startPlane(t *testing.T, p *progress) *plane {
	t.Helper()
	dir := t.TempDir()
	pl := &plane{t: t, cluster: "boot", exited: make(chan error, 1), logPath: filepath.Join(dir, "ecs-local.log")}
	creds := filepath.Join(dir, "secrets", "local-plane.json")
	pl.cmd = exec.Command(localBin, "--listen", "127.0.0.1:0", "--state-dir", filepath.Join(dir, "state"),
		"--credentials-file", creds, "--cluster", pl.cluster)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	pl.cmd.Env = append(env, "AWS_EC2_METADATA_DISABLED=true", "ECSD_LOCAL_CREDENTIALS_FILE=")
	logFile, err := os.Create(pl.logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	pl.cmd.Stderr = logFile
	stdout, err := pl.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := pl.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	serving := make(chan struct{}, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if strings.Contains(s.Text(), "serving") {
				serving <- struct{}{}
			}
		}
		pl.exited <- pl.cmd.Wait()
	}()
	t.Cleanup(pl.stop)
	select {
	case <-serving:
	case err := <-pl.exited:
		t.Fatalf("ecs-local exited before serving (%v):\n%s", err, pl.log())
	case <-time.After(time.Minute):
		t.Fatalf("ecs-local never said it serves:\n%s", pl.log())
	}
	if pl.keys, err = access.Read(creds); err != nil {
		t.Fatalf("ecs-local's access file: %v", err)
	}
	u, err := url.Parse(pl.keys.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	pl.addr = u.Host
	pl.ecs = ecs.New(ecs.Options{
		Region: pl.keys.Region, BaseEndpoint: aws.String(pl.keys.Endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: pl.keys.AccessKeyID, SecretAccessKey: pl.keys.SecretAccessKey}, nil
		}),
	})
	p.step("local control plane (ecs-local) serving cluster %q on %s", pl.cluster, pl.keys.Endpoint)
	return pl
}

func (pl *plane) stop() {
	if pl.cmd == nil {
		return
	}
	_ = pl.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-pl.exited:
	case <-time.After(30 * time.Second):
		_ = pl.cmd.Process.Kill()
		<-pl.exited
	}
	pl.cmd = nil
}

func (pl *plane) log() string {
	b, _ := os.ReadFile(pl.logPath)
	return tail(string(b), 8000)
}

// agentConfig is the machine's /etc/ecs/ecs.config: the plane joined as ECS is joined.
func (pl *plane) agentConfig() string {
	return strings.Join([]string{
		"ECS_CLUSTER=" + pl.cluster,
		"ECS_BACKEND_HOST=" + pl.keys.Endpoint,
		"AWS_DEFAULT_REGION=" + pl.keys.Region,
		"AWS_ACCESS_KEY_ID=" + pl.keys.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + pl.keys.SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true",
		"ECS_LOGLEVEL=info",
	}, "\n") + "\n"
}

// instances describes the cluster's container instances.
func (pl *plane) instances() ([]types.ContainerInstance, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := pl.ecs.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String(pl.cluster)})
	if err != nil || len(list.ContainerInstanceArns) == 0 {
		return nil, err
	}
	d, err := pl.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{
		Cluster: aws.String(pl.cluster), ContainerInstances: list.ContainerInstanceArns})
	if err != nil {
		return nil, err
	}
	return d.ContainerInstances, nil
}

// waitConnected waits until the cluster's one instance has its agent connected (ACS).
func (pl *plane) waitConnected(m *machine) {
	pl.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		in, err := pl.instances()
		if err == nil && len(in) == 1 && in[0].AgentConnected {
			return
		}
		if time.Now().After(deadline) {
			pl.t.Fatalf("the agent never connected to the plane (%v, %d instances); plane log:\n%s\nagent journal:\n%s",
				err, len(in), pl.log(), m.journal())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitTask polls DescribeTasks until cond holds for the task.
func (pl *plane) waitTask(m *machine, what, arn string, cond func(types.Task) bool) types.Task {
	pl.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var last types.Task
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := pl.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(pl.cluster), Tasks: []string{arn}})
		cancel()
		if err == nil && len(out.Tasks) == 1 {
			last = out.Tasks[0]
			if cond(last) {
				return last
			}
		}
		if time.Now().After(deadline) {
			pl.t.Fatalf("timed out waiting for %s (%v): last %s desired %s reason %q\nagent journal:\n%s", what, err,
				aws.ToString(last.LastStatus), aws.ToString(last.DesiredStatus), aws.ToString(last.StoppedReason), m.journal())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
