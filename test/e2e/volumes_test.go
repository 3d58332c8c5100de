package e2e

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
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

	"github.com/ecsd/ecsd/internal/netns"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/localplane"
	"github.com/ecsd/ecsd/runtime/hostfs"
)

// The NFS server of these tests: nfs-ganesha (Debian's nfs-ganesha, nfs-ganesha-vfs, installed
// by hack/install-deps.sh) serving a directory over NFSv4 in a network namespace the test
// creates, joined to the agent's test host by a veth pair. The agent reaches it at
// nfsServerAddr, an EFS file system through ECSD_EFS_ADDRESSES (the file system's DNS name
// cannot resolve here).
const (
	nfsHostAddr   = "10.241.0.1"
	nfsServerAddr = "10.241.0.2"
	testFS        = "fs-0123abcd"
)

type nfsServer struct {
	// export is the directory the server exports as its root.
	export string
	path   string
}

// startNFSServer runs nfs-ganesha in its own namespace, reachable from h at nfsServerAddr.
// With tlsDir, port 2049 is a stunnel server (the certificate and key in tlsDir, for the test
// file system's DNS name) in front of ganesha on 12049, as EFS serves NFS over TLS.
func startNFSServer(t *testing.T, h *agentHost, tlsDir string) *nfsServer {
	t.Helper()
	ganesha, err := exec.LookPath("ganesha.nfsd")
	if err != nil {
		t.Fatalf("ganesha.nfsd not found (bash hack/install-deps.sh installs nfs-ganesha): %v", err)
	}
	_, path := newPeerNetns(t, "nfs")
	// The veth pair: nfsh in the test host, nfss in the server's namespace.
	ipIn(t, h.netns, "link", "add", "nfsh", "type", "veth", "peer", "name", "nfss", "netns", path)
	ipIn(t, h.netns, "addr", "add", nfsHostAddr+"/30", "dev", "nfsh")
	ipIn(t, h.netns, "link", "set", "nfsh", "up")
	ipIn(t, path, "addr", "add", nfsServerAddr+"/30", "dev", "nfss")
	ipIn(t, path, "link", "set", "nfss", "up")

	dir := t.TempDir()
	s := &nfsServer{export: filepath.Join(dir, "export"), path: path}
	for _, d := range []string{s.export, filepath.Join(dir, "recovery")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	nfsPort := 2049
	if tlsDir != "" {
		nfsPort = 12049
	}
	conf := fmt.Sprintf(`NFS_CORE_PARAM { Protocols = 4; NFS_Port = %d; Enable_NLM = false; Enable_RQUOTA = false; }
NFSv4 { Graceless = true; RecoveryBackend = fs; RecoveryRoot = %s; }
EXPORT {
  Export_Id = 1; Path = %s; Pseudo = /; Access_Type = RW; Squash = No_Root_Squash;
  Protocols = 4; Transports = TCP; SecType = sys;
  FSAL { Name = VFS; }
}
`, nfsPort, filepath.Join(dir, "recovery"), s.export)
	confPath := filepath.Join(dir, "ganesha.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ganesha, "-F", "-f", confPath, "-L", filepath.Join(dir, "ganesha.log"), "-p", filepath.Join(dir, "ganesha.pid"), "-N", "NIV_EVENT")
	if err := netns.Do(path, cmd.Start); err != nil {
		t.Fatalf("start ganesha: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	if tlsDir != "" {
		stunnel, err := exec.LookPath("stunnel4")
		if err != nil {
			t.Fatalf("stunnel4 not found (bash hack/install-deps.sh installs it): %v", err)
		}
		tconf := filepath.Join(dir, "stunnel.conf")
		body := "foreground = yes\npid =\n[nfs]\naccept = 2049\nconnect = 127.0.0.1:12049\ncert = " +
			filepath.Join(tlsDir, "server.pem") + "\nkey = " + filepath.Join(tlsDir, "server.key") + "\n"
		if err := os.WriteFile(tconf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		tun := exec.Command(stunnel, tconf)
		if err := netns.Do(path, tun.Start); err != nil {
			t.Fatalf("start the server's stunnel: %v", err)
		}
		t.Cleanup(func() {
			_ = tun.Process.Kill()
			_ = tun.Wait()
		})
	}
	// Up once the test host can connect to it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := h.dial(ctx, nfsServerAddr+":2049")
		cancel()
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "ganesha.log"))
			t.Fatalf("the NFS server never listened: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// nfsClient reports why this host cannot mount NFS (nil when it can): the agent's own check.
func nfsClient() error { return hostfs.Volumes{}.Supports("nfs4", false) }

// volumeAgent is an agent connected to a backend, cleaning tasks up one second after they stop.
func volumeAgent(t *testing.T, env ...string) (*agentHost, *backend) {
	t.Helper()
	h := newAgentHost(t)
	// Runs before the agent's directory is removed (cleanups run last first): a test that
	// failed half-way must not leave mounts, nor remove files through them.
	t.Cleanup(func() {
		m := mountsUnder(t, h.dir)
		targets := slices.Collect(maps.Keys(m))
		slices.SortFunc(targets, func(a, b string) int { return len(b) - len(a) })
		for _, target := range targets {
			if err := (hostfs.Volumes{}).Unmount(context.Background(), target); err != nil {
				t.Errorf("unmount %s: %v", target, err)
			}
		}
	})
	b := newBackend(t)
	h.args = []string{}
	h.env = append(h.env, b.agentEnv()...)
	// A mount of a server that answers nothing gives up after a minute (mount.nfs alone
	// would retry for two), well within waitReported's bound.
	h.env = append(h.env, "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=1s", "ECS_CONTAINER_CREATE_TIMEOUT=1m")
	h.env = append(h.env, env...)
	return h, b
}

// sendTask sends task (an ACS task object without its ARN) straight over ACS, as ECS would,
// bypassing the plane's placement (which, rightly, places no EFS task on an instance without
// the efs attribute): what the agent does with a volume it cannot mount is its own test.
func (b *backend) sendTask(ci types.ContainerInstance, id, task string) string {
	b.t.Helper()
	arn := "arn:aws:ecs:" + backendRegion + ":000000000000:task/" + b.cluster + "/" + id
	frame := `{"type":"PayloadMessage","message":{"messageId":"` + id + `","clusterArn":"arn:aws:ecs:` + backendRegion + `:000000000000:cluster/` + b.cluster +
		`","containerInstanceArn":"` + aws.ToString(ci.ContainerInstanceArn) + `","tasks":[{"arn":"` + arn + `",` + task + `}]}}`
	if n, err := b.srv.SendRawACS(context.Background(), aws.ToString(ci.ContainerInstanceArn), []byte(frame)); err != nil || n != 1 {
		b.t.Fatalf("send the payload: %d sessions, %v", n, err)
	}
	return arn
}

// waitReported waits until the agent reported arn with status and returns that report.
func (b *backend) waitReported(h *agentHost, arn, status string) localplane.TaskStateChange {
	b.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		for _, sc := range b.srv.StateChanges() {
			if sc.Task != nil && sc.Task.Task == arn && sc.Task.Status == status {
				return *sc.Task
			}
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("task %s was never reported %s (%v); agent log:\n%s", arn, status, b.taskStatuses(arn), h.agentLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mountsUnder lists the mount points beneath dir, from the machine's mount table.
func mountsUnder(t *testing.T, dir string) map[string]string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i, f := range fields {
			if f == "-" && len(fields) > 4 && i+1 < len(fields) && strings.HasPrefix(fields[4], dir+"/") {
				out[fields[4]] = fields[i+1]
			}
		}
	}
	return out
}

// waitGone waits until path no longer exists (the task's cleanup removed it).
func waitGone(t *testing.T, h *agentHost, path string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was never removed; agent log:\n%s", path, h.agentLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func efsAddresses(addr string) string {
	b, _ := json.Marshal(map[string]string{testFS: addr})
	return "ECSD_EFS_ADDRESSES=" + string(b)
}

// volumeTask is an ACS task whose one container mounts volume at /data and runs cmd.
func volumeTask(volume, cmd string) string {
	return fmt.Sprintf(`"family":"vol","version":"1","desiredStatus":"RUNNING","networkMode":"host","volumes":[%s],`+
		`"containers":[{"name":"app","image":%q,"essential":true,"command":["sh","-c",%q],`+
		`"mountPoints":[{"sourceVolume":"data","containerPath":"/data"}]}]`, volume, testenv.BusyboxImage(), cmd)
}

const keepRunning = "; trap 'exit 0' TERM; while true; do sleep 0.1; done"

// An EFS volume is mounted over NFSv4.1 from a real NFS server for the task, with the EFS
// mount helper's options, seen by the container, and unmounted at cleanup; the efs attribute
// is registered exactly when the host can do it. On a host whose kernel has no NFS client
// the attribute is left out and such a task stops with that reason; the mount is then not
// tested (the NFS server still runs, so the test shows what the host lacks).
func TestEFSVolume(t *testing.T) {
	t.Parallel()
	h, b := volumeAgent(t, efsAddresses(nfsServerAddr))
	srv := startNFSServer(t, h, "")
	if err := os.WriteFile(filepath.Join(srv.export, "hello.txt"), []byte("from the server\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(srv.export, "app"), 0o777); err != nil {
		t.Fatal(err)
	}
	h.start()
	ci := b.waitConnected(h)
	registered := false
	for _, a := range ci.Attributes {
		registered = registered || aws.ToString(a.Name) == "ecs.capability.efs"
	}
	clientErr := nfsClient()
	if registered != (clientErr == nil) {
		t.Fatalf("ecs.capability.efs registered=%v, but the host's NFS client check says %v", registered, clientErr)
	}
	vol := `{"name":"data","type":"efs","efsVolumeConfiguration":{"fileSystemId":"` + testFS + `","rootDirectory":"/app"}}`
	if clientErr != nil {
		arn := b.sendTask(ci, "efs00000000000000000000000000001", volumeTask(vol, "echo never"))
		sc := b.waitReported(h, arn, "STOPPED")
		if !strings.HasPrefix(sc.Reason, "CannotCreateContainerError: volume data: ") || !strings.Contains(sc.Reason, "nfs4") {
			t.Errorf("task stopped with %q, want a CannotCreateContainerError naming volume data and the missing nfs4", sc.Reason)
		}
		t.Skipf("this host cannot mount NFS (%v): the attribute is not registered and the task stopped with %q; the NFS server ran, the mount itself is untested here", clientErr, sc.Reason)
	}

	out, err := b.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("efs"), NetworkMode: types.NetworkModeHost,
		Volumes: []types.Volume{{Name: aws.String("data"), EfsVolumeConfiguration: &types.EFSVolumeConfiguration{
			FileSystemId: aws.String(testFS), RootDirectory: aws.String("/app")}}},
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String(testenv.BusyboxImage()), Essential: aws.Bool(true), Memory: aws.Int32(64),
			Command:     []string{"sh", "-c", "echo written > /data/out.txt" + keepRunning},
			MountPoints: []types.MountPoint{{SourceVolume: aws.String("data"), ContainerPath: aws.String("/data")}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	arns := b.runTask(aws.ToString(out.TaskDefinition.TaskDefinitionArn), 1)
	b.waitTasks("RUNNING", 2*time.Minute, arns, lastStatus("RUNNING"))
	written := filepath.Join(srv.export, "app", "out.txt")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(written); err == nil && string(b) == "written\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's file never reached the server's %s", written)
		}
		time.Sleep(50 * time.Millisecond)
	}
	id := arns[0][strings.LastIndex(arns[0], "/")+1:]
	taskDir := filepath.Join(h.dir, "data", "tasks", id)
	m := mountsUnder(t, taskDir)
	if typ := m[filepath.Join(taskDir, "volumes", "data")]; typ != "nfs4" {
		t.Errorf("mounts under the task: %v, want nfs4 at volumes/data", m)
	}
	b.stopTask(arns[0])
	b.waitTasks("STOPPED", time.Minute, arns, lastStatus("STOPPED"))
	waitGone(t, h, taskDir)
	if m := mountsUnder(t, taskDir); len(m) != 0 {
		t.Errorf("mounts left after cleanup: %v", m)
	}
	// Removing the task directory did not remove the file system's files.
	if _, err := os.Stat(written); err != nil {
		t.Errorf("the server's file after cleanup: %v", err)
	}
}

// A mount that fails stops the task with the reason, and leaves no mount or tunnel behind:
// the file system's address answers nothing (and, on a host without an NFS client, the
// kernel cannot mount NFS at all).
func TestEFSMountFailureStopsTask(t *testing.T) {
	t.Parallel()
	// The test host's own loopback: nothing listens on 2049 there.
	h, b := volumeAgent(t, efsAddresses("127.0.0.1"))
	h.start()
	ci := b.waitConnected(h)
	for i, vol := range []string{
		`{"name":"data","type":"efs","efsVolumeConfiguration":{"fileSystemId":"` + testFS + `"}}`,
		`{"name":"data","type":"efs","efsVolumeConfiguration":{"fileSystemId":"` + testFS + `","transitEncryption":"ENABLED"}}`,
	} {
		arn := b.sendTask(ci, fmt.Sprintf("efsfail000000000000000000000000%d", i), volumeTask(vol, "echo never"))
		sc := b.waitReported(h, arn, "STOPPED")
		if !strings.HasPrefix(sc.Reason, "CannotCreateContainerError: volume data: ") {
			t.Errorf("task stopped with %q, want a CannotCreateContainerError naming volume data", sc.Reason)
		}
		for _, c := range sc.Containers {
			if c.ExitCode != nil {
				t.Errorf("container %s reported exit code %d: it never ran", c.ContainerName, *c.ExitCode)
			}
		}
	}
	// An access point needs what ecsd does not make: refused with the reason, never mounted
	// without it.
	arn := b.sendTask(ci, "efsfail0000000000000000000000ap", volumeTask(
		`{"name":"data","type":"efs","efsVolumeConfiguration":{"fileSystemId":"`+testFS+`","transitEncryption":"ENABLED","authorizationConfig":{"accessPointId":"fsap-0123456789abcdef0"}}}`, "echo never"))
	if sc := b.waitReported(h, arn, "STOPPED"); !strings.Contains(sc.Reason, "accessPointId") {
		t.Errorf("access point task stopped with %q", sc.Reason)
	}
	if m := mountsUnder(t, filepath.Join(h.dir, "data")); len(m) != 0 {
		t.Errorf("mounts left: %v", m)
	}
	if out, _ := exec.Command("pgrep", "-f", filepath.Join(h.dir, "data")).Output(); len(out) > 0 {
		t.Errorf("processes left that name the agent's data dir (a tunnel?): %s", out)
	}
}

// A Docker volume on the local driver with NFS options (Docker's addr= form) is mounted from
// the real NFS server for the task and unmounted at cleanup; the same volume pointing at an
// address that answers nothing stops the task with the mount's reason. On a host without an
// NFS client only the failure is seen (the reason names the missing nfs).
func TestDockerVolumeLocalNFS(t *testing.T) {
	t.Parallel()
	h, b := volumeAgent(t)
	srv := startNFSServer(t, h, "")
	h.start()
	ci := b.waitConnected(h)
	nfsVol := func(addr string) string {
		return `{"name":"data","type":"docker","dockerVolumeConfiguration":{"scope":"task","driver":"local",` +
			`"driverOpts":{"type":"nfs","o":"addr=` + addr + `,nfsvers=4.1,rw","device":":/"}}}`
	}
	arn := b.sendTask(ci, "nfsfail000000000000000000000001", volumeTask(nfsVol("127.0.0.1"), "echo never"))
	sc := b.waitReported(h, arn, "STOPPED")
	if !strings.HasPrefix(sc.Reason, "CannotCreateContainerError: volume data: ") {
		t.Errorf("task stopped with %q, want a CannotCreateContainerError naming volume data", sc.Reason)
	}
	if err := nfsClient(); err != nil {
		t.Skipf("this host cannot mount NFS (%v): the failure path was seen (%q); the NFS server ran, the mount itself is untested here", err, sc.Reason)
	}
	arn = b.sendTask(ci, "nfsok0000000000000000000000000001", volumeTask(nfsVol(nfsServerAddr), "echo via-nfs > /data/nfs.txt; exit 0"))
	sc = b.waitReported(h, arn, "STOPPED")
	if len(sc.Containers) != 1 || sc.Containers[0].ExitCode == nil || *sc.Containers[0].ExitCode != 0 {
		t.Fatalf("task stopped with %q, containers %+v; want exit 0", sc.Reason, sc.Containers)
	}
	if got, err := os.ReadFile(filepath.Join(srv.export, "nfs.txt")); err != nil || string(got) != "via-nfs\n" {
		t.Errorf("the server's file: %q, %v", got, err)
	}
	waitGone(t, h, filepath.Join(h.dir, "data", "tasks", "nfsok0000000000000000000000000001"))
	if m := mountsUnder(t, filepath.Join(h.dir, "data")); len(m) != 0 {
		t.Errorf("mounts left after cleanup: %v", m)
	}
}

// Docker local-driver volumes with tmpfs and bind options are real mounts for the task,
// seen by the container, kept across an agent SIGKILL and restart, and gone after cleanup
// (the bind's source keeps what was written);
// a device that does not exist stops the task with mount(8)'s reason.
func TestDockerVolumeLocalTmpfsAndBind(t *testing.T) {
	t.Parallel()
	h, b := volumeAgent(t)
	h.start()
	ci := b.waitConnected(h)
	src := t.TempDir()
	const id = "local0000000000000000000000000001"
	task := fmt.Sprintf(`"family":"vol","version":"1","desiredStatus":"RUNNING","networkMode":"host","volumes":[`+
		`{"name":"mem","type":"docker","dockerVolumeConfiguration":{"scope":"task","driver":"local","driverOpts":{"type":"tmpfs","device":"tmpfs","o":"size=4m"}}},`+
		`{"name":"src","type":"docker","dockerVolumeConfiguration":{"scope":"task","driver":"local","driverOpts":{"type":"none","device":%q,"o":"bind"}}}],`+
		`"containers":[{"name":"app","image":%q,"essential":true,"command":["sh","-c",%q],`+
		`"mountPoints":[{"sourceVolume":"mem","containerPath":"/mem"},{"sourceVolume":"src","containerPath":"/src"}]}]`,
		src, testenv.BusyboxImage(), "grep -q ' /mem tmpfs .*size=4096k' /proc/mounts && echo bound > /src/out.txt"+keepRunning)
	arn := b.sendTask(ci, id, task)
	b.waitReported(h, arn, "RUNNING")
	taskDir := filepath.Join(h.dir, "data", "tasks", id)
	m := mountsUnder(t, taskDir)
	if m[filepath.Join(taskDir, "volumes", "mem")] != "tmpfs" || m[filepath.Join(taskDir, "volumes", "src")] == "" {
		t.Errorf("mounts under the task: %v", m)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got, _ := os.ReadFile(filepath.Join(src, "out.txt")); string(got) == "bound\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container never wrote through the bind volume (or saw no 4 MiB tmpfs); agent log:\n%s", h.agentLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The agent dies and comes back: the mounts stay, recorded beside their mount points,
	// and the restarted agent still removes them at cleanup.
	h.kill(syscall.SIGKILL)
	h.start()
	ci = b.waitConnected(h)
	if m := mountsUnder(t, taskDir); len(m) != 2 {
		t.Errorf("mounts after the restart: %v", m)
	}
	// Stop it the way ECS does: the same task with desired status STOPPED.
	b.sendTask(ci, id, strings.Replace(task, `"desiredStatus":"RUNNING"`, `"desiredStatus":"STOPPED"`, 1))
	b.waitReported(h, arn, "STOPPED")
	waitGone(t, h, taskDir)
	if m := mountsUnder(t, filepath.Join(h.dir, "data")); len(m) != 0 {
		t.Errorf("mounts left after cleanup: %v", m)
	}
	if got, _ := os.ReadFile(filepath.Join(src, "out.txt")); string(got) != "bound\n" {
		t.Errorf("the bind source after cleanup holds %q", got)
	}

	bad := `{"name":"data","type":"docker","dockerVolumeConfiguration":{"scope":"task","driver":"local","driverOpts":{"type":"none","device":"/nonexistent/ecsd-e2e","o":"bind"}}}`
	arn = b.sendTask(ci, "localfail0000000000000000000000001", volumeTask(bad, "echo never"))
	sc := b.waitReported(h, arn, "STOPPED")
	if !strings.HasPrefix(sc.Reason, "CannotCreateContainerError") || !strings.Contains(sc.Reason, "/nonexistent/ecsd-e2e") {
		t.Errorf("task stopped with %q, want a CannotCreateContainerError naming the device", sc.Reason)
	}
	// A volume plugin is refused with the reason.
	arn = b.sendTask(ci, "localfail0000000000000000000000002", volumeTask(
		`{"name":"data","type":"docker","dockerVolumeConfiguration":{"scope":"task","driver":"rexray/ebs"}}`, "echo never"))
	if sc := b.waitReported(h, arn, "STOPPED"); !strings.Contains(sc.Reason, "rexray/ebs") || !strings.Contains(sc.Reason, "only the local driver") {
		t.Errorf("volume plugin task stopped with %q", sc.Reason)
	}
}

// A shared Docker volume (autoprovision) outlives the task that created it: a later task
// that does not autoprovision reads what the first wrote. A shared volume that does not
// exist without autoprovision, and one whose labels differ with
// ECS_SHARED_VOLUME_MATCH_FULL_CONFIG=true, stop the task with the reason.
func TestDockerVolumeShared(t *testing.T) {
	t.Parallel()
	h, b := volumeAgent(t, "ECS_SHARED_VOLUME_MATCH_FULL_CONFIG=true")
	h.start()
	ci := b.waitConnected(h)
	shared := func(auto bool, label string) string {
		return fmt.Sprintf(`{"name":"data","type":"docker","dockerVolumeConfiguration":{"scope":"shared","autoprovision":%v,"driver":"local","labels":{"team":%q}}}`, auto, label)
	}
	// The volume's name is the task's volume name, "data".
	first := b.sendTask(ci, "shared000000000000000000000000001", volumeTask(shared(true, "a"), "echo kept > /data/f.txt; exit 0"))
	sc := b.waitReported(h, first, "STOPPED")
	if len(sc.Containers) != 1 || sc.Containers[0].ExitCode == nil || *sc.Containers[0].ExitCode != 0 {
		t.Fatalf("first task stopped with %q, containers %+v", sc.Reason, sc.Containers)
	}
	waitGone(t, h, filepath.Join(h.dir, "data", "tasks", "shared000000000000000000000000001"))
	second := b.sendTask(ci, "shared000000000000000000000000002", volumeTask(shared(false, "a"), `test "$(cat /data/f.txt)" = kept`))
	sc = b.waitReported(h, second, "STOPPED")
	if len(sc.Containers) != 1 || sc.Containers[0].ExitCode == nil || *sc.Containers[0].ExitCode != 0 {
		t.Fatalf("second task did not read the first task's file: %q, containers %+v", sc.Reason, sc.Containers)
	}
	if got, err := os.ReadFile(filepath.Join(h.dir, "data", "volumes", "data", "_data", "f.txt")); err != nil || string(got) != "kept\n" {
		t.Errorf("the shared volume on the host: %q, %v", got, err)
	}

	differ := b.sendTask(ci, "shared000000000000000000000000003", volumeTask(shared(false, "b"), "echo never"))
	if sc := b.waitReported(h, differ, "STOPPED"); !strings.Contains(sc.Reason, "labels differ") {
		t.Errorf("task with other labels stopped with %q", sc.Reason)
	}
	missing := b.sendTask(ci, "shared000000000000000000000000004", strings.Replace(volumeTask(
		`{"name":"other","type":"docker","dockerVolumeConfiguration":{"scope":"shared","autoprovision":false}}`, "echo never"),
		`"sourceVolume":"data"`, `"sourceVolume":"other"`, 1))
	if sc := b.waitReported(h, missing, "STOPPED"); !strings.Contains(sc.Reason, "CannotCreateContainerError: volume other: the shared volume does not exist on this instance and autoprovision is false") {
		t.Errorf("task with a missing shared volume stopped with %q", sc.Reason)
	}
}

// EFS transit encryption: the NFS traffic goes through a stunnel client the agent starts
// for the task (checked against the test CA, ECSD_EFS_CA_FILE, and the file system's DNS
// name) to a TLS server in front of the NFS server; the tunnel goes with the mount at
// cleanup. Without an NFS client on the host the task stops with the reason (the tunnel
// itself is tested in runtime/hostfs's TestVolumesTLSTunnel).
func TestEFSVolumeTransitEncryption(t *testing.T) {
	t.Parallel()
	pki := t.TempDir()
	ca := writeTestPKI(t, pki, testFS+".efs."+backendRegion+".amazonaws.com")
	h, b := volumeAgent(t, efsAddresses(nfsServerAddr), "ECSD_EFS_CA_FILE="+ca)
	srv := startNFSServer(t, h, pki)
	if err := os.MkdirAll(filepath.Join(srv.export, "app"), 0o777); err != nil {
		t.Fatal(err)
	}
	h.start()
	ci := b.waitConnected(h)
	if err := nfsClient(); err != nil {
		vol := `{"name":"data","type":"efs","efsVolumeConfiguration":{"fileSystemId":"` + testFS + `","transitEncryption":"ENABLED"}}`
		arn := b.sendTask(ci, "efstls00000000000000000000000001", volumeTask(vol, "echo never"))
		sc := b.waitReported(h, arn, "STOPPED")
		if !strings.HasPrefix(sc.Reason, "CannotCreateContainerError: volume data: ") {
			t.Errorf("task stopped with %q", sc.Reason)
		}
		t.Skipf("this host cannot mount NFS (%v): the task stopped with %q; the TLS server ran, the mount through the tunnel is untested here", err, sc.Reason)
	}
	out, err := b.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("efstls"), NetworkMode: types.NetworkModeHost,
		Volumes: []types.Volume{{Name: aws.String("data"), EfsVolumeConfiguration: &types.EFSVolumeConfiguration{
			FileSystemId: aws.String(testFS), RootDirectory: aws.String("/app"), TransitEncryption: types.EFSTransitEncryptionEnabled}}},
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String(testenv.BusyboxImage()), Essential: aws.Bool(true), Memory: aws.Int32(64),
			Command:     []string{"sh", "-c", "echo encrypted > /data/tls.txt" + keepRunning},
			MountPoints: []types.MountPoint{{SourceVolume: aws.String("data"), ContainerPath: aws.String("/data")}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	arns := b.runTask(aws.ToString(out.TaskDefinition.TaskDefinitionArn), 1)
	b.waitTasks("RUNNING", 2*time.Minute, arns, lastStatus("RUNNING"))
	written := filepath.Join(srv.export, "app", "tls.txt")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got, err := os.ReadFile(written); err == nil && string(got) == "encrypted\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's file never reached the server's %s", written)
		}
		time.Sleep(50 * time.Millisecond)
	}
	data := filepath.Join(h.dir, "data")
	if out, _ := exec.Command("pgrep", "-f", data).Output(); len(out) == 0 {
		t.Error("no stunnel runs for the task's mount")
	}
	b.stopTask(arns[0])
	b.waitTasks("STOPPED", time.Minute, arns, lastStatus("STOPPED"))
	waitGone(t, h, filepath.Join(data, "tasks", arns[0][strings.LastIndex(arns[0], "/")+1:]))
	if m := mountsUnder(t, data); len(m) != 0 {
		t.Errorf("mounts left after cleanup: %v", m)
	}
	if out, _ := exec.Command("pgrep", "-f", data).Output(); len(out) > 0 {
		t.Errorf("a tunnel is left after cleanup: %s", out)
	}
}

// writeTestPKI writes a test CA (its path is returned) and, in dir, server.pem and
// server.key for name, signed by it.
func writeTestPKI(t *testing.T, dir, name string) string {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ecsd e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, typ string, der []byte) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("server.pem", "CERTIFICATE", der)
	write("server.key", "EC PRIVATE KEY", keyDER)
	return write("ca.pem", "CERTIFICATE", caDER)
}
