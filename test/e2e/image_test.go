package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/containerd"
)

// imageVersion is stamped into the image's binaries, so a test can tell the agent from the
// image from the one TestMain builds.
const imageVersion = "0.0.0-e2e-image"

// builtImage is the agent image the test built and pushed.
type builtImage struct {
	out string // agentimage's output directory
	ref string // the pushed index in the local registry
}

// buildAgentImage builds the agent image for linux/amd64 and linux/arm64 with
// hack/mkimage/agentimage (as `make image` does, with a version of its own) and pushes it
// to the local registry (as `make push` does). The repository and tag are fixed, so runs
// overwrite one tag and the registry keeps one copy of the blobs.
func buildAgentImage(t *testing.T) builtImage {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	img := builtImage{out: filepath.Join(t.TempDir(), "image"), ref: testenv.Registry() + "/ecsd-e2e/ecs-agent:e2e"}
	tool := func(args ...string) string {
		t.Helper()
		began := time.Now()
		cmd := exec.Command("go", append([]string{"run", "./agentimage"}, args...)...)
		cmd.Dir = filepath.Join(root, "hack", "mkimage")
		out, err := cmd.CombinedOutput()
		t.Logf("agentimage %s (%s):\n%s", args[0], time.Since(began).Round(time.Second), out)
		if err != nil {
			t.Fatalf("agentimage %s: %v", args[0], err)
		}
		return string(out)
	}
	out := tool("build", "-src", root, "-out", img.out, "-version", imageVersion,
		"-ldflags", "-s -w -X github.com/ecsd/ecsd/internal/version.Version="+imageVersion)
	if !strings.Contains(out, "linux/amd64, linux/arm64") {
		t.Fatalf("agentimage build did not report both platforms")
	}
	tool("push", "-layout", filepath.Join(img.out, "oci"), "-to", img.ref)
	return img
}

// registryPlatforms fetches ref's manifest from the registry as an image index (what
// `crane manifest` prints) and returns its platforms.
func registryPlatforms(t *testing.T, ref string) []string {
	t.Helper()
	host, rest, _ := strings.Cut(ref, "/")
	repo, tag, _ := strings.Cut(rest, ":")
	req, err := http.NewRequest(http.MethodGet, "http://"+host+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s manifest: %s: %s", ref, resp.Status, body)
	}
	var idx struct {
		MediaType string `json:"mediaType"`
		Manifests []struct {
			Platform struct{ OS, Architecture, Variant string } `json:"platform"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(body, &idx); err != nil {
		t.Fatalf("manifest of %s: %v: %s", ref, err, body)
	}
	var out []string
	for _, m := range idx.Manifests {
		out = append(out, m.Platform.OS+"/"+m.Platform.Architecture)
	}
	slices.Sort(out)
	return out
}

// ctr runs containerd's ctr against the test containerd; a failure fails the test with
// its output.
func ctr(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ctr", append([]string{"--address", testenv.ContainerdAddress()}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// sharedMount makes dir (created if needed) a shared mount point of its own on the host,
// as README "Agent image" has the host prepare the agent's data directory: the network
// namespaces and tmpfs mounts the agent makes inside its container then appear on the
// host, where runc opens them. It is undone when the test ends.
func sharedMount(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		src   string
		flags uintptr
	}{{dir, unix.MS_BIND}, {"", unix.MS_PRIVATE}, {"", unix.MS_SHARED}} {
		if err := unix.Mount(step.src, dir, "", step.flags, ""); err != nil {
			t.Fatalf("make %s a shared mount: %v", dir, err)
		}
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// processesRunning lists the PIDs whose executable is path.
func processesRunning(path string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == path {
			pids = append(pids, pid)
		}
	}
	return pids
}

// taskLogHas reports whether some task log file under the agent's data directory holds s.
func taskLogHas(h *agentHost, s string) bool {
	logs, _ := filepath.Glob(filepath.Join(h.dir, "data", "tasks", "*", "logs", "*.log"))
	for _, l := range logs {
		if b, err := os.ReadFile(l); err == nil && bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}

// runOneTask registers a one-container task definition with the plane, runs it and waits
// until the plane reports it RUNNING (and its output in the task's log file); calls
// whileRunning; then stops it and waits for STOPPED.
func runOneTask(t *testing.T, plane *standalonePlane, h *agentHost, mode types.NetworkMode, whileRunning func()) {
	t.Helper()
	ctx := context.Background()
	hello := "hello from " + h.ns
	def, err := plane.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String(h.ns),
		NetworkMode: mode,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String(testenv.BusyboxImage()), Essential: aws.Bool(true), Memory: aws.Int32(32),
			Command: []string{"sh", "-c", "echo " + hello + "; trap 'exit 0' TERM; while true; do sleep 0.2; done"},
		}},
	})
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	run, err := plane.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String(plane.cluster), TaskDefinition: def.TaskDefinition.TaskDefinitionArn})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("RunTask: %v (%+v)", err, run)
	}
	arn := aws.ToString(run.Tasks[0].TaskArn)
	plane.waitTasks(t, "the task RUNNING", []string{arn}, lastStatus("RUNNING"), h)
	if n := runningContainers(t, h); n != 1 {
		t.Fatalf("containerd runs %d containers of the agent's, want 1", n)
	}
	// The output went through ecsd-logger, which the shim ran from the host.
	waitMinute(t, "the task's output in its log file", func() bool { return taskLogHas(h, hello) })
	whileRunning()
	if _, err := plane.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(plane.cluster), Task: aws.String(arn)}); err != nil {
		t.Fatalf("StopTask: %v", err)
	}
	plane.waitTasks(t, "the task STOPPED", []string{arn}, lastStatus("STOPPED"), h)
}

// TestAgentImage builds the two-platform agent image, pushes it to the local registry and
// checks the index there; then runs the agent from it both ways README "Agent image"
// documents, each in a test host (a network namespace of the test's) registered with a
// standalone local plane that runs a task on it.
func TestAgentImage(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireContainerd(t)
	testenv.RequireRegistries(t)
	img := buildAgentImage(t)
	if got := registryPlatforms(t, img.ref); !slices.Equal(got, []string{"linux/amd64", "linux/arm64"}) {
		t.Fatalf("the pushed index has platforms %v, want linux/amd64 and linux/arm64", got)
	}
	t.Run("ctr run", func(t *testing.T) { testImageUnderContainerd(t, img) })
	t.Run("ecs-init", func(t *testing.T) { testImageFromECSInit(t, img) })
}

// testImageUnderContainerd pulls the image with ctr and runs it as README's ctr line does:
// privileged, the host's PID namespace, the host's "network" (here the test host's
// namespace), /run, the cgroup file system, the host's /usr read-only, containerd's root
// directory, and the agent's
// directories at the same paths (here all under the test's directory, prepared as shared
// mounts). A bridge-mode task runs: the agent ran the CNI plugins and iptables from the
// host's /usr, the task's namespace reached runc on the host, and containerd's shim ran
// ecsd-logger from the helpers directory the agent filled.
func testImageUnderContainerd(t *testing.T, img builtImage) {
	t.Helper()
	plane := startStandalonePlane(t)
	h := newAgentHost(t)
	ns, id := h.ns+"-agent", "ecs-agent"
	data, helpers := filepath.Join(h.dir, "data"), filepath.Join(h.dir, "deps", "ecsd")
	sharedMount(t, data)
	sharedMount(t, filepath.Join(data, "cni", "netns"))
	// Cleaned up first: the agent's container goes before the mounts it uses.
	rt, err := containerd.New(context.Background(), testenv.ContainerdAddress(), ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := rt.Purge(ctx); err != nil {
			t.Errorf("purge %s: %v", ns, err)
		}
		rt.Close()
	})
	ctr(t, "-n", ns, "images", "pull", "--plain-http", img.ref)

	env := append([]string{
		"ECSD_CONTAINERD_ADDRESS=" + testenv.ContainerdAddress(),
		"ECSD_CONTAINERD_NAMESPACE=" + h.ns,
		"ECSD_HOST_NETNS=" + h.netns,
		"ECS_DATADIR=" + data,
		"ECS_LOGFILE=",
		"ECSD_HELPERS_DIR=" + helpers,
		"ECSD_API_TOKEN_FILE=" + filepath.Join(h.dir, "secrets", "api-token"),
		"ECSD_LOCAL_CREDENTIALS_FILE=" + filepath.Join(h.dir, "secrets", "local-plane.json"),
		"ECS_LOGLEVEL=info",
		"AWS_EC2_METADATA_DISABLED=true",
	}, plane.agentEnv()...)
	for _, kv := range env {
		for _, addr := range loopbackAddr.FindAllString(kv, -1) {
			h.forward(addr)
		}
	}
	args := []string{"-n", ns, "run", "-d", "--privileged", "--rootfs-propagation", "rshared",
		"--log-uri", "file://" + filepath.Join(h.dir, "agent.log"),
		// The machine's PID 1 is not readable here; this process is in the same (host) PID
		// namespace.
		"--with-ns", fmt.Sprintf("pid:/proc/%d/ns/pid", os.Getpid()),
		"--with-ns", "network:" + h.netns,
		"--mount", "type=bind,src=/run,dst=/run,options=rbind:rslave",
		"--mount", "type=bind,src=/sys/fs/cgroup,dst=/sys/fs/cgroup,options=rbind:rw",
		"--mount", "type=bind,src=/usr,dst=/usr,options=rbind:ro",
		"--mount", "type=bind,src=" + testenv.ContainerdRoot() + ",dst=" + testenv.ContainerdRoot() + ",options=rbind",
		"--mount", "type=bind,src=/etc/alternatives,dst=/etc/alternatives,options=rbind:ro",
		"--mount", "type=bind,src=" + h.dir + ",dst=" + h.dir + ",options=rbind:rshared",
	}
	for _, kv := range env {
		args = append(args, "--env", kv)
	}
	ctr(t, append(args, img.ref, id)...)

	plane.connectedInstances(t, 1, h)
	// The agent copied its helpers to the host directory and hands those to containerd.
	for _, name := range []string{"ecsd-logger", "ecsd-logger-awslogs", "ecsd-logger-ship", "ecsd-init"} {
		if fi, err := os.Stat(filepath.Join(helpers, name)); err != nil || fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("helper %s not installed on the host: %v", name, err)
		}
	}
	h.waitLog("ecsd ecs-agent " + imageVersion)
	logger := filepath.Join(helpers, "ecsd-logger")
	runOneTask(t, plane, h, types.NetworkModeBridge, func() {
		if n := len(processesRunning(logger)); n != 1 {
			t.Errorf("%d processes run %s, want the task container's logger", n, logger)
		}
	})

	// SIGTERM, as `ctr task kill` sends it: the agent exits 0.
	ctr(t, "-n", ns, "task", "kill", "--signal", "SIGTERM", id)
	waitMinute(t, "the agent's container to stop", func() bool {
		st, err := rt.InspectContainer(context.Background(), id)
		return err == nil && st.Status == runtime.StatusStopped
	})
	if st, _ := rt.InspectContainer(context.Background(), id); st.ExitCode != 0 {
		t.Errorf("the agent exited %d on SIGTERM; log:\n%s", st.ExitCode, h.agentLog())
	}
}

// testImageFromECSInit loads the image's docker-archive from ecs-init's cache with
// reload-cache and runs the agent with `ecs-init start`, which copies the image's binaries
// to the host and execs the agent there; then checks that start pulls the image from the
// registry when neither containerd nor the cache has it.
func testImageFromECSInit(t *testing.T, img builtImage) {
	t.Helper()
	plane := startStandalonePlane(t)
	h := newAgentHost(t)
	ns := h.ns + "-agent"
	rt, err := containerd.New(context.Background(), testenv.ContainerdAddress(), ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := rt.Purge(ctx); err != nil {
			t.Errorf("purge %s: %v", ns, err)
		}
		rt.Close()
	})
	cache, deps := filepath.Join(h.dir, "cache"), filepath.Join(h.dir, "deps", "ecsd")
	if err := os.MkdirAll(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	tarball, err := os.ReadFile(filepath.Join(img.out, "ecs-agent-amd64.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache, "ecs-agent.tar"), tarball, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache, "state"), []byte("2"), 0o644); err != nil {
		t.Fatal(err)
	}
	initEnv := append(os.Environ(), "ECSD_CONTAINERD_ADDRESS="+testenv.ContainerdAddress(), "ECS_LOGLEVEL=info")

	// reload-cache: the archive's names land in the namespace; the state becomes 1.
	cmd := exec.Command(initBin, "reload-cache", "--cache-dir", cache, "--namespace", ns)
	cmd.Env = initEnv
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ecs-init reload-cache: %v\n%s", err, errOutput(err))
	}
	name := "docker.io/ecsd/ecs-agent:" + imageVersion
	if !strings.Contains(string(out), name) || !strings.Contains(string(out), "docker.io/ecsd/ecs-agent:latest") {
		t.Fatalf("reload-cache printed %q, want %s and :latest", out, name)
	}
	if st, _ := os.ReadFile(filepath.Join(cache, "state")); string(st) != "1" {
		t.Errorf("state file after reload-cache: %q, want 1", st)
	}
	if _, err := rt.InspectImage(context.Background(), name); err != nil {
		t.Fatalf("the loaded image: %v", err)
	}

	// start: the agent from the image runs as a host process (exec: ecs-init's PID).
	h.bin = initBin
	h.args = []string{"start", "--cache-dir", cache, "--namespace", ns, "--deps-dir", deps,
		"--versions-dir", filepath.Join(h.dir, "versions"), "--"}
	h.env = append(h.env, plane.agentEnv()...)
	// The unit's default agent arguments (--ecs-init-defaults) with the test's paths: no
	// log file of the machine's.
	h.env = append(h.env, "ECSD_AGENT_IMAGE=ecsd/ecs-agent:"+imageVersion, "ECS_LOGFILE=",
		"ECS_UPDATE_DOWNLOAD_DIR="+filepath.Join(h.dir, "updates"))
	h.start()
	defer h.kill(syscall.SIGTERM)
	plane.connectedInstances(t, 1, h)
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", h.cmd.Process.Pid)); err != nil || exe != filepath.Join(deps, "ecs-agent") {
		t.Fatalf("ecs-init start runs %q (%v), want the agent copied to %s", exe, err, deps)
	}
	h.waitLog("ecsd ecs-agent " + imageVersion)
	runOneTask(t, plane, h, types.NetworkModeHost, func() {
		if n := len(processesRunning(filepath.Join(deps, "ecsd-logger"))); n != 1 {
			t.Errorf("%d processes run the image's ecsd-logger, want the task container's", n)
		}
	})
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	if err := h.cmd.Wait(); err != nil {
		t.Errorf("the agent on SIGTERM: %v\n%s", err, h.agentLog())
	}
	h.cmd = nil

	// Neither containerd's namespace nor the cache has the image: start pulls it.
	pullNS := ns + "-pull"
	prt, err := containerd.New(context.Background(), testenv.ContainerdAddress(), pullNS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := prt.Purge(ctx); err != nil {
			t.Errorf("purge %s: %v", pullNS, err)
		}
		prt.Close()
	})
	cmd = exec.Command(initBin, "start", "--cache-dir", filepath.Join(h.dir, "no-cache"), "--namespace", pullNS,
		"--deps-dir", filepath.Join(h.dir, "pulled"), "--versions-dir", filepath.Join(h.dir, "versions"), "--", "--version")
	cmd.Env = append(initEnv, "ECSD_AGENT_IMAGE="+img.ref, "ECS_UPDATE_DOWNLOAD_DIR="+filepath.Join(h.dir, "updates"))
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ecsd ecs-agent "+imageVersion) {
		t.Fatalf("ecs-init start with an image to pull: %v\n%s", err, out)
	}
	if _, err := prt.InspectImage(context.Background(), img.ref); err != nil {
		t.Errorf("the pulled image: %v", err)
	}
}

// waitMinute polls cond until it holds, for up to a minute (a loaded machine stops an
// agent or a logger in more than testenv.WaitFor's ten seconds).
func waitMinute(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// errOutput is the stderr an exec.ExitError carries.
func errOutput(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
