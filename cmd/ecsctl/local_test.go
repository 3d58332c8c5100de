package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsd/ecsd/localplane/access"
)

// TestLocalEnv: the export lines, evaluated by a real shell, give back the file's values
// exactly, whatever characters they hold.
func TestLocalEnv(t *testing.T) {
	noIMDS(t)
	pwned := filepath.Join(t.TempDir(), "pwned")
	f := access.File{Endpoint: "http://127.0.0.1:51690", Region: "local",
		AccessKeyID: "ECSDAAAABBBBCCCCDDDD", SecretAccessKey: `it's $(touch ` + pwned + `) "x" \ ` + "`touch " + pwned + "`"}
	path := writeAccessFile(t, f)
	r := runCLI(t, context.Background(), "local", "env", "--local-credentials", path)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.err)
	}
	lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("output %q, want 4 export lines", r.out)
	}
	script := r.out + `printf '%s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_DEFAULT_REGION" "$AWS_ENDPOINT_URL_ECS"`
	out, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	want := strings.Join([]string{f.AccessKeyID, f.SecretAccessKey, f.Region, f.Endpoint}, "\n") + "\n"
	if string(out) != want {
		t.Errorf("the shell read back\n%s\nwant\n%s", out, want)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Error("evaluating the export lines ran a command from the secret")
	}

	// The file from the environment; a missing file is a clear error on stderr.
	t.Setenv(envLocalCredentials, path)
	if r := runCLI(t, context.Background(), "local", "env"); r.code != 0 || r.out != strings.Join(lines, "\n")+"\n" {
		t.Errorf("with %s: exit %d, %q", envLocalCredentials, r.code, r.out)
	}
	missing := filepath.Join(t.TempDir(), "none.json")
	r = runCLI(t, context.Background(), "local", "env", "--local-credentials", missing)
	if r.code != 1 || r.out != "" || !strings.Contains(r.err, "is ecs-agent --local running?") || !strings.Contains(r.err, missing) {
		t.Errorf("missing file: exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
	}
}

// TestRunFlagsOverrideTheAccessFile: flags and environment win over the file, and with a
// key pair given no file is needed at all.
func TestRunFlagsOverrideTheAccessFile(t *testing.T) {
	p := newLocalPlane(t)
	// A file whose endpoint is wrong: the flag's wins.
	t.Setenv(envLocalCredentials, writeAccessFile(t, access.File{Endpoint: "http://127.0.0.1:1", Region: "local",
		AccessKeyID: localAccessKeyID, SecretAccessKey: localSecretAccessKey}))
	if _, err := p.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("named"), ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"),
			Image: aws.String("busybox"), Memory: aws.Int32(32)}}}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) result {
		return runCLI(t, context.Background(), append([]string{"--server", "http://127.0.0.1:1", "run",
			"--task-definition", "named", "--cluster", testCluster}, args...)...)
	}
	if r := run("--endpoint", p.url); r.code != 0 {
		t.Errorf("--endpoint over the file's: exit %d, %q", r.code, r.err)
	}
	t.Setenv(envLocalCredentials, filepath.Join(t.TempDir(), "missing.json"))
	if r := run("--endpoint", p.url, "--access-key-id", localAccessKeyID, "--secret-access-key", localSecretAccessKey,
		"--region", "eu-west-1"); r.code != 0 {
		t.Errorf("everything given, no file: exit %d, %q", r.code, r.err)
	}
	t.Setenv(envAccessKeyID, localAccessKeyID)
	t.Setenv(envSecretAccessKey, localSecretAccessKey)
	t.Setenv(envEndpoint, p.url)
	if r := run(); r.code != 0 {
		t.Errorf("keys and endpoint from the environment, no file: exit %d, %q", r.code, r.err)
	}
	if _, err := os.Stat(os.Getenv(envLocalCredentials)); err == nil {
		t.Error("a missing access file appeared")
	}
}
