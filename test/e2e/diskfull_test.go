package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/containerlog"
	"github.com/ecsd/ecsd/internal/testenv"
)

// TestDataDirFull runs the agent with its data directory on a 48 MiB tmpfs and a noisy
// task that fills it with its output. Every container keeps running and writing (each
// counts its rounds in a file outside the data directory), the agent reports the full
// directory (log line, the Instance's DataDirFull condition, LogDrops on the containers),
// a task started and stopped while the disk is full is reported RUNNING then STOPPED, and
// when the noisy task is stopped and cleaned up the agent reports space again by itself
// and the quiet container's log gets a marker line saying what it lost.
func TestDataDirFull(t *testing.T) {
	h := newAgentHost(t)
	b := newBackend(t)
	data := filepath.Join(h.dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", data, "tmpfs", 0, "size=48m,mode=0700"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		// The tasks' loggers write into it until their tasks are gone.
		h.kill(syscall.SIGKILL)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := h.rt.Purge(ctx); err != nil {
			t.Errorf("purge: %v", err)
		}
		if err := unix.Unmount(data, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", data, err)
		}
	})
	beats := filepath.Join(h.dir, "beats")
	if err := os.MkdirAll(beats, 0o755); err != nil {
		t.Fatal(err)
	}
	h.args = []string{}
	h.env = append(h.env, b.agentEnv()...)
	h.env = append(h.env, "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=5s", "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION_JITTER=1ms")
	h.start()
	defer h.kill(syscall.SIGTERM)
	b.waitConnected(h)
	objects := newObjectClient(h)

	// 2 KiB/s: a tmpfs page of its log lasts two seconds once the disk is full.
	quiet := b.beatingDef(beats, "e2e-quiet", `echo "quiet $i `+strings.Repeat("q", 190)+`"; sleep 0.1`)
	noisy := b.beatingDef(beats, "e2e-noisy", `head -c 1048576 /dev/zero | tr '\0' n; echo`)
	quietARN := b.runTask(quiet, 1)
	b.waitTasks("quiet RUNNING", time.Minute, quietARN, lastStatus("RUNNING"))
	if !objects.dataDirFull(t, false) {
		t.Fatal("DataDirFull before anything filled the disk")
	}
	noisyARN := b.runTask(noisy, 1)
	b.waitTasks("noisy RUNNING", time.Minute, noisyARN, lastStatus("RUNNING"))

	// Full: the noisy task's output fills the tmpfs.
	waitUntil(t, h, "the data directory to fill up and the agent to report it", 2*time.Minute, func() bool {
		return freeBytes(t, data) < 1<<20 && objects.dataDirFull(t, true)
	})
	h.waitLog("the data directory is full")
	cond := objects.condition(t)
	if cond.Reason != api.InstanceReasonNoSpace || cond.LastTransitionTime.IsZero() {
		t.Errorf("DataDirFull condition while full: %+v", cond)
	}

	// Both containers go on: 30 more quiet rounds, 8 MiB more noisy output (far beyond a
	// pipe's 64 KiB and the logger's 1 MiB buffer), all while the disk is full.
	q0, n0 := beat(t, beats, "e2e-quiet"), beat(t, beats, "e2e-noisy")
	waitUntil(t, h, "both containers to keep writing while the disk is full", 2*time.Minute, func() bool {
		return beat(t, beats, "e2e-quiet") >= q0+30 && beat(t, beats, "e2e-noisy") >= n0+8
	})
	if free := freeBytes(t, data); free >= 1<<20 {
		t.Fatalf("the disk has %d bytes free again too early", free)
	}

	// State changes while full: a task started and stopped, and the noisy task stopped.
	later := b.beatingDef(beats, "e2e-later", `sleep 0.2`)
	laterARN := b.runTask(later, 1)
	b.waitTasks("a task started on the full disk RUNNING", time.Minute, laterARN, lastStatus("RUNNING"))
	b.stopTask(laterARN[0])
	b.waitTasks("that task STOPPED", time.Minute, laterARN, lastStatus("STOPPED"))
	if !objects.dataDirFull(t, true) {
		t.Fatal("the disk stopped being full before the noisy task was stopped")
	}
	b.stopTask(noisyARN[0])
	b.waitTasks("noisy STOPPED", time.Minute, noisyARN, lastStatus("STOPPED"))

	// Cleaning the noisy task up frees its log: the agent and the loggers recover alone.
	waitUntil(t, h, "the agent to report space again", 2*time.Minute, func() bool { return objects.dataDirFull(t, false) })
	h.waitLog("the data directory has space again")
	if c := objects.condition(t); c.Reason != api.InstanceReasonHasSpace || !c.LastTransitionTime.After(cond.LastTransitionTime.Time) {
		t.Errorf("DataDirFull condition after recovery: %+v (was %+v)", c, cond)
	}
	quietTask := taskIDOf(quietARN[0])
	quietLog := api.ContainerLogPath(data, quietTask, "app")
	q1 := beat(t, beats, "e2e-quiet")
	deadline := time.Now().Add(time.Minute)
	for {
		b, rerr := os.ReadFile(quietLog)
		i := strings.Index(string(b), containerlog.MarkerPrefix+"dropped ")
		if i >= 0 && strings.Contains(string(b[i:]), "no space left on device") &&
			strings.Contains(string(b[i:]), "\nquiet "+strconv.Itoa(q1+5)+" ") {
			break
		}
		if time.Now().After(deadline) {
			st, err := containerlog.ReadStatus(quietLog)
			ls, _ := exec.Command("ls", "-laR", filepath.Join(data, "tasks")).CombinedOutput()
			t.Fatalf("the quiet container's log never said what it lost (round %d now, %d then); status %+v (%v); read %v; files:\n%s\nlog tail:\n%s",
				beat(t, beats, "e2e-quiet"), q1, st, err, rerr, ls, b[max(0, len(b)-1500):])
		}
		time.Sleep(100 * time.Millisecond)
	}
	var ctr api.Container
	waitUntil(t, h, "the quiet container's dropped output recorded", time.Minute, func() bool {
		ctr = api.Container{}
		objects.get(t, "/containers/"+quietTask+"-app", &ctr)
		d := ctr.Status.LogDrops
		return d != nil && !d.Dropping && d.Bytes > 0 && d.Lines > 0 && d.Episodes >= 1
	})
	if !slices.ContainsFunc(ctr.Status.History, func(tr api.Transition) bool { return tr.To == "log:dropping" }) ||
		ctr.Status.History[len(ctr.Status.History)-1].To != "log:writing" {
		t.Errorf("quiet container history: %+v", ctr.Status.History)
	}

	// ECS heard every state change, in order, none lost; the quiet task never stopped.
	for _, c := range []struct {
		arn  string
		want []string
	}{{laterARN[0], []string{"RUNNING", "STOPPED"}}, {noisyARN[0], []string{"RUNNING", "STOPPED"}}, {quietARN[0], []string{"RUNNING"}}} {
		if got := compact(b.taskStatuses(c.arn)); !slices.Equal(got, c.want) {
			t.Errorf("task %s state changes %v, want %v", c.arn, got, c.want)
		}
	}
	b.waitTasks("quiet still RUNNING", time.Minute, quietARN, lastStatus("RUNNING"))
	// The checkpoint's reserve took every state change: not one commit failed.
	if log, _ := os.ReadFile(filepath.Join(h.dir, "agent.log")); strings.Contains(string(log), "commit checkpoint") {
		t.Errorf("a checkpoint commit failed while the disk was full:\n%s", h.agentLog())
	}
}

// beatingDef registers a host-network task definition whose container counts its rounds
// in <beats>/<family> (a host directory outside the data directory) and runs body in
// each round; it stops on SIGTERM.
func (b *backend) beatingDef(beats, family, body string) string {
	b.t.Helper()
	cmd := "trap 'exit 0' TERM; i=0; while true; do i=$((i+1)); echo $i > /beats/" + family + ".tmp; mv /beats/" + family + ".tmp /beats/" + family + "; " + body + "; done"
	out, err := b.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String(family),
		NetworkMode: types.NetworkModeHost,
		Volumes:     []types.Volume{{Name: aws.String("beats"), Host: &types.HostVolumeProperties{SourcePath: aws.String(beats)}}},
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:        aws.String("app"),
			Image:       aws.String(testenv.BusyboxImage()),
			Essential:   aws.Bool(true),
			Memory:      aws.Int32(64),
			Command:     []string{"sh", "-c", cmd},
			MountPoints: []types.MountPoint{{SourceVolume: aws.String("beats"), ContainerPath: aws.String("/beats")}},
		}},
	})
	if err != nil {
		b.t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

// beat is the round a beatingDef container last counted (0 before its first).
func beat(t *testing.T, dir, family string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, family))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("beat of %s: %q", family, b)
	}
	return n
}

func freeBytes(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Bfree * uint64(st.Bsize)
}

// waitUntil polls cond until it holds, showing the agent's log (and what each of last
// says) on timeout.
func waitUntil(t *testing.T, h *agentHost, what string, timeout time.Duration, cond func() bool, last ...func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			for _, l := range last {
				t.Errorf("last seen: %s", l())
			}
			t.Fatalf("timed out waiting for %s; agent log tail:\n%s", what, h.agentLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// objectClient reads the agent's object API from inside its test host, with the API
// token when the agent keeps one.
type objectClient struct {
	h *agentHost
	c *http.Client
}

func newObjectClient(h *agentHost) *objectClient {
	return &objectClient{h: h, c: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) { return h.dial(ctx, addr) },
	}}}
}

// get reads path under the object API into v; it reports whether it could.
func (o *objectClient) get(t *testing.T, path string, v any) bool {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, objectAPI+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := os.ReadFile(filepath.Join(o.h.dir, "secrets", "api-token")); err == nil {
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	resp, err := o.c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return false
	}
	return json.Unmarshal(body, v) == nil
}

// condition is the Instance's DataDirFull condition (zero when absent).
func (o *objectClient) condition(t *testing.T) metav1.Condition {
	t.Helper()
	var inst api.Instance
	if !o.get(t, "/instances/instance", &inst) {
		return metav1.Condition{}
	}
	if c := meta.FindStatusCondition(inst.Status.Conditions, api.InstanceConditionDataDirFull); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// dataDirFull reports whether the condition is known and says full == want.
func (o *objectClient) dataDirFull(t *testing.T, want bool) bool {
	t.Helper()
	c := o.condition(t)
	if c.Type == "" {
		return false
	}
	return (c.Status == metav1.ConditionTrue) == want
}
