package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/ecsd/ecsd/internal/testenv"
)

// Values the test stores in moto; none may show up anywhere but the container.
const (
	ssmValue  = "ssm-value-7f3a0c"
	asmValue  = "asm-json-value-91bc2e"
	fileValue = "file-value-55d1aa"
)

// motoConfig is an SDK configuration for the test's own calls to moto.
func motoConfig(url string) aws.Config {
	return aws.Config{Region: backendRegion, BaseEndpoint: aws.String(url),
		Credentials: awscreds.NewStaticCredentialsProvider("testing", "testing", "")}
}

// TestSecretsAndEnvironmentFiles drives the agent binary against moto: a task reads an SSM
// parameter, a Secrets Manager json-key and an S3 environment file with its execution
// role, through the standard AWS_ENDPOINT_URL_<SERVICE> settings; a wrong secret ARN and a
// missing parameter each stop their task with the reference agent's reason while the first
// task keeps running; no secret value reaches the agent's log, its data directory (with
// the checkpoint), the runtime's records or the object API.
func TestSecretsAndEnvironmentFiles(t *testing.T) {
	t.Parallel()
	moto := testenv.Moto(t)
	ctx := context.Background()
	mc := motoConfig(moto)
	if _, err := ssm.NewFromConfig(mc).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/e2e/db-password"),
		Value: aws.String(ssmValue), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	sec, err := secretsmanager.NewFromConfig(mc).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("e2e/api"),
		SecretString: aws.String(`{"key":"` + asmValue + `","other":"x"}`)})
	if err != nil {
		t.Fatal(err)
	}
	s3c := s3.NewFromConfig(mc, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("e2e-env"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(backendRegion)}}); err != nil {
		t.Fatal(err)
	}
	for key, body := range map[string]string{
		"first.env":  "# the first file\nFILE_VAR=" + fileValue + "\nSHARED=from-first\nOVERRIDDEN=from-file\n",
		"second.env": "SHARED=from-second\nSECOND_ONLY=yes\n",
	} {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("e2e-env"), Key: aws.String(key),
			Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}

	h := newAgentHost(t)
	b := newBackend(t)
	h.args = []string{}
	h.env = append(h.env, b.agentEnv()...)
	h.env = append(h.env, "AWS_ENDPOINT_URL_SSM="+moto, "AWS_ENDPOINT_URL_SECRETS_MANAGER="+moto, "AWS_ENDPOINT_URL_S3="+moto)
	h.start()
	defer h.kill(syscall.SIGTERM)
	b.waitConnected(h)

	// The container prints digests, not values, so its own log holds no secret either.
	digest := `$(printf %%s "$%s" | md5sum | cut -c1-32)`
	script := "echo DB=" + fmt.Sprintf(digest, "DB_PASSWORD") + " API=" + fmt.Sprintf(digest, "API_KEY") +
		" FILE=" + fmt.Sprintf(digest, "FILE_VAR") + " SHARED=$SHARED SECOND=$SECOND_ONLY OVERRIDDEN=$OVERRIDDEN; " +
		"trap 'exit 0' TERM; while true; do sleep 0.2; done"
	register := func(family string, secrets []types.Secret, files []types.EnvironmentFile) string {
		t.Helper()
		out, err := b.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
			Family: aws.String(family), NetworkMode: types.NetworkModeHost,
			ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/e2e-execution"),
			ContainerDefinitions: []types.ContainerDefinition{{
				Name: aws.String("app"), Image: aws.String(testenv.BusyboxImage()), Essential: aws.Bool(true), Memory: aws.Int32(64),
				Command:          []string{"sh", "-c", script},
				Environment:      []types.KeyValuePair{{Name: aws.String("OVERRIDDEN"), Value: aws.String("from-environment")}},
				Secrets:          secrets,
				EnvironmentFiles: files,
			}},
		})
		if err != nil {
			t.Fatalf("RegisterTaskDefinition %s: %v", family, err)
		}
		return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	}
	good := register("secrets-good", []types.Secret{
		{Name: aws.String("DB_PASSWORD"), ValueFrom: aws.String("/e2e/db-password")},
		{Name: aws.String("API_KEY"), ValueFrom: aws.String(aws.ToString(sec.ARN) + ":key::")},
	}, []types.EnvironmentFile{
		{Type: types.EnvironmentFileTypeS3, Value: aws.String("arn:aws:s3:::e2e-env/first.env")},
		{Type: types.EnvironmentFileTypeS3, Value: aws.String("arn:aws:s3:::e2e-env/second.env")},
	})
	goodTask := b.runTask(good, 1)
	b.waitTasks("the task with secrets RUNNING", 2*time.Minute, goodTask, lastStatus("RUNNING"))

	sum := func(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(s))) }
	want := fmt.Sprintf("DB=%s API=%s FILE=%s SHARED=from-first SECOND=yes OVERRIDDEN=from-environment\n", sum(ssmValue), sum(asmValue), sum(fileValue))
	logs := waitContainerLog(t, h, "app", want)
	if logs != want {
		t.Fatalf("the container printed\n%s\nwant\n%s", logs, want)
	}

	wrongARN := strings.Replace(aws.ToString(sec.ARN), "e2e/api", "e2e/nope", 1)
	bad := b.runTask(register("secrets-wrong-arn", []types.Secret{{Name: aws.String("API_KEY"), ValueFrom: aws.String(wrongARN + ":key::")}}, nil), 1)
	missing := b.runTask(register("secrets-missing", []types.Secret{{Name: aws.String("DB"), ValueFrom: aws.String("/e2e/missing")}}, nil), 1)
	stopped := b.waitTasks("the tasks with unreadable secrets STOPPED", 2*time.Minute, append(bad, missing...), lastStatus("STOPPED"))
	reasons := map[string]string{}
	for _, tk := range stopped {
		reasons[aws.ToString(tk.TaskArn)] = aws.ToString(tk.StoppedReason)
	}
	for arn, want := range map[string]string{
		bad[0]: "fetching secret data from AWS Secrets Manager in region " + backendRegion + ": ResourceInitializationError: The task can't retrieve the secret with ARN '" +
			wrongARN + "' from AWS Secrets Manager. Check that the secret ARN is correct: ",
		missing[0]: "fetching secret data from SSM Parameter Store in " + backendRegion + ": invalid parameters: /e2e/missing",
	} {
		if !strings.HasPrefix(reasons[arn], want) {
			t.Errorf("task %s stopped with %q, want %q", arn, reasons[arn], want)
		}
	}
	// The agent kept serving the first task.
	b.waitTasks("the task with secrets still RUNNING", 10*time.Second, goodTask, lastStatus("RUNNING"))

	// Where secret values must not be: the object API while the agent runs, then (agent
	// stopped) its log, its data directory with the checkpoint, and the runtime's records.
	var body string
	body = getObject(h.objectAPIClient(true), objectAPI+"/containers", "", nil)
	if !strings.HasPrefix(body, "200 ") || !strings.Contains(body, "/e2e/db-password") {
		t.Fatalf("object API containers: %.300s", body)
	}
	noValues(t, "the object API", []byte(body))
	h.kill(syscall.SIGTERM)
	agentLog, _ := os.ReadFile(filepath.Join(h.dir, "agent.log"))
	noValues(t, "the agent log", agentLog)
	_ = filepath.WalkDir(filepath.Join(h.dir, "data"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		b, _ := os.ReadFile(path)
		noValues(t, path, b)
		return nil
	})
	list, err := h.rt.ListContainers(ctx)
	if err != nil || len(list) == 0 {
		t.Fatalf("runtime containers: %v %v", list, err)
	}
	for _, c := range list {
		rec, err := h.rt.ContainerRecord(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		noValues(t, "the runtime record of "+c.ID, rec)
	}
}

// noValues fails if b holds any of the test's secret values.
func noValues(t *testing.T, where string, b []byte) {
	t.Helper()
	for _, v := range []string{ssmValue, asmValue, fileValue} {
		if bytes.Contains(b, []byte(v)) {
			t.Errorf("%s holds the secret value %q", where, v)
		}
	}
}

// waitContainerLog waits for the log of container name (of any task) to hold want.
func waitContainerLog(t *testing.T, h *agentHost, name, want string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		files, _ := filepath.Glob(filepath.Join(h.dir, "data", "tasks", "*", "logs", name+".log"))
		for _, f := range files {
			if b, _ := os.ReadFile(f); strings.Contains(string(b), "DB=") {
				return string(b)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log of %s with %q; agent log:\n%s", name, want, h.agentLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
