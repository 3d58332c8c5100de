package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecsd/ecsd/localplane/access"
)

// TestServeAndStop: ecs-local serves a plane that accepts its own key pair, says where it
// is and where the key pair is (never the secret), keeps its state in --state-dir and
// returns cleanly once its context ends (SIGTERM in the binary).
func TestServeAndStop(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	dir := t.TempDir()
	creds := filepath.Join(dir, "secrets", "access.json")
	o, err := parseFlags([]string{"--listen", "127.0.0.1:0", "--state-dir", filepath.Join(dir, "state"),
		"--credentials-file", creds, "--region", "eu-west-3", "--cluster", "one", "--cluster", "two"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	var logs bytes.Buffer
	done := make(chan error, 1)
	go func() {
		err := serve(ctx, o, outW, &logs)
		outW.Close()
		done <- err
	}()
	var printed strings.Builder
	lines := bufio.NewScanner(outR)
	for i := 0; i < 2 && lines.Scan(); i++ {
		printed.WriteString(lines.Text() + "\n")
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	keys, err := access.Read(creds)
	if err != nil {
		t.Fatalf("access file: %v (printed %q)", err, printed.String())
	}
	for _, want := range []string{keys.Endpoint, creds, "ECS_BACKEND_HOST=" + keys.Endpoint, "region eu-west-3"} {
		if !strings.Contains(printed.String(), want) {
			t.Errorf("ecs-local printed %q, want it to name %q", printed.String(), want)
		}
	}
	if strings.Contains(printed.String()+logs.String(), keys.SecretAccessKey) {
		t.Error("ecs-local printed or logged its secret access key")
	}

	client := ecs.New(ecs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(keys.Endpoint), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: keys.AccessKeyID, SecretAccessKey: keys.SecretAccessKey}, nil
		}),
	})
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	list, err := client.ListClusters(cctx, &ecs.ListClustersInput{})
	if err != nil {
		t.Fatalf("ListClusters: %v", err)
	}
	want := []string{"arn:aws:ecs:eu-west-3:000000000000:cluster/one", "arn:aws:ecs:eu-west-3:000000000000:cluster/two"}
	slices.Sort(list.ClusterArns)
	if !slices.Equal(list.ClusterArns, want) {
		t.Errorf("clusters %v, want %v", list.ClusterArns, want)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ecs-local did not stop after its context ended")
	}
	if _, err := client.ListClusters(context.Background(), &ecs.ListClustersInput{}); err == nil {
		t.Error("the plane still answers after stopping")
	}
	if !fileExists(filepath.Join(dir, "state", stateFile)) {
		t.Error("no state file in --state-dir")
	}
}

// TestRefusals: a public address, a bad region or an unknown flag is a configuration
// error (exit 5) with a message saying what is wrong; nothing is served.
func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--state-dir", filepath.Join(dir, "state"), "--credentials-file", filepath.Join(dir, "access.json")}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "0.0.0.0:51690"}, "loopback"},
		{[]string{"--listen", ":0"}, "loopback"},
		{[]string{"--listen", "127.0.0.1:0", "--region", "bad region"}, "Region"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		var stderr bytes.Buffer
		if code := run(append(slices.Clone(base), tc.args...), io.Discard, &stderr); code != exitTerminal || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("ecs-local %v: exit %d, stderr %q; want exit %d naming %q", tc.args, code, stderr.String(), exitTerminal, tc.want)
		}
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
