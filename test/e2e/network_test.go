package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/netns"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/localplane"
	"github.com/ecsd/ecsd/runtime"
)

// webCommand serves "hello from <hostname>" on port 8080 with busybox httpd until stopped.
var webCommand = []string{"sh", "-c", `mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www`}

// webDef registers a one-container web server task definition.
func (b *backend) webDef(family string, mode types.NetworkMode, hostPort int32) string {
	b.t.Helper()
	out, err := b.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String(family),
		NetworkMode: mode,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:         aws.String("web"),
			Image:        aws.String(testenv.BusyboxImage()),
			Essential:    aws.Bool(true),
			Memory:       aws.Int32(64),
			Command:      webCommand,
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080), HostPort: aws.Int32(hostPort), Protocol: types.TransportProtocolTcp}},
		}},
	})
	if err != nil {
		b.t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

// httpGet fetches url with connections dialled by dial and returns the body.
func httpGet(t *testing.T, dial func(ctx context.Context, addr string) (net.Conn, error), url string) (string, error) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) { return dial(ctx, addr) },
	}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// waitGet waits until url serves the web task's page: RUNNING means the process started,
// not that httpd already listens.
func waitGet(t *testing.T, dial func(ctx context.Context, addr string) (net.Conn, error), url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		body, err := httpGet(t, dial, url)
		if err == nil && strings.HasPrefix(body, "hello from ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s = %q, %v; want the task's page", url, body, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *backend) stopTask(arn string) {
	b.t.Helper()
	if _, err := b.ecs.StopTask(context.Background(), &ecs.StopTaskInput{Cluster: aws.String(b.cluster), Task: aws.String(arn), Reason: aws.String("e2e")}); err != nil {
		b.t.Fatalf("StopTask: %v", err)
	}
}

// A bridge task publishes its port on a dynamic host port that answers on the test host's
// 127.0.0.1; a static host port already taken stops the second task with a clear reason;
// the port is free again once its task stopped.
func TestBridgeTaskPorts(t *testing.T) {
	t.Parallel()
	h, b := newConnectedAgent(t)
	b.waitConnected(h)

	dyn := b.runTask(b.webDef("bridge-dynamic", types.NetworkModeBridge, 0), 1)
	tasks := b.waitTasks("dynamic-port task RUNNING", 2*time.Minute, dyn, lastStatus("RUNNING"))
	nbs := tasks[0].Containers[0].NetworkBindings
	if len(nbs) != 1 || aws.ToInt32(nbs[0].HostPort) == 0 || aws.ToInt32(nbs[0].ContainerPort) != 8080 {
		t.Fatalf("network bindings = %+v, want one dynamic host port for 8080", nbs)
	}
	if ip := aws.ToString(nbs[0].BindIP); ip != "0.0.0.0" {
		t.Errorf("bindIP = %q, want 0.0.0.0", ip)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", aws.ToInt32(nbs[0].HostPort))
	waitGet(t, h.dial, url)

	// Stopping the task gives its host port back: a task asking for that port statically
	// gets it.
	b.stopTask(dyn[0])
	b.waitTasks("dynamic-port task STOPPED", time.Minute, dyn, lastStatus("STOPPED"))
	hostPort := aws.ToInt32(nbs[0].HostPort)
	again := b.runTask(b.webDef("bridge-static", types.NetworkModeBridge, hostPort), 1)
	b.waitTasks("static-port task RUNNING on the released port", 2*time.Minute, again, lastStatus("RUNNING"))
	waitGet(t, h.dial, url)
}

// Two tasks asking for the same static host port (ECS would not place them together, but
// the agent cannot trust that): one runs, the other is STOPPED naming the port. A port a
// host process holds stops the task the same way.
func TestBridgeStaticPortConflict(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	ln, err := netns.Listen(h.netns, "tcp", "0.0.0.0:8082")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	web := func(id string, port int) { h.addWebTask(id, port) }
	web("one", 8081)
	web("two", 8081)
	web("held", 8082)
	h.start()
	h.waitRuntime("one of the two 8081 tasks running", func(m map[string]runtime.ContainerState) bool {
		return m["one-web"].Status == runtime.StatusRunning || m["two-web"].Status == runtime.StatusRunning
	})
	waitGet(t, h.dial, "http://127.0.0.1:8081/")
	deadline := time.Now().Add(time.Minute)
	for {
		h.kill(syscall.SIGTERM)
		tasks, ctrs := h.objects()
		stopped := 0
		for _, id := range []string{"one", "two"} {
			if tasks[id].Status.KnownStatus == api.TaskStatusStopped {
				stopped++
				if r := ctrs[id+"-web"].Status.Reason; !strings.Contains(r, "8081/tcp") || !strings.Contains(r, "already allocated") {
					t.Errorf("task %s stopped with reason %q, want host port 8081/tcp named as already allocated", id, r)
				}
			}
		}
		held := tasks["held"].Status.KnownStatus == api.TaskStatusStopped
		if stopped == 1 && held {
			if r := ctrs["held-web"].Status.Reason; !strings.Contains(r, "8082/tcp") || !strings.Contains(r, "already allocated") {
				t.Errorf("task held stopped with reason %q, want host port 8082/tcp named as already allocated", r)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("want one 8081 task STOPPED (got %d) and the 8082 task STOPPED (%v); agent log:\n%s", stopped, held, h.agentLog())
		}
		h.start()
		time.Sleep(200 * time.Millisecond)
	}
}

// addWebTask writes an ACS bridge task running the web server with container port 8080 on
// hostPort (0: dynamic), for agents started with --acs-tasks.
func (h *agentHost) addWebTask(id string, hostPort int) {
	h.t.Helper()
	js := fmt.Sprintf(`{"arn":"%s%s","family":"e2e","version":"1","desiredStatus":"RUNNING","networkMode":"bridge",`+
		`"containers":[{"name":"web","image":%q,"essential":true,"command":%s,"portMappings":[{"containerPort":8080,"hostPort":%d,"protocol":"tcp"}]}]}`,
		taskARNPrefix, id, testenv.BusyboxImage(), mustJSON(h.t, webCommand), hostPort)
	if err := os.WriteFile(filepath.Join(h.tasks, id+".json"), []byte(js), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// netState is what networking leaves on a test host: interfaces, iptables rules (no
// counters), namespace files and IP leases of the agent.
type netState struct {
	links, rules, netns, leases []string
}

func (h *agentHost) netState() netState {
	h.t.Helper()
	var st netState
	run := func(name string, args ...string) []string {
		out := runIn(h.t, h.netns, exec.Command(name, args...))
		var lines []string
		for _, l := range strings.Split(string(out), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		return lines
	}
	for _, l := range run("ip", "-o", "link", "show") {
		f := strings.Fields(l)
		st.links = append(st.links, strings.TrimSuffix(f[1], ":"))
	}
	for _, l := range run("iptables-save") {
		if strings.HasPrefix(l, ":") {
			l = strings.Fields(l)[0] // chain name without its counters
		}
		st.rules = append(st.rules, l)
	}
	ents, _ := os.ReadDir(filepath.Join(h.dir, "data", "cni", "netns"))
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			st.netns = append(st.netns, e.Name())
		}
	}
	_ = filepath.WalkDir(filepath.Join(h.dir, "data", "cni", "ipam"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), "last_reserved_ip") && d.Name() != "lock" {
			st.leases = append(st.leases, p)
		}
		return nil
	})
	return st
}

// The agent is SIGKILLed while it sets up bridge networks and restarted; the tasks run,
// are stopped and cleaned up. Afterwards the test host holds exactly what it held after a
// first task had come and gone (the bridge, which stays by design; the shared rules and
// chains go when the agent stops with no task left): no namespace, veth, IP lease,
// iptables rule or host port of those tasks.
func TestNetworkSIGKILLMidSetup(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	h.env = append(h.env, "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=1s")
	noRuntime := func(m map[string]runtime.ContainerState) bool { return len(m) == 0 }
	gone := func(what string) {
		t.Helper()
		h.waitRuntime(what, noRuntime)
		deadline := time.Now().Add(30 * time.Second)
		for st := h.netState(); len(st.netns) > 0 || len(st.leases) > 0; st = h.netState() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: namespaces %v and leases %v remain; agent log:\n%s", what, st.netns, st.leases, h.agentLog())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// A first task comes and goes: the baseline has the bridge.
	h.addWebTask("warm", 0)
	h.start()
	h.waitRuntime("warm-up task running", running("warm-web"))
	h.stopAgent()
	h.setDesiredStopped("warm")
	h.start()
	gone("warm-up task cleaned up")
	h.stopAgent()
	baseline := h.netState()
	if !slices.Contains(baseline.links, "ecsd0") {
		t.Fatalf("no ecsd0 bridge after a bridge task ran: %v", baseline.links)
	}
	if err := os.Remove(filepath.Join(h.tasks, "warm.json")); err != nil {
		t.Fatal(err)
	}

	ids := []string{"k0", "k1", "k2"}
	for i, id := range ids {
		h.addWebTask(id, 8090+i)
	}
	h.start()
	// Kill as soon as the first task namespace exists: its plugins are running.
	deadline := time.Now().Add(time.Minute)
	for len(h.netState().netns) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no task namespace appeared; agent log:\n%s", h.agentLog())
		}
		time.Sleep(time.Millisecond)
	}
	h.kill(syscall.SIGKILL)
	h.start()
	h.waitRuntime("tasks running after the restart", running("k0-web", "k1-web", "k2-web"))
	for i := range ids {
		waitGet(t, h.dial, fmt.Sprintf("http://127.0.0.1:%d/", 8090+i))
	}
	h.stopAgent()
	for _, id := range ids {
		h.setDesiredStopped(id)
	}
	h.start()
	gone("tasks cleaned up")
	h.stopAgent()

	after := h.netState()
	if !slices.Equal(after.links, baseline.links) {
		t.Errorf("interfaces: %v, want %v", after.links, baseline.links)
	}
	if !slices.Equal(after.rules, baseline.rules) {
		t.Errorf("iptables rules differ from the baseline:\nafter:\n%s\nbaseline:\n%s", strings.Join(after.rules, "\n"), strings.Join(baseline.rules, "\n"))
	}
	for i := range ids {
		ln, err := netns.Listen(h.netns, "tcp", fmt.Sprintf("0.0.0.0:%d", 8090+i))
		if err != nil {
			t.Errorf("host port %d still taken: %v", 8090+i, err)
			continue
		}
		ln.Close()
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runIn runs cmd inside the namespace at path (a child forked from a thread in a namespace
// starts there) and fails the test with its output if it fails. It returns stdout.
func runIn(t *testing.T, path string, cmd *exec.Cmd) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := netns.Do(path, cmd.Run); err != nil {
		t.Fatalf("%s: %v\n%s%s", strings.Join(cmd.Args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes()
}

// ipIn runs ip(8) inside the namespace at path.
func ipIn(t *testing.T, path string, args ...string) {
	t.Helper()
	runIn(t, path, exec.Command("ip", args...))
}

// newPeerNetns creates a namespace under /run/netns (so ip(8) can name it), with loopback up.
func newPeerNetns(t *testing.T, prefix string) (name, path string) {
	t.Helper()
	name = testenv.UniqueName(t, prefix)
	path, err := netns.Create("/run/netns", name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := netns.Delete(path); err != nil {
			t.Errorf("delete %s: %v", name, err)
		}
	})
	ipIn(t, path, "link", "set", "lo", "up")
	return name, path
}

// serveIn answers every HTTP request with body on addr inside the namespace at path.
func serveIn(t *testing.T, path, addr, body string) {
	t.Helper()
	ln, err := netns.Listen(path, "tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, path, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// With ecs-init's rules on the test host, a bridge-mode container reaches the agent's
// endpoint port through 169.254.170.2, and cannot reach the instance metadata service,
// which the test host itself reaches.
func TestBridgeTaskEndpointsAndIMDS(t *testing.T) {
	t.Parallel()
	h, b := newConnectedAgent(t)
	b.waitConnected(h)

	h.hostSetup(t)

	// A fake instance metadata service behind the default router, as on EC2: traffic to it
	// is forwarded by the host. (The default route also gives host-network processes a
	// route to 169.254.170.2, which ecs-init's OUTPUT rule then redirects.)
	imdsName, imdsPath := newPeerNetns(t, "imds")
	hostIf, peerIf := "vimds"+imdsName[len(imdsName)-4:], "vpeer"+imdsName[len(imdsName)-4:]
	ipIn(t, h.netns, "link", "add", hostIf, "type", "veth", "peer", "name", peerIf, "netns", imdsName)
	ipIn(t, h.netns, "addr", "add", "10.253.0.1/24", "dev", hostIf)
	ipIn(t, h.netns, "link", "set", hostIf, "up")
	ipIn(t, h.netns, "route", "add", "default", "via", "10.253.0.2")
	ipIn(t, imdsPath, "addr", "add", "10.253.0.2/24", "dev", peerIf)
	ipIn(t, imdsPath, "addr", "add", "169.254.169.254/32", "dev", "lo")
	ipIn(t, imdsPath, "link", "set", peerIf, "up")
	serveIn(t, imdsPath, "169.254.169.254:80", "instance-metadata")
	if body, err := httpGet(t, h.dial, "http://169.254.169.254/"); err != nil || body != "instance-metadata" {
		t.Fatalf("the test host cannot reach its fake IMDS: %q, %v", body, err)
	}

	// The same probe in bridge and in host mode: both reach the agent's endpoint through
	// 169.254.170.2 (PREROUTING DNAT, OUTPUT REDIRECT), neither reaches IMDS (the bridge
	// FORWARD rule; the task cgroup OUTPUT rule), while the test host itself does.
	// The agent's own task metadata server answers on 127.0.0.1:51679 in the test host.
	probe := []string{"sh", "-c", `get() { printf 'GET %s HTTP/1.0\r\n\r\n' "$2" | nc -w 3 "$1" 80; }; ` +
		`echo "endpoint=$(get 169.254.170.2 "/v4/${ECS_CONTAINER_METADATA_URI_V4##*/}" | grep -o '"DockerId"' | head -n 1)"; ` +
		`if get 169.254.169.254 / | grep -q instance-metadata; then echo imds=reachable; else echo imds=blocked; fi`}
	var arns []string
	for _, mode := range []types.NetworkMode{types.NetworkModeBridge, types.NetworkModeHost} {
		out, err := b.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
			Family:      aws.String(string(mode) + "-probe"),
			NetworkMode: mode,
			ContainerDefinitions: []types.ContainerDefinition{{
				Name:      aws.String(string(mode) + "probe"),
				Image:     aws.String(testenv.BusyboxImage()),
				Essential: aws.Bool(true),
				Memory:    aws.Int32(64),
				// busybox nc, not wget: the static busybox's wget crashes looking up the
				// "http" service through glibc's NSS.
				Command: probe,
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, b.runTask(aws.ToString(out.TaskDefinition.TaskDefinitionArn), 1)...)
	}
	b.waitTasks("probe tasks STOPPED", 2*time.Minute, arns, lastStatus("STOPPED"))
	for _, mode := range []string{"bridge", "host"} {
		logs, _ := filepath.Glob(filepath.Join(h.dir, "data", "tasks", "*", "logs", mode+"probe.log"))
		if len(logs) != 1 {
			t.Fatalf("%s probe log files: %v", mode, logs)
		}
		got, _ := os.ReadFile(logs[0])
		if !strings.Contains(string(got), `endpoint="DockerId"`) {
			t.Errorf("the %s container did not get its task metadata through 169.254.170.2; its output:\n%s", mode, got)
		}
		if !strings.Contains(string(got), "imds=blocked") {
			t.Errorf("the %s container's IMDS probe was not blocked; its output:\n%s", mode, got)
		}
	}
	if body, err := httpGet(t, h.dial, "http://169.254.169.254/"); err != nil || body != "instance-metadata" {
		t.Fatalf("the test host lost its own IMDS access: %q, %v", body, err)
	}
}

// hostSetup prepares the test host as systemd would before the agent: ecs-init pre-start
// there now, post-stop when the test ends.
func (h *agentHost) hostSetup(t *testing.T) {
	t.Helper()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(initBin, args...)
		cmd.Env = append(os.Environ(), "ECSD_CONFIG_FILE=")
		runIn(t, h.netns, cmd)
	}
	run("pre-start", "--root", filepath.Join(h.dir, "root"))
	t.Cleanup(func() { run("post-stop") })
}

// macOn returns the name of the interface with mac in the namespace at path, or "".
func macOn(t *testing.T, path, mac string) string {
	t.Helper()
	var name string
	if err := netns.Do(path, func() error {
		ifs, err := net.Interfaces()
		for _, i := range ifs {
			if strings.EqualFold(i.HardwareAddr.String(), mac) {
				name = i.Name
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return name
}

// An awsvpc task: its ENI (a veth end with the payload's MAC, its peer in another test
// namespace on the same subnet) is moved into the task's namespace with the payload's
// address, the task answers the other namespace, and the ENI comes back when it stops.
func TestAWSVPCTask(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	b := newBackend(t)
	h.args = []string{}
	h.env = append(h.env, b.agentEnv()...)
	h.env = append(h.env, "ECS_ENABLE_TASK_ENI=true", "ECSD_ENI_ATTACH_TIMEOUT=10s")
	h.start()
	ci := b.waitConnected(h)
	eniCap := false
	for _, a := range ci.Attributes {
		eniCap = eniCap || aws.ToString(a.Name) == "ecs.capability.task-eni"
	}
	if !eniCap {
		t.Errorf("with ECS_ENABLE_TASK_ENI=true the instance does not claim ecs.capability.task-eni")
	}
	// ecs-init's rules before the task starts, as on a real host, so that its container
	// reaches 169.254.170.2 from its first instruction.
	h.hostSetup(t)

	def := b.awsvpcWebDef("awsvpc-web")
	run, err := b.ecs.RunTask(context.Background(), &ecs.RunTaskInput{
		Cluster: aws.String(b.cluster), TaskDefinition: aws.String(def),
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-e2e"}}},
	})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("RunTask: %v %+v", err, run)
	}
	arn := aws.ToString(run.Tasks[0].TaskArn)
	details := map[string]string{}
	for _, a := range run.Tasks[0].Attachments {
		for _, d := range a.Details {
			details[aws.ToString(d.Name)] = aws.ToString(d.Value)
		}
	}
	mac, ip := details["macAddress"], details["privateIPv4Address"]
	if mac == "" || ip == "" {
		t.Fatalf("RunTask gave no ENI details: %v", details)
	}

	// The "ENI" appears on the test host after the task was placed, as on EC2.
	peerName, peerPath := newPeerNetns(t, "vpc")
	suffix := peerName[len(peerName)-4:]
	ipIn(t, h.netns, "link", "add", "eni"+suffix, "address", mac, "type", "veth", "peer", "name", "vpc"+suffix, "netns", peerName)
	ipIn(t, peerPath, "addr", "add", "10.199.0.200/24", "dev", "vpc"+suffix)
	ipIn(t, peerPath, "link", "set", "vpc"+suffix, "up")

	b.waitTasks("awsvpc task RUNNING", 2*time.Minute, []string{arn}, lastStatus("RUNNING"))
	if name := macOn(t, h.netns, mac); name != "" {
		t.Errorf("the ENI %s is still on the test host as %s while the task runs", mac, name)
	}
	peerDial := func(ctx context.Context, addr string) (net.Conn, error) {
		return netns.Dial(ctx, peerPath, "tcp", addr)
	}
	waitGet(t, peerDial, "http://"+ip+":8080/")

	// The container read its own task's v4 metadata through 169.254.170.2 before serving:
	// the ENI's network interface properties.
	checkAWSVPCTaskV4(t, logValue(h.taskLog(t, taskIDOf(arn), "web", "v4-task="), "v4-task="), arn, details)

	// From inside the task's namespace, 169.254.170.2 (ecs-init's DNAT on the test host,
	// reached over the task's endpoints leg) serves its metadata with the ENI's network; v2
	// finds the task by the caller's address alone.
	// The agent's checkpoint is locked while it runs; the task namespace is found where the
	// network layer keeps it.
	taskNS := filepath.Join(h.dir, "data", "cni", "netns", arn[strings.LastIndex(arn, "/")+1:])
	taskDial := func(ctx context.Context, addr string) (net.Conn, error) {
		return netns.Dial(ctx, taskNS, "tcp", addr)
	}
	body, err := httpGet(t, taskDial, "http://169.254.170.2/v2/metadata")
	if err != nil || !strings.Contains(body, `"TaskARN":"`+arn+`"`) || !strings.Contains(body, `"NetworkMode":"awsvpc"`) ||
		!strings.Contains(body, `"IPv4Addresses":["`+ip+`"]`) {
		t.Errorf("v2 task metadata by source address from the awsvpc task: %q, %v", body, err)
	}
	// Nor is the agent's object API the awsvpc task's: from its namespace the introspection
	// port is either out of reach (ecs-init's rules) or refuses it another task's objects.
	objects := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
		return taskDial(ctx, addr)
	}}}
	for _, addr := range []string{"169.254.170.2:51678", "169.254.172.1:51678"} {
		resp, err := objects.Get("http://" + addr + "/apis/ecs.ecsd.io/v1alpha1/namespaces/ecs/containers")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("the awsvpc task asked %s for every container: %d, want 401 or no answer", addr, resp.StatusCode)
			}
		}
	}

	b.stopTask(arn)
	b.waitTasks("awsvpc task STOPPED", time.Minute, []string{arn}, lastStatus("STOPPED"))
	deadline := time.Now().Add(30 * time.Second)
	for macOn(t, h.netns, mac) == "" {
		if time.Now().After(deadline) {
			t.Fatalf("the ENI %s did not come back to the test host after the task stopped; agent log:\n%s", mac, h.agentLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
	attached := false
	for _, sc := range b.srv.StateChanges() {
		if sc.Task != nil && sc.Task.Task == arn {
			for _, a := range sc.Task.Attachments {
				attached = attached || a.Status == "ATTACHED"
			}
		}
	}
	if !attached {
		t.Errorf("the agent never reported the ENI attachment ATTACHED")
	}

	// An ENI that never shows up: the task is STOPPED with the reason once the wait ends.
	lost, err := b.ecs.RunTask(context.Background(), &ecs.RunTaskInput{
		Cluster: aws.String(b.cluster), TaskDefinition: aws.String(def),
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-e2e"}}},
	})
	if err != nil || len(lost.Tasks) != 1 {
		t.Fatalf("RunTask: %v %+v", err, lost)
	}
	stopped := b.waitTasks("task without its ENI STOPPED", time.Minute, []string{aws.ToString(lost.Tasks[0].TaskArn)}, lastStatus("STOPPED"))
	if r := aws.ToString(stopped[0].Containers[0].Reason); !strings.Contains(r, "ENI not found") {
		t.Errorf("reason = %q, want the missing ENI named", r)
	}
}

// awsvpcWebDef registers an awsvpc web server task definition whose container first reads
// its task's v4 metadata (the line "v4-task=<status> <body>" in its log), as a workload
// looking up its own address would.
func (b *backend) awsvpcWebDef(family string) string {
	b.t.Helper()
	out, err := b.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String(family),
		NetworkMode: types.NetworkModeAwsvpc,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:      aws.String("web"),
			Image:     aws.String(testenv.CredProbeImage()),
			Essential: aws.Bool(true),
			Memory:    aws.Int32(64),
			Command: []string{"sh", "-c", `echo "v4-task=$(credprobe get "$ECS_CONTAINER_METADATA_URI_V4/task")"; ` +
				webCommand[len(webCommand)-1]},
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080), HostPort: aws.Int32(8080), Protocol: types.TransportProtocolTcp}},
		}},
	})
	if err != nil {
		b.t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

// checkAWSVPCTaskV4 checks a v4 task response ("<status> <body>") of an awsvpc task: its
// container's one network is the ENI the control plane allotted (details from RunTask),
// with the v4 network interface properties (spec §2.4).
func checkAWSVPCTaskV4(t *testing.T, reply, arn string, details map[string]string) {
	t.Helper()
	status, body, _ := strings.Cut(reply, " ")
	var task struct {
		TaskARN    string
		Containers []struct {
			Networks []struct {
				NetworkMode, MACAddress, PrivateDNSName       string
				IPv4SubnetCIDRBlock, SubnetGatewayIpv4Address string
				IPv4Addresses                                 []string
				AttachmentIndex                               *int
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &task); status != "200" || err != nil || task.TaskARN != arn || len(task.Containers) != 1 {
		t.Fatalf("v4 task metadata from inside the awsvpc task: %q (%v), want 200 for %s with its container", reply, err, arn)
	}
	nets := task.Containers[0].Networks
	subnet := netip.MustParsePrefix(localplane.DefaultENISubnet)
	if len(nets) != 1 {
		t.Fatalf("v4 Networks = %+v, want the ENI", nets)
	}
	n := nets[0]
	if n.NetworkMode != "awsvpc" || len(n.IPv4Addresses) != 1 || n.IPv4Addresses[0] != details["privateIPv4Address"] ||
		!strings.EqualFold(n.MACAddress, details["macAddress"]) || n.PrivateDNSName != details["privateDnsName"] ||
		n.IPv4SubnetCIDRBlock != subnet.String() || n.SubnetGatewayIpv4Address != fmt.Sprintf("%s/%d", subnet.Addr().Next(), subnet.Bits()) ||
		n.AttachmentIndex == nil || *n.AttachmentIndex != 0 {
		t.Errorf("v4 awsvpc network = %+v, want the ENI %v in %s", n, details, subnet)
	}
}
