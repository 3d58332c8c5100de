package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
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

	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/localplane/access"
)

// ecrHost is an ECR registry name the tests serve from the authenticating test registry
// through a hosts directory (ECSD_REGISTRY_CONFIG_PATH); moto's ECR hands out the token
// "AWS:<registry>-auth-token", which that registry accepts.
const ecrHost = "123456789012.dkr.ecr.us-east-1.amazonaws.com"

// motoCLI runs the AWS CLI against the moto server at url, as an operator setting up
// resources would, and returns its output.
func motoCLI(t *testing.T, url string) func(args ...string) []byte {
	t.Helper()
	return func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command("aws", append([]string{"--endpoint-url", url, "--region", testenv.MotoRegion, "--output", "json"}, args...)...)
		cmd.Env = append(cleanAWSEnv(t), "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
}

// ecrHostsDir writes a registry hosts directory serving ecrHost from the test registry
// with authentication.
func ecrHostsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ecrHost), 0o755); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf("server = %q\n", "http://"+testenv.AuthRegistry())
	if err := os.WriteFile(filepath.Join(dir, ecrHost, "hosts.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// awsEnv points every AWS client of the agent at moto with the SDK's standard variables.
func awsEnv(moto string) []string {
	var env []string
	for _, s := range []string{"CLOUDWATCH_LOGS", "SSM", "SECRETS_MANAGER", "S3", "ECR", "STS"} {
		env = append(env, "AWS_ENDPOINT_URL_"+s+"="+moto)
	}
	return env
}

// localPlane is an ECS client for the agent's local control plane, signed with its key
// pair and dialled from inside the test host; it waits for the agent to connect.
func (h *agentHost) localPlane(t *testing.T) *ecs.Client {
	t.Helper()
	h.waitLog(`"local ECS control plane listening"`)
	keys, err := access.Read(filepath.Join(h.dir, "secrets", "local-plane.json"))
	if err != nil {
		t.Fatal(err)
	}
	plane := ecs.New(ecs.Options{
		Region: keys.Region, BaseEndpoint: aws.String(keys.Endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: keys.AccessKeyID, SecretAccessKey: keys.SecretAccessKey}, nil
		}),
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) { return h.dial(ctx, addr) }}},
	})
	waitConnectedTo(t, h, plane)
	return plane
}

// runPlaneTask registers def and runs one task of it, returning the task's ARN.
func runPlaneTask(t *testing.T, plane *ecs.Client, def *ecs.RegisterTaskDefinitionInput) string {
	t.Helper()
	ctx := context.Background()
	if _, err := plane.RegisterTaskDefinition(ctx, def); err != nil {
		t.Fatalf("RegisterTaskDefinition %s: %v", aws.ToString(def.Family), err)
	}
	out, err := plane.RunTask(ctx, &ecs.RunTaskInput{TaskDefinition: def.Family})
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("RunTask %s: %v (failures %+v)", aws.ToString(def.Family), err, out)
	}
	return aws.ToString(out.Tasks[0].TaskArn)
}

// waitPlaneTask waits until the plane reports the task in status.
func waitPlaneTask(t *testing.T, h *agentHost, plane *ecs.Client, arn, status string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last types.Task
	for {
		d, err := plane.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Tasks: []string{arn}})
		if err == nil && len(d.Tasks) == 1 {
			last = d.Tasks[0]
			if aws.ToString(last.LastStatus) == status {
				return
			}
			if aws.ToString(last.LastStatus) == "STOPPED" {
				t.Fatalf("task %s stopped (reason %q), want %s; agent log:\n%s", arn, aws.ToString(last.StoppedReason), status, h.agentLog())
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s: last status %q (stopped reason %q), want %s; agent log:\n%s", arn,
				aws.ToString(last.LastStatus), aws.ToString(last.StoppedReason), status, h.agentLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cloudWatchMessages reads a log stream back from moto with the AWS CLI; nil while the
// stream does not exist.
func cloudWatchMessages(t *testing.T, moto, group, stream string) []string {
	t.Helper()
	cmd := exec.Command("aws", "--endpoint-url", moto, "--region", testenv.MotoRegion, "--output", "json",
		"logs", "get-log-events", "--log-group-name", group, "--log-stream-name", stream, "--start-from-head")
	cmd.Env = append(cleanAWSEnv(t), "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing")
	b, err := cmd.Output()
	if err != nil {
		return nil
	}
	var out struct {
		Events []struct {
			Message string `json:"message"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("get-log-events: %v\n%s", err, b)
	}
	msgs := make([]string, 0, len(out.Events))
	for _, e := range out.Events {
		msgs = append(msgs, e.Message)
	}
	return msgs
}

// TestE2EProductionTaskDefinition runs the production task definition through the
// local control plane and the agent binary, with moto as AWS: an ECR image pulled with the
// execution role, awslogs (create-group, stream prefix, non-blocking), an SSM secret, a
// Secrets Manager json-key secret, an S3 environment file, no-new-privileges,
// initProcessEnabled and pidMode task. The output is read back from CloudWatch Logs; the
// second container's log group comes from an SSM parameter (log secretOptions).
func TestE2EProductionTaskDefinition(t *testing.T) {
	t.Parallel()
	moto := testenv.Moto(t)
	m := motoCLI(t, moto)
	m("ssm", "put-parameter", "--name", "/prod/db", "--type", "SecureString", "--value", "ssm-val-4711")
	m("ssm", "put-parameter", "--name", "/prod/side-group", "--type", "String", "--value", "/ecsd/side")
	var sec struct{ ARN string }
	if err := json.Unmarshal(m("secretsmanager", "create-secret", "--name", "prod/api", "--secret-string", `{"token":"asm-val-0815","other":"x"}`), &sec); err != nil || sec.ARN == "" {
		t.Fatalf("create-secret: %v", err)
	}
	m("s3api", "create-bucket", "--bucket", "prod-env")
	envFile := filepath.Join(t.TempDir(), "app.env")
	if err := os.WriteFile(envFile, []byte("# from S3\nFROM_FILE=file-val\nOVERRIDDEN=from-file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m("s3api", "put-object", "--bucket", "prod-env", "--key", "app.env", "--body", envFile)

	h := newAgentHost(t)
	h.env = append(h.env, awsEnv(moto)...)
	h.env = append(h.env, "ECSD_REGISTRY_CONFIG_PATH="+ecrHostsDir(t),
		`ECS_AVAILABLE_LOGGING_DRIVERS=["json-file","awslogs","none"]`,
		"ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE=true",
		// The instance's region: where a secret given by bare name lives.
		"AWS_DEFAULT_REGION="+testenv.MotoRegion)
	h.start()
	defer h.kill(syscall.SIGTERM)
	plane := h.localPlane(t)

	script := `echo secrets $DB_PASS $API_TOKEN; echo file $FROM_FILE $OVERRIDDEN; ` +
		`echo nnp $(awk '/^NoNewPrivs/ {print $2}' /proc/1/status) $(awk '/^NoNewPrivs/ {print $2}' /proc/self/status); ` +
		`until ps | grep -q '[s]leep 31337'; do sleep 0.1; done; echo saw-side; ` +
		`trap 'exit 0' TERM; while true; do sleep 1; done`
	image := ecrHost + "/" + testenv.BusyboxRepo + ":latest"
	arn := runPlaneTask(t, plane, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("prod"), NetworkMode: types.NetworkModeBridge, PidMode: types.PidModeTask,
		ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/prod-exec"),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String(image), Essential: aws.Bool(true), Memory: aws.Int32(64),
			EntryPoint: []string{"sh", "-c"}, Command: []string{script},
			Environment: []types.KeyValuePair{{Name: aws.String("OVERRIDDEN"), Value: aws.String("from-env")}},
			Secrets: []types.Secret{
				{Name: aws.String("DB_PASS"), ValueFrom: aws.String("arn:aws:ssm:us-east-1:123456789012:parameter/prod/db")},
				{Name: aws.String("API_TOKEN"), ValueFrom: aws.String(sec.ARN + ":token::")},
			},
			EnvironmentFiles:      []types.EnvironmentFile{{Type: types.EnvironmentFileTypeS3, Value: aws.String("arn:aws:s3:::prod-env/app.env")}},
			DockerSecurityOptions: []string{"no-new-privileges"},
			LinuxParameters:       &types.LinuxParameters{InitProcessEnabled: aws.Bool(true)},
			LogConfiguration: &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{
				"awslogs-group": "/ecsd/prod", "awslogs-region": testenv.MotoRegion, "awslogs-stream-prefix": "prod",
				"awslogs-create-group": "true", "mode": "non-blocking",
			}},
		}, {
			Name: aws.String("side"), Image: aws.String(testenv.BusyboxImage()), Essential: aws.Bool(false), Memory: aws.Int32(32),
			EntryPoint: []string{"sh", "-c"}, Command: []string{"echo side-up; exec sleep 31337"},
			// A log option from a secret (secretOptions): the log group's name is in SSM.
			LogConfiguration: &types.LogConfiguration{LogDriver: types.LogDriverAwslogs,
				Options: map[string]string{"awslogs-stream-prefix": "sidepfx", "awslogs-region": testenv.MotoRegion,
					"awslogs-create-group": "true"},
				SecretOptions: []types.Secret{{Name: aws.String("awslogs-group"), ValueFrom: aws.String("/prod/side-group")}},
			},
		}},
	})
	waitPlaneTask(t, h, plane, arn, "RUNNING", 2*time.Minute)
	taskID := arn[strings.LastIndex(arn, "/")+1:]

	want := []string{"secrets ssm-val-4711 asm-val-0815", "file file-val from-env", "nnp 1 1", "saw-side"}
	var got []string
	deadline := time.Now().Add(time.Minute)
	for {
		got = cloudWatchMessages(t, moto, "/ecsd/prod", "prod/app/"+taskID)
		if strings.Join(got, "\n") == strings.Join(want, "\n") {
			break
		}
		if time.Now().After(deadline) {
			h.kill(syscall.SIGTERM)
			_, ctrs := h.objects()
			for _, c := range ctrs {
				t.Logf("container %s: %s, reason %q", c.Name, c.Status.KnownStatus, c.Status.Reason)
			}
			t.Fatalf("CloudWatch stream prod/app/%s holds %q, want %q; agent log:\n%s", taskID, got, want, h.agentLog())
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitUntil(t, h, "the side container's output in its stream named by a secret option", time.Minute, func() bool {
		return strings.Join(cloudWatchMessages(t, moto, "/ecsd/side", "sidepfx/side/"+taskID), "\n") == "side-up"
	})
	// The local copy stays readable (ecsctl logs and the object API read it).
	if local := h.taskLog(t, taskID, "app", "saw-side"); !strings.Contains(local, "secrets ssm-val-4711") {
		t.Fatalf("the local log lacks the output:\n%s", local)
	}
	// The secret values are in the container's environment and nowhere of the agent's.
	ckpt, err := os.ReadFile(h.checkpointPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"ssm-val-4711", "asm-val-0815"} {
		if strings.Contains(h.fullLog(), v) || strings.Contains(string(ckpt), v) {
			t.Errorf("secret value %q reached the agent's log or checkpoint", v)
		}
	}
	if _, err := plane.StopTask(context.Background(), &ecs.StopTaskInput{Task: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	waitPlaneTask(t, h, plane, arn, "STOPPED", time.Minute)
}
