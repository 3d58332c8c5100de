package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsd/ecsd/internal/testenv"
)

// taskLog waits until the log of the task's container (the only task in the agent's data
// directory whose container has that name) holds a line starting with prefix, and returns
// the whole log.
func (h *agentHost) taskLog(t *testing.T, taskID, container, prefix string) string {
	t.Helper()
	path := filepath.Join(h.dir, "data", "tasks", taskID, "logs", container+".log")
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(path)
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), prefix) {
				return string(b)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s never logged %q; log:\n%s", taskID, container, prefix, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logValue returns what follows prefix on the first log line starting with it.
func logValue(log, prefix string) string {
	for _, l := range strings.Split(log, "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return v
		}
	}
	return ""
}

// jsonLine decodes the first log line holding a JSON object with key.
func jsonLine(t *testing.T, log, key string) map[string]any {
	t.Helper()
	for _, l := range strings.Split(log, "\n") {
		_, body, ok := strings.Cut(l, " ")
		if !ok || !strings.HasPrefix(body, "{") || !strings.Contains(body, `"`+key+`"`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err == nil {
			return m
		}
	}
	t.Fatalf("no JSON response with %q in the log:\n%s", key, log)
	return nil
}

func taskIDOf(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

// Task metadata v4, credentials, stats and introspection, seen from inside bridge-mode task
// containers through 169.254.170.2 (ecs-init's rules on the test host) and from the test
// host, with a real SDK resolving the task role's credentials.
func TestTaskMetadataAndCredentials(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	b := newBackend(t)
	h.args = []string{}
	h.env = append(h.env, b.agentEnv()...)
	h.env = append(h.env, "ECS_ENABLE_TASK_IAM_ROLE=true", "ECS_TASK_METADATA_RPS_LIMIT=5,10")
	h.start()
	b.waitConnected(h)
	h.hostSetup(t)

	// Task A has a role. Its container resolves credentials with the SDK's default chain,
	// fetches its own v4 metadata, then keeps a CPU busy for the stats.
	out, err := b.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String("role-task"),
		NetworkMode: types.NetworkModeBridge,
		TaskRoleArn: aws.String("arn:aws:iam::000000000000:role/app"),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:         aws.String("app"),
			Image:        aws.String(testenv.CredProbeImage()),
			Essential:    aws.Bool(true),
			Memory:       aws.Int32(64),
			Cpu:          128,
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}},
			Environment:  []types.KeyValuePair{{Name: aws.String("AWS_EC2_METADATA_DISABLED"), Value: aws.String("true")}},
			// The process starts a moment before the agent records RUNNING, so the probe
			// waits for its own metadata to say RUNNING (as a workload that cares would)
			// before printing the responses the test reads.
			Command: []string{"sh", "-c", `credprobe creds; i=0; ` +
				`until credprobe get "$ECS_CONTAINER_METADATA_URI_V4" | grep -q '"KnownStatus":"RUNNING"' || [ $i -ge 200 ]; do i=$((i+1)); sleep 0.05; done; ` +
				`credprobe get "$ECS_CONTAINER_METADATA_URI_V4" "$ECS_CONTAINER_METADATA_URI_V4/task"; ` +
				`echo "creds-uri=$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"; echo "metadata-uri=$ECS_CONTAINER_METADATA_URI_V4"; ` +
				`trap 'exit 0' TERM; while :; do :; done`},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	arnA := b.runTask(aws.ToString(out.TaskDefinition.TaskDefinitionArn), 1)
	tasks := b.waitTasks("role task RUNNING", 2*time.Minute, arnA, lastStatus("RUNNING"))
	logA := h.taskLog(t, taskIDOf(arnA[0]), "app", "metadata-uri=")

	// The SDK got the task role's credentials.
	if v := logValue(logA, "access-key="); !strings.HasPrefix(v, "ASIA") || !strings.Contains(v, "has-secret=true has-token=true") {
		t.Errorf("credentials from inside the task: %q; log:\n%s", v, logA)
	}
	// The v4 container and task responses describe this task.
	hostPort := aws.ToInt32(tasks[0].Containers[0].NetworkBindings[0].HostPort)
	ctr := jsonLine(t, logA, "DockerId")
	if ctr["Name"] != "app" || ctr["Image"] != testenv.CredProbeImage() || !strings.HasPrefix(fmt.Sprint(ctr["ImageID"]), "sha256:") ||
		ctr["KnownStatus"] != "RUNNING" || ctr["Type"] != "NORMAL" {
		t.Errorf("v4 container response: %v", ctr)
	}
	if lim, _ := ctr["Limits"].(map[string]any); lim["CPU"] != float64(128) || lim["Memory"] != float64(64) {
		t.Errorf("v4 container Limits = %v, want CPU 128 Memory 64", ctr["Limits"])
	}
	if ports, _ := ctr["Ports"].([]any); len(ports) != 1 || ports[0].(map[string]any)["HostPort"] != float64(hostPort) ||
		ports[0].(map[string]any)["ContainerPort"] != float64(8080) {
		t.Errorf("v4 container Ports = %v, want 8080 on host port %d", ctr["Ports"], hostPort)
	}
	if nets, _ := ctr["Networks"].([]any); len(nets) != 1 || nets[0].(map[string]any)["NetworkMode"] != "bridge" ||
		!strings.HasPrefix(fmt.Sprint(nets[0].(map[string]any)["IPv4Addresses"]), "[172.") {
		t.Errorf("v4 container Networks = %v, want one bridge address", ctr["Networks"])
	}
	task := jsonLine(t, logA, "TaskARN")
	if task["TaskARN"] != arnA[0] || task["Family"] != "role-task" || task["Cluster"] != b.cluster {
		t.Errorf("v4 task response: %v", task)
	}
	if cs, _ := task["Containers"].([]any); len(cs) != 1 {
		t.Errorf("v4 task Containers = %v", task["Containers"])
	}

	// Task B, without a role, is given task A's credentials URI: refused.
	credsURI := logValue(logA, "creds-uri=")
	if !strings.HasPrefix(credsURI, "/v2/credentials/") {
		t.Fatalf("task A's credentials URI %q", credsURI)
	}
	outB, err := b.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String("thief"),
		NetworkMode: types.NetworkModeBridge,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:      aws.String("thief"),
			Image:     aws.String(testenv.CredProbeImage()),
			Essential: aws.Bool(true),
			Memory:    aws.Int32(64),
			Environment: []types.KeyValuePair{
				{Name: aws.String("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), Value: aws.String(credsURI)},
				{Name: aws.String("AWS_EC2_METADATA_DISABLED"), Value: aws.String("true")},
			},
			Command: []string{"sh", "-c", `credprobe creds; credprobe get "http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"; echo done=1`},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	arnB := b.runTask(aws.ToString(outB.TaskDefinition.TaskDefinitionArn), 1)
	b.waitTasks("thief task STOPPED", 2*time.Minute, arnB, lastStatus("STOPPED"))
	logB := h.taskLog(t, taskIDOf(arnB[0]), "thief", "done=")
	if strings.Contains(logB, "access-key=") || strings.Contains(logB, "SecretAccessKey") {
		t.Errorf("another task obtained task A's credentials:\n%s", logB)
	}
	if !strings.Contains(logB, `400 {"code":"InvalidIdInRequest"`) {
		t.Errorf("the other task's request was not refused with InvalidIdInRequest:\n%s", logB)
	}

	// Stats of the busy container, from the test host with the endpoint ID.
	metaURI := logValue(logA, "metadata-uri=")
	local := strings.Replace(metaURI, "http://169.254.170.2", "http://127.0.0.1:51679", 1)
	deadline := time.Now().Add(time.Minute)
	for {
		body, err := httpGet(t, h.dial, local+"/stats")
		var st struct {
			CPU struct {
				Usage struct {
					Total uint64 `json:"total_usage"`
				} `json:"cpu_usage"`
			} `json:"cpu_stats"`
			Memory struct {
				Usage uint64 `json:"usage"`
			} `json:"memory_stats"`
		}
		if err == nil && json.Unmarshal([]byte(body), &st) == nil && st.CPU.Usage.Total > 0 && st.Memory.Usage > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no non-zero CPU and memory in /stats: %q, %v", body, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Introspection lists the task and finds it by a short container ID.
	body, err := httpGet(t, h.dial, "http://127.0.0.1:51678/v1/tasks?taskarn="+arnA[0])
	if err != nil || !strings.Contains(body, `"KnownStatus":"RUNNING"`) || !strings.Contains(body, `"Family":"role-task"`) {
		t.Errorf("introspection task: %q, %v", body, err)
	}
	body, err = httpGet(t, h.dial, "http://127.0.0.1:51678/v1/metadata")
	if err != nil || !strings.Contains(body, `"Cluster":"`+b.cluster+`"`) || !strings.Contains(body, "container-instance/") {
		t.Errorf("introspection metadata: %q, %v", body, err)
	}

	// Over the rate limit (5/s, burst 10 here) requests get 429; the agent stays responsive.
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) { return h.dial(ctx, addr) }}}
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(local)
			if err != nil {
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			if resp.StatusCode == http.StatusTooManyRequests && string(b) != "You have reached maximum request limit.\n" && string(b) != "You have reached maximum request limit." {
				t.Errorf("429 body %q", b)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusTooManyRequests] == 0 || codes[http.StatusOK] == 0 {
		t.Errorf("40 requests at once: status counts %v, want some 200 and some 429", codes)
	}
	if body, err := httpGet(t, h.dial, "http://127.0.0.1:51678/v1/metadata"); err != nil || !strings.Contains(body, "Cluster") {
		t.Errorf("introspection after the burst: %q, %v", body, err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(local)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("metadata never answered 200 again after the burst: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
