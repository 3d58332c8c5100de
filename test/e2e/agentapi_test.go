package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testenv"
)

// serviceLoop keeps a probe container running until the task is stopped, so the test reads
// its output while the task still runs.
const serviceLoop = `trap 'exit 0' TERM; while :; do sleep 0.1; done`

// probeDef registers a one-container bridge task definition running the credprobe image
// with command, and returns its ARN.
func (b *backend) probeDef(family, roleARN, command string, ports ...types.PortMapping) string {
	b.t.Helper()
	in := &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String(family),
		NetworkMode: types.NetworkModeBridge,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:         aws.String("app"),
			Image:        aws.String(testenv.CredProbeImage()),
			Essential:    aws.Bool(true),
			Memory:       aws.Int32(64),
			PortMappings: ports,
			Environment:  []types.KeyValuePair{{Name: aws.String("AWS_EC2_METADATA_DISABLED"), Value: aws.String("true")}},
			Command:      []string{"sh", "-c", command},
		}},
	}
	if roleARN != "" {
		in.TaskRoleArn = aws.String(roleARN)
	}
	out, err := b.ecs.RegisterTaskDefinition(context.Background(), in)
	if err != nil {
		b.t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

// requireProbeCommand fails with the fix when the credprobe image is older than a
// subcommand the test uses: the image is rebuilt from source by `make setup`.
func requireProbeCommand(t *testing.T, log, command string) {
	t.Helper()
	if strings.Contains(log, fmt.Sprintf("error=unknown command %q", command)) {
		t.Fatalf("the credprobe test image has no %q command: rebuild the test images with `make setup`", command)
	}
}

// protectionReply is an agent API task protection answer as a workload receives it.
type protectionReply struct {
	status int
	body   struct {
		Protection *struct {
			ProtectionEnabled bool
			ExpirationDate    *time.Time
			TaskArn           string
		} `json:"protection"`
		Error *struct{ Arn, Code, Message string } `json:"error"`
	}
}

// parseProtection decodes credprobe's "<status> <body>" line.
func parseProtection(t *testing.T, line string) protectionReply {
	t.Helper()
	var r protectionReply
	status, body, ok := strings.Cut(line, " ")
	if !ok {
		t.Fatalf("agent API answer %q is not \"<status> <body>\"", line)
	}
	if _, err := fmt.Sscan(status, &r.status); err != nil {
		t.Fatalf("agent API answer %q: %v", line, err)
	}
	if err := json.Unmarshal([]byte(body), &r.body); err != nil {
		t.Fatalf("agent API answer %q: %v", line, err)
	}
	return r
}

// A task with a role turns on its scale-in protection from inside its container through
// ECS_AGENT_URI, as the SDK-less workloads of the task protection docs do, reads it back,
// and ECS (the test's control plane) reports the same protection. A body with an unknown
// field is refused before ECS is asked.
func TestTaskProtectionFromTask(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	b := newBackend(t)
	h.args = []string{}
	h.env = append(h.env, b.agentEnv()...)
	h.env = append(h.env, "ECS_ENABLE_TASK_IAM_ROLE=true")
	h.start()
	b.waitConnected(h)
	h.hostSetup(t)

	const state = `"$ECS_AGENT_URI/task-protection/v1/state"`
	def := b.probeDef(testenv.UniqueName(t, "protect"), "arn:aws:iam::000000000000:role/protected",
		`echo "put=$(credprobe put `+state+` '{"ProtectionEnabled":true,"ExpiresInMinutes":60}')"; `+
			`echo "get=$(credprobe get `+state+`)"; `+
			`echo "bad=$(credprobe put `+state+` '{"ProtectionEnabled":true,"Forever":true}')"; `+serviceLoop)
	before := time.Now().Truncate(time.Second)
	arns := b.runTask(def, 1)
	b.waitTasks("protecting task RUNNING", 2*time.Minute, arns, lastStatus("RUNNING"))
	log := h.taskLog(t, taskIDOf(arns[0]), "app", "bad=")
	after := time.Now()
	requireProbeCommand(t, log, "put")

	// PUT and GET answer 200 {"protection":{…}} for this task, expiring in an hour.
	var expires time.Time
	for _, key := range []string{"put=", "get="} {
		r := parseProtection(t, logValue(log, key))
		p := r.body.Protection
		if r.status != 200 || p == nil || !p.ProtectionEnabled || p.TaskArn != arns[0] || p.ExpirationDate == nil {
			t.Fatalf("%s answer %q, want 200 with protection enabled for %s and an expiration", key, logValue(log, key), arns[0])
		}
		lo, hi := before.Add(time.Hour), after.Add(time.Hour+time.Second)
		if p.ExpirationDate.Before(lo) || p.ExpirationDate.After(hi) {
			t.Errorf("%s ExpirationDate %s, want an hour after the request (%s to %s)", key, p.ExpirationDate, lo, hi)
		}
		if expires.IsZero() {
			expires = *p.ExpirationDate
		} else if !p.ExpirationDate.Equal(expires) {
			t.Errorf("GET ExpirationDate %s differs from the PUT's %s", p.ExpirationDate, expires)
		}
	}
	if r := parseProtection(t, logValue(log, "bad=")); r.status != 400 || r.body.Error == nil || r.body.Error.Code != "InvalidParameterException" {
		t.Errorf("PUT with an unknown field: %q, want 400 InvalidParameterException", logValue(log, "bad="))
	}

	// ECS agrees.
	out, err := b.ecs.GetTaskProtection(context.Background(), &ecs.GetTaskProtectionInput{Cluster: aws.String(b.cluster), Tasks: arns})
	if err != nil {
		t.Fatalf("GetTaskProtection: %v", err)
	}
	if len(out.ProtectedTasks) != 1 || !out.ProtectedTasks[0].ProtectionEnabled || aws.ToString(out.ProtectedTasks[0].TaskArn) != arns[0] ||
		out.ProtectedTasks[0].ExpirationDate == nil || !out.ProtectedTasks[0].ExpirationDate.Equal(expires) {
		t.Errorf("ECS GetTaskProtection = %+v (failures %+v), want %s protected until %s", out.ProtectedTasks, out.Failures, arns[0], expires)
	}
}

// metadataFile is the container metadata file's content (spec §4), as far as the test
// checks it.
type metadataFile struct {
	metadataIDs
	ImageID      string
	PortMappings []struct {
		ContainerPort, HostPort int32
		BindIp, Protocol        string
	}
	Networks []struct {
		NetworkMode   string
		IPv4Addresses []string
	}
}

// metadataIDs are the file's members a test knows in advance.
type metadataIDs struct {
	Cluster, ContainerInstanceARN, TaskARN          string
	TaskDefinitionFamily, TaskDefinitionRevision    string
	ContainerID, ContainerName, DockerContainerName string
	ImageName, MetadataFileStatus                   string
}

// With ECS_ENABLE_CONTAINER_METADATA=true a container finds its metadata file through
// ECS_CONTAINER_METADATA_FILE, sees it become READY with its own runtime ID, task, image,
// port and network, and the host copy goes away when the stopped task is cleaned up.
func TestContainerMetadataFile(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	b := newBackend(t)
	h.args = []string{}
	h.env = append(h.env, b.agentEnv()...)
	h.env = append(h.env, "ECS_ENABLE_CONTAINER_METADATA=true", "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=1s")
	h.start()
	ci := b.waitConnected(h)

	family := testenv.UniqueName(t, "mdfile")
	def := b.probeDef(family, "", `echo "file=$(credprobe metadata-file)"; `+serviceLoop,
		types.PortMapping{ContainerPort: aws.Int32(8080), Protocol: types.TransportProtocolTcp})
	arns := b.runTask(def, 1)
	tasks := b.waitTasks("metadata file task RUNNING", 2*time.Minute, arns, lastStatus("RUNNING"))
	taskID := taskIDOf(arns[0])
	log := h.taskLog(t, taskID, "app", "file=")
	requireProbeCommand(t, log, "metadata-file")

	var f metadataFile
	if err := json.Unmarshal([]byte(logValue(log, "file=")), &f); err != nil {
		t.Fatalf("the container's metadata file: %v; its output:\n%s", err, log)
	}
	ctr := tasks[0].Containers[0]
	// The runtime ID reported to ECS is the 64-hex one derived from the task and container,
	// and the Docker name ends in its first 20 characters.
	rid := aws.ToString(ctr.RuntimeId)
	if rid != api.RuntimeID(arns[0], "app") {
		t.Fatalf("runtimeId reported to ECS = %q, want %s", rid, api.RuntimeID(arns[0], "app"))
	}
	want := metadataIDs{
		Cluster: b.cluster, ContainerInstanceARN: aws.ToString(ci.ContainerInstanceArn), TaskARN: arns[0],
		TaskDefinitionFamily: family, TaskDefinitionRevision: "1",
		ContainerID: rid, ContainerName: "app", DockerContainerName: "/ecs-" + family + "-1-app-" + rid[:20],
		ImageName: testenv.CredProbeImage(), MetadataFileStatus: "READY",
	}
	if f.metadataIDs != want || want.ContainerID == "" {
		t.Errorf("metadata file seen by the container:\n got %+v\nwant %+v", f.metadataIDs, want)
	}
	if !strings.HasPrefix(f.ImageID, "sha256:") {
		t.Errorf("ImageID = %q, want the image's sha256 ID", f.ImageID)
	}
	hostPort := aws.ToInt32(ctr.NetworkBindings[0].HostPort)
	if len(f.PortMappings) != 1 || f.PortMappings[0].ContainerPort != 8080 || f.PortMappings[0].HostPort != hostPort ||
		f.PortMappings[0].BindIp != "0.0.0.0" || f.PortMappings[0].Protocol != "tcp" {
		t.Errorf("PortMappings = %+v, want 8080/tcp on host port %d", f.PortMappings, hostPort)
	}
	if len(f.Networks) != 1 || f.Networks[0].NetworkMode != "bridge" || len(f.Networks[0].IPv4Addresses) != 1 ||
		!strings.HasPrefix(f.Networks[0].IPv4Addresses[0], "172.") {
		t.Errorf("Networks = %+v, want the container's bridge address", f.Networks)
	}

	// The host copy is the documented file; it goes away with the task.
	hostDir := filepath.Join(h.dir, "data", "metadata", taskID)
	hostFile := filepath.Join(hostDir, "app", "ecs-container-metadata.json")
	if content, err := os.ReadFile(hostFile); err != nil || !strings.Contains(string(content), `"ContainerID": "`+want.ContainerID+`"`) {
		t.Errorf("host file %s: %v\n%s", hostFile, err, content)
	}
	b.stopTask(arns[0])
	b.waitTasks("metadata file task STOPPED", time.Minute, arns, lastStatus("STOPPED"))
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := os.Stat(hostDir)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still there a minute after the task stopped (cleanup wait 1s): %v; agent log:\n%s", hostDir, err, h.agentLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
