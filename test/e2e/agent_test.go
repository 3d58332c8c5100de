// Package e2e drives the ecs-agent binary against the real containerd, runc and registry.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/netns"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/containerd"
	"github.com/ecsd/ecsd/store"
)

var agentBin, initBin, localBin string

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		// A failure, not a skip: a run that tested nothing must not look like a pass.
		fmt.Fprintln(os.Stderr, "test/e2e runs the agent as root in network namespaces against the test containerd (make setup); run it as root (make test), or make test-unit for the tests that need neither")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "ecsd-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	agentBin = filepath.Join(dir, "ecs-agent")
	build := exec.Command("go", "build", "-o", agentBin, "github.com/ecsd/ecsd/cmd/ecs-agent")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ecs-agent:", err)
		os.Exit(1)
	}
	// The agent finds ecsd-logger next to its executable, as `make build` installs them.
	build = exec.Command("go", "build", "-o", dir+"/", "github.com/ecsd/ecsd/cmd/ecsd-logger", "github.com/ecsd/ecsd/cmd/ecsd-logger-awslogs", "github.com/ecsd/ecsd/cmd/ecsd-logger-ship")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ecsd-logger:", err)
		os.Exit(1)
	}
	// And ecsd-init, the init of initProcessEnabled containers and the namespace holder.
	build = exec.Command("go", "build", "-o", filepath.Join(dir, "ecsd-init"), "github.com/ecsd/ecsd/cmd/ecsd-init")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ecsd-init:", err)
		os.Exit(1)
	}
	initBin = filepath.Join(dir, "ecs-init")
	build = exec.Command("go", "build", "-o", initBin, "github.com/ecsd/ecsd/cmd/ecs-init")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ecs-init:", err)
		os.Exit(1)
	}
	// The standalone local control plane, for tests with several agents in one cluster.
	localBin = filepath.Join(dir, "ecs-local")
	build = exec.Command("go", "build", "-o", localBin, "github.com/ecsd/ecsd/cmd/ecs-local")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ecs-local:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// agentHost is one agent installation: its data directory, task files and containerd
// namespace, and the agent process when running.
type agentHost struct {
	t  *testing.T
	ns string
	// containerd is the socket of the containerd the agent uses: the test environment's,
	// or one of the test's own (newAgentHostOn).
	containerd string
	dir        string
	tasks      string
	rt         *containerd.Runtime
	cmd        *exec.Cmd
	log        *os.File
	// env is appended to the agent's environment on every start; a later entry for the
	// same variable wins.
	env []string
	// args replaces the default arguments (local mode with ACS task files).
	args []string
	// bin replaces the agent binary (agentBin): e.g. an ecs-init that executes the agent.
	bin string
	// netns is the test host: the network namespace the agent runs in, so its bridge,
	// iptables rules and ports never touch the machine's own.
	netns string
	// forwarded are the loopback addresses of the machine (registries, a test backend,
	// an IMDS emulator) that the test host reaches on the same address.
	forwarded map[string]*netns.Forwarder
}

// testHostDir holds the e2e test hosts' namespace files.
const testHostDir = "/run/ecsd-e2e"

func newAgentHost(t *testing.T) *agentHost {
	t.Helper()
	testenv.RequireContainerd(t)
	return newAgentHostOn(t, testenv.ContainerdAddress())
}

// newAgentHostOn is newAgentHost with the containerd at address.
func newAgentHostOn(t *testing.T, address string) *agentHost {
	t.Helper()
	testenv.RequireRoot(t)
	h := &agentHost{t: t, ns: testenv.UniqueName(t, "e2e"), dir: t.TempDir(), forwarded: map[string]*netns.Forwarder{},
		containerd: address}
	h.tasks = filepath.Join(h.dir, "tasks")
	h.newTestHost()
	if err := os.MkdirAll(h.tasks, 0o755); err != nil {
		t.Fatal(err)
	}
	rt, err := containerd.New(context.Background(), address, h.ns)
	if err != nil {
		t.Fatal(err)
	}
	h.rt = rt
	t.Cleanup(func() {
		h.kill(syscall.SIGKILL)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := rt.Purge(ctx); err != nil {
			t.Errorf("purge %s: %v", h.ns, err)
		}
		rt.Close()
		// Namespaces the agent left for its tasks are bind mounts under its data dir.
		if err := netns.DeleteDir(filepath.Join(h.dir, "data", "cni", "netns")); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("delete task namespaces: %v", err)
		}
	})
	return h
}

// newTestHost creates the agent's network namespace with loopback up and the registries
// forwarded into it.
func (h *agentHost) newTestHost() {
	h.t.Helper()
	path, err := netns.Create(testHostDir, h.ns)
	if err != nil {
		h.t.Fatalf("create test host: %v", err)
	}
	h.netns = path
	h.t.Cleanup(func() {
		for _, f := range h.forwarded {
			_ = f.Close()
		}
		if err := netns.Delete(path); err != nil {
			h.t.Errorf("delete test host: %v", err)
		}
	})
	ipIn(h.t, path, "link", "set", "lo", "up")
	h.forward(testenv.Registry())
	h.forward(testenv.AuthRegistry())
}

// forward makes the machine's loopback address addr reachable at the same address inside
// the test host.
func (h *agentHost) forward(addr string) {
	h.t.Helper()
	if _, ok := h.forwarded[addr]; ok {
		return
	}
	f, err := netns.Forward(context.Background(), h.netns, addr, addr)
	if err != nil {
		h.t.Fatalf("forward %s into the test host: %v", addr, err)
	}
	h.forwarded[addr] = f
}

// loopbackAddr matches host:port of a loopback URL in an environment value.
var loopbackAddr = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)

// dial connects to addr from inside the test host, as a process on that host would.
func (h *agentHost) dial(ctx context.Context, addr string) (net.Conn, error) {
	return netns.Dial(ctx, h.netns, "tcp", addr)
}

// addTask writes an ACS task JSON file the agent picks up in local mode.
func (h *agentHost) addTask(id, containersJSON string) {
	h.t.Helper()
	js := fmt.Sprintf(`{"arn":"arn:aws:ecs:local:000000000000:task/e2e/%s","family":"e2e","version":"1","desiredStatus":"RUNNING","networkMode":"host","containers":%s}`, id, containersJSON)
	if err := os.WriteFile(filepath.Join(h.tasks, id+".json"), []byte(js), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *agentHost) start() {
	h.t.Helper()
	log, err := os.OpenFile(filepath.Join(h.dir, "agent.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	args := h.args
	if args == nil {
		args = []string{"--local", "--local-api", "127.0.0.1:0", "--acs-tasks", h.tasks}
	}
	bin := h.bin
	if bin == "" {
		bin = agentBin
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"ECSD_CONTAINERD_ADDRESS="+h.containerd,
		"ECSD_CONTAINERD_NAMESPACE="+h.ns,
		// Host-network tasks join the test host, where the agent runs, not the machine's
		// namespace where containerd's shims run.
		"ECSD_HOST_NETNS="+h.netns,
		"ECS_DATADIR="+filepath.Join(h.dir, "data"),
		// The installation's secrets stay with this agent host, never the machine's.
		"ECSD_API_TOKEN_FILE="+filepath.Join(h.dir, "secrets", "api-token"),
		"ECSD_LOCAL_CREDENTIALS_FILE="+filepath.Join(h.dir, "secrets", "local-plane.json"),
		"ECS_LOGLEVEL=info",
		"AWS_EC2_METADATA_DISABLED=true",
	)
	cmd.Env = append(cmd.Env, h.env...)
	for _, kv := range h.env {
		for _, addr := range loopbackAddr.FindAllString(kv, -1) {
			h.forward(addr)
		}
	}
	cmd.Stdout, cmd.Stderr = log, log
	// A child forked from a thread inside the test host starts there.
	if err := netns.Do(h.netns, cmd.Start); err != nil {
		h.t.Fatal(err)
	}
	h.cmd, h.log = cmd, log
}

// kill signals the agent and waits for it to exit.
func (h *agentHost) kill(sig syscall.Signal) {
	if h.cmd == nil {
		return
	}
	_ = h.cmd.Process.Signal(sig)
	_ = h.cmd.Wait()
	h.log.Close()
	h.cmd = nil
}

func (h *agentHost) agentLog() string {
	b, _ := os.ReadFile(filepath.Join(h.dir, "agent.log"))
	s := string(b)
	if len(s) > 6000 {
		s = s[len(s)-6000:]
	}
	return s
}

// waitRuntime polls the runtime until cond holds for the containers it sees, keyed by
// the object they belong to (byObject).
func (h *agentHost) waitRuntime(what string, cond func(map[string]runtime.ContainerState) bool) {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last map[string]runtime.ContainerState
	var lastErr error
	for time.Now().Before(deadline) {
		list, err := h.rt.ListContainers(context.Background())
		lastErr = err
		if err == nil {
			m := byObject(list)
			last = m
			if cond(m) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	states := map[string]string{}
	for id, c := range last {
		states[id] = fmt.Sprintf("%s(exit %d)", c.Status, c.ExitCode)
	}
	h.t.Errorf("timed out waiting for %s; runtime sees %v (%v)", what, states, lastErr)
	h.kill(syscall.SIGTERM)
	tasks, ctrs := h.objects()
	for _, t := range tasks {
		h.t.Errorf("task %s: known %s desired %s/%s reason %q", t.Name, t.Status.KnownStatus, t.Spec.DesiredStatus, t.Status.DesiredStatus, t.Status.StoppedReason)
	}
	for _, c := range ctrs {
		h.t.Errorf("container %s: known %s desired %s reason %q history %v", c.Name, c.Status.KnownStatus, c.Status.DesiredStatus, c.Status.Reason, c.Status.History)
	}
	h.t.Fatalf("agent log tail:\n%s", h.agentLog())
}

// objects opens the agent's checkpoint (the agent must be stopped) and returns its tasks
// and containers.
func (h *agentHost) objects() (map[string]api.Task, map[string]api.Container) {
	h.t.Helper()
	scheme := k8sruntime.NewScheme()
	_ = api.AddToScheme(scheme)
	st, err := store.New(context.Background(), scheme, store.WithCheckpoint(filepath.Join(h.dir, "data", "ecsd.db")))
	if err != nil {
		h.t.Fatalf("open checkpoint: %v", err)
	}
	defer st.Close()
	var tl api.TaskList
	var cl api.ContainerList
	if err := st.List(context.Background(), &tl); err != nil {
		h.t.Fatal(err)
	}
	if err := st.List(context.Background(), &cl); err != nil {
		h.t.Fatal(err)
	}
	tasks, ctrs := map[string]api.Task{}, map[string]api.Container{}
	for _, t := range tl.Items {
		tasks[t.Name] = t
	}
	for _, c := range cl.Items {
		ctrs[c.Name] = c
	}
	return tasks, ctrs
}

// waitLog waits until the agent's log contains s: what an operator tailing it would see.
func (h *agentHost) waitLog(s string) {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(filepath.Join(h.dir, "agent.log")); strings.Contains(string(b), s) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("agent never logged %q; log tail:\n%s", s, h.agentLog())
}

func running(ids ...string) func(map[string]runtime.ContainerState) bool {
	return func(m map[string]runtime.ContainerState) bool {
		for _, id := range ids {
			if m[id].Status != runtime.StatusRunning {
				return false
			}
		}
		return true
	}
}

const service = `["sh","-c","trap 'exit 0' TERM; while true; do sleep 0.1; done"]`

func TestAgentRunsTasksAndSurvivesRestart(t *testing.T) {
	h := newAgentHost(t)
	h.addTask("web", fmt.Sprintf(`[{"name":"app","image":%q,"essential":true,"command":%s}]`, testenv.BusyboxImage(), service))
	h.start()
	h.waitRuntime("web-app running", running("web-app"))
	h.waitLog(`task=arn:aws:ecs:local:000000000000:task/e2e/web from=CREATED to=RUNNING`)
	before, _ := h.rt.InspectContainer(context.Background(), runtimeID("web", "app"))

	// SIGTERM: the agent exits 0 and leaves the task running; the next start adopts it.
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("agent exit after SIGTERM: %v\n%s", err, h.agentLog())
	}
	h.cmd = nil
	if st, _ := h.rt.InspectContainer(context.Background(), runtimeID("web", "app")); st.Status != runtime.StatusRunning || st.Pid != before.Pid {
		t.Fatalf("task container did not survive the agent stop: %+v", st)
	}
	tasks, _ := h.objects()
	if tasks["web"].Status.KnownStatus != api.TaskStatusRunning {
		t.Fatalf("checkpointed task status %q, want RUNNING", tasks["web"].Status.KnownStatus)
	}
	h.start()
	defer h.kill(syscall.SIGTERM)
	h.waitRuntime("web-app still running", running("web-app"))
	if st, _ := h.rt.InspectContainer(context.Background(), runtimeID("web", "app")); st.Pid != before.Pid {
		t.Fatalf("restarted agent replaced the container (pid %d → %d)", before.Pid, st.Pid)
	}
}

// TestAgentSIGKILLAtEachStep kills the agent with SIGKILL as soon as each lifecycle step is
// visible in containerd, restarts it, and checks that every task converges with no
// duplicate or orphaned container, snapshot or log file.
func TestAgentSIGKILLAtEachStep(t *testing.T) {
	h := newAgentHost(t)
	for i := 0; i < 3; i++ {
		h.addTask(fmt.Sprintf("k%d", i), fmt.Sprintf(`[{"name":"app","image":%q,"essential":true,"command":%s},{"name":"side","image":%q,"essential":false,"command":%s}]`,
			testenv.BusyboxImage(), service, testenv.BusyboxImage(), service))
	}
	steps := []struct {
		what string
		cond func(map[string]runtime.ContainerState) bool
	}{
		{"first container created", func(m map[string]runtime.ContainerState) bool { return len(m) >= 1 }},
		{"first container running", func(m map[string]runtime.ContainerState) bool {
			for _, c := range m {
				if c.Status == runtime.StatusRunning {
					return true
				}
			}
			return false
		}},
		{"half the containers running", func(m map[string]runtime.ContainerState) bool {
			n := 0
			for _, c := range m {
				if c.Status == runtime.StatusRunning {
					n++
				}
			}
			return n >= 3
		}},
	}
	for _, s := range steps {
		h.start()
		h.waitRuntime(s.what, s.cond)
		h.kill(syscall.SIGKILL)
	}
	h.start()
	all := []string{"k0-app", "k0-side", "k1-app", "k1-side", "k2-app", "k2-side"}
	h.waitRuntime("all containers running", running(all...))
	h.kill(syscall.SIGKILL)

	list, err := h.rt.ListContainers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(all) {
		t.Fatalf("runtime has %d containers, want %d", len(list), len(all))
	}
	out, err := exec.Command("ctr", "--address", testenv.ContainerdAddress(), "-n", h.ns, "snapshots", "ls").CombinedOutput()
	if err != nil {
		t.Fatalf("ctr snapshots ls: %v: %s", err, out)
	}
	active := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "Active") {
			active++
		}
	}
	if active != len(all) {
		t.Fatalf("%d active snapshots, want %d (one per container):\n%s", active, len(all), out)
	}
	tasks, ctrs := h.objects()
	if len(tasks) != 3 || len(ctrs) != len(all) {
		t.Fatalf("checkpoint holds %d tasks and %d containers", len(tasks), len(ctrs))
	}
	logs, _ := filepath.Glob(filepath.Join(h.dir, "data", "tasks", "*", "logs", "*.log"))
	if len(logs) != len(all) {
		t.Fatalf("%d log files, want %d: %v", len(logs), len(all), logs)
	}
}
