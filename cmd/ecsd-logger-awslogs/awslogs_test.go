package main

import (
	"flag"
	"io"
	"testing"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/logdriver"
)

// The arguments the agent builds are what this logger parses: containerd passes them as
// "--flag value" pairs, in no set order.
func TestAgentArgumentsParse(t *testing.T) {
	lc := &api.LogConfig{Driver: "awslogs", Options: map[string]string{
		"awslogs-group": "/g", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "p", "awslogs-create-group": "true",
		"awslogs-datetime-format": "%Y-%m-%d", "awslogs-endpoint": "http://127.0.0.1:1", "mode": "non-blocking", "max-buffer-size": "2m",
	}}
	env := logdriver.Env{TaskARN: "arn:aws:ecs:r:1:task/c/tid", TaskID: "tid", Container: "web", RuntimeID: "rid", CredentialsSocket: "/run/s.sock"}
	s, err := logdriver.Settings(lc, env)
	if err != nil {
		t.Fatal(err)
	}
	var argv []string
	for k, v := range s.LoggerArgs {
		argv = append(argv, k, v)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	_ = fs.String("file", "", "")
	_ = fs.String("max-size", "", "")
	_ = fs.String("max-file", "", "")
	var a awslogsFlags
	a.Register(fs)
	if err := fs.Parse(argv); err != nil || fs.NArg() != 0 {
		t.Fatalf("parse %q: %v (left %q)", argv, err, fs.Args())
	}
	if a.group != "/g" || a.region != "eu-west-1" || a.stream != "p/web/tid" || !a.createGroup || a.endpoint != "http://127.0.0.1:1" ||
		a.mode != "non-blocking" || a.maxBuffer != 2<<20 || a.multiline == "" || a.socket != "/run/s.sock" || a.task != env.TaskARN {
		t.Errorf("parsed %+v", a)
	}
}
