package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/containerlog"
	"github.com/ecsd/ecsd/internal/testenv"
)

// awslogsHost is an agent host in local mode whose tasks' awslogs go to moto: the agent
// resolves the endpoint from AWS_ENDPOINT_URL_CLOUDWATCH_LOGS and the loggers ship with
// the tasks' execution-role credentials (ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE). The
// agent has no instance credentials, so shipping works only with the execution role.
func awslogsHost(t *testing.T, moto string) *agentHost {
	t.Helper()
	h := newAgentHost(t)
	h.env = append(h.env,
		"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS="+moto,
		"AWS_REGION="+testenv.MotoRegion,
		"ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE=true",
		"ECS_AVAILABLE_LOGGING_DRIVERS=[\"json-file\",\"awslogs\"]",
	)
	return h
}

// addAWSLogsTask writes an ACS task file with an execution role and one essential
// container "main" running script with logConfiguration awslogs and options.
func (h *agentHost) addAWSLogsTask(id, script string, options map[string]string) {
	h.t.Helper()
	arn := "arn:aws:ecs:local:000000000000:task/e2e/" + id
	hostConfig, _ := json.Marshal(map[string]any{"LogConfig": map[string]any{"Type": "awslogs", "Config": options}})
	task := map[string]any{
		"arn": arn, "family": "e2e", "version": "1", "desiredStatus": "RUNNING", "networkMode": "host",
		"executionRoleCredentials": map[string]string{
			"credentialsId": "exec-" + id, "roleArn": "arn:aws:iam::000000000000:role/exec",
			"accessKeyId": "AKIDEXECUTIONROLE", "secretAccessKey": "exec-secret", "sessionToken": "exec-token",
			"expiration": time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339),
		},
		"containers": []map[string]any{{
			"name": "main", "image": testenv.BusyboxImage(), "essential": true,
			"command":      []string{"sh", "-c", script},
			"dockerConfig": map[string]any{"hostConfig": string(hostConfig)},
		}},
	}
	b, err := json.Marshal(task)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		if h.t.Failed() {
			logPath := filepath.Join(h.dir, "data", "tasks", id, "logs", "main.log")
			st, _ := os.ReadFile(containerlog.StatusPath(logPath))
			out, _ := os.ReadFile(logPath)
			h.t.Logf("task %s: logger status %s\nlog tail:\n%s", id, st, tail(out, 1000))
		}
	})
	if err := os.WriteFile(filepath.Join(h.tasks, id+".json"), b, 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// motoLogs is a CloudWatch Logs client of moto.
func motoLogs(moto string) *cwl.Client {
	return cwl.New(cwl.Options{
		Region:       testenv.MotoRegion,
		BaseEndpoint: aws.String(moto),
		Credentials:  awscreds.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// streamMessages reads every event of a log stream, oldest first; nil if it does not
// exist (yet).
func streamMessages(t *testing.T, c *cwl.Client, group, stream string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []string
	var token *string
	for {
		resp, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream),
			StartFromHead: aws.Bool(true), NextToken: token})
		if err != nil {
			return nil
		}
		for _, e := range resp.Events {
			out = append(out, aws.ToString(e.Message))
		}
		if len(resp.Events) == 0 || aws.ToString(resp.NextForwardToken) == aws.ToString(token) {
			return out
		}
		token = resp.NextForwardToken
	}
}

// TestAWSLogs: a container's output is shipped to CloudWatch Logs (moto) into the group
// the logger created and the stream prefix/container/task-id, in order, and stays in
// the container's log file on the host.
func TestAWSLogs(t *testing.T) {
	t.Parallel()
	moto := testenv.Moto(t)
	h := awslogsHost(t, moto)
	h.addAWSLogsTask("shipped", `i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo "line $i"; done; trap 'exit 0' TERM; while :; do sleep 0.1; done`,
		map[string]string{"awslogs-group": "/ecsd/e2e", "awslogs-region": testenv.MotoRegion, "awslogs-stream-prefix": "web", "awslogs-create-group": "true"})
	h.start()
	cw := motoLogs(moto)
	var got []string
	waitUntil(t, h, "200 lines in CloudWatch", time.Minute, func() bool {
		got = streamMessages(t, cw, "/ecsd/e2e", "web/main/shipped")
		return len(got) >= 200
	})
	if len(got) != 200 {
		t.Fatalf("%d events, want 200", len(got))
	}
	for i, m := range got {
		if m != fmt.Sprintf("line %d", i+1) {
			t.Fatalf("event %d = %q", i, m)
		}
	}
	b, _ := os.ReadFile(filepath.Join(h.dir, "data", "tasks", "shipped", "logs", "main.log"))
	if !strings.Contains(string(b), "line 1\n") || !strings.Contains(string(b), "line 200\n") {
		t.Errorf("the log file lacks the output: %q", tail(b, 300))
	}
	// The credentials socket is root's only.
	sock := filepath.Join(h.dir, "secrets", "logger-credentials.sock")
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("credentials socket %s: %v %v", sock, fi.Mode(), err)
	}
}

// TestAWSLogsRefusesBadOptions: an unknown awslogs option, or a bad max-size, stops the
// container with the reason.
func TestAWSLogsRefusesBadOptions(t *testing.T) {
	t.Parallel()
	moto := testenv.Moto(t)
	h := awslogsHost(t, moto)
	h.addAWSLogsTask("badopt", "echo hi", map[string]string{"awslogs-group": "g", "awslogs-frobnicate": "yes"})
	h.addTask("badsize", fmt.Sprintf(`[{"name":"app","image":%q,"essential":true,"command":["echo","hi"],"dockerConfig":{"hostConfig":%q}}]`,
		testenv.BusyboxImage(), `{"LogConfig":{"Type":"json-file","Config":{"max-size":"lots"}}}`))
	h.start()
	objects := newObjectClient(h)
	for name, want := range map[string]string{
		"badopt-main": `log driver awslogs: option "awslogs-frobnicate" is not supported by ecsd`,
		"badsize-app": `log driver json-file: max-size: "lots" is not a size`,
	} {
		var ctr api.Container
		waitUntil(t, h, name+" stopped with the reason", time.Minute, func() bool {
			ctr = api.Container{}
			return objects.get(t, "/containers/"+name, &ctr) && ctr.Status.KnownStatus == api.ContainerStatusStopped
		})
		if !strings.Contains(ctr.Status.Reason, want) || !strings.Contains(ctr.Status.Reason, "CannotCreateContainerError") {
			t.Errorf("%s reason %q, want %q", name, ctr.Status.Reason, want)
		}
	}
}

// TestAWSLogsEndpointDown: with CloudWatch unreachable (a closed port) in non-blocking
// mode the container keeps running and writing, and what could not be shipped is counted
// on the Container object with the cause.
func TestAWSLogsEndpointDown(t *testing.T) {
	t.Parallel()
	moto := testenv.Moto(t)
	h := awslogsHost(t, moto)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	h.addAWSLogsTask("down", `x=$(head -c 200 /dev/zero | tr '\0' x); i=0; trap 'exit 0' TERM; while :; do i=$((i+1)); echo $i > /tmp/rounds; echo "round $i $x"; done`,
		map[string]string{"awslogs-group": "g", "awslogs-region": testenv.MotoRegion, "awslogs-endpoint": closed, "mode": "non-blocking", "max-buffer-size": "64k"})
	h.start()
	objects := newObjectClient(h)
	var ctr api.Container
	waitUntil(t, h, "drops counted on the container", time.Minute, func() bool {
		ctr = api.Container{}
		if !objects.get(t, "/containers/down-main", &ctr) {
			return false
		}
		if !ctr.Status.LogDrops.ShipDropping() {
			return false
		}
		s := ctr.Status.LogDrops.Shipping
		return s.Events > 0 && strings.Contains(s.Reason, "connection refused")
	})
	if ctr.Status.KnownStatus != api.ContainerStatusRunning {
		t.Fatalf("container %s", ctr.Status.KnownStatus)
	}
	// The container goes on: 20,000 more rounds are 4 MB, far beyond the shipping queue
	// (64 KiB) and the logger's buffer (1 MiB).
	rounds := func() int {
		_, out, _ := h.rt.Exec(context.Background(), ctr.Status.RuntimeID, []string{"cat", "/tmp/rounds"})
		n, _ := strconv.Atoi(strings.TrimSpace(out))
		return n
	}
	start := rounds()
	waitUntil(t, h, "the container to write 4 MB more", time.Minute, func() bool { return rounds() > start+20000 })
	st, err := containerlog.ReadStatus(filepath.Join(h.dir, "data", "tasks", "down", "logs", "main.log"))
	if err != nil || st.Ship == nil || st.Ship.DroppedEvents == 0 || st.Dropping {
		t.Errorf("logger status %+v %v", st, err)
	}
}

// TestAWSLogsAgentSIGKILL: the agent is killed with SIGKILL while a container logs
// numbered lines, and started again; every line reaches CloudWatch exactly once, in order.
func TestAWSLogsAgentSIGKILL(t *testing.T) {
	t.Parallel()
	moto := testenv.Moto(t)
	h := awslogsHost(t, moto)
	const n = 1500
	h.addAWSLogsTask("killed", fmt.Sprintf(`i=0; while [ $i -lt %d ]; do i=$((i+1)); echo "n=$i"; sleep 0.01; done; trap 'exit 0' TERM; while :; do sleep 0.1; done`, n),
		map[string]string{"awslogs-group": "/ecsd/kill", "awslogs-region": testenv.MotoRegion, "awslogs-stream-prefix": "p", "awslogs-create-group": "true"})
	h.start()
	cw := motoLogs(moto)
	waitUntil(t, h, "the first lines in CloudWatch", time.Minute, func() bool {
		return len(streamMessages(t, cw, "/ecsd/kill", "p/main/killed")) > 50
	})
	h.kill(syscall.SIGKILL)
	// While the agent is down the logger goes on shipping.
	down := len(streamMessages(t, cw, "/ecsd/kill", "p/main/killed"))
	waitUntil(t, h, "lines shipped while the agent is down", time.Minute, func() bool {
		return len(streamMessages(t, cw, "/ecsd/kill", "p/main/killed")) > down+50
	})
	h.start()
	var got []string
	waitUntil(t, h, "every line in CloudWatch", 2*time.Minute, func() bool {
		got = streamMessages(t, cw, "/ecsd/kill", "p/main/killed")
		return len(got) >= n
	})
	if len(got) != n {
		t.Errorf("%d events, want %d", len(got), n)
	}
	for i, m := range got[:min(n, len(got))] {
		if m != fmt.Sprintf("n=%d", i+1) {
			t.Fatalf("event %d = %q, want n=%d: lost, repeated or out of order", i, m, i+1)
		}
	}
}
