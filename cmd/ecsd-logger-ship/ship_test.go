package main

import (
	"flag"
	"io"
	"testing"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/logdriver"
)

// The arguments the agent builds are what this logger parses ("--flag value" pairs in no
// set order), and they make a working sink.
func TestAgentArgumentsParse(t *testing.T) {
	env := logdriver.Env{TaskARN: "arn:aws:ecs:r:1:task/c/tid", TaskID: "tid", Container: "web", RuntimeID: "0123456789abcdef", DockerName: "ecs-f-1-web-0123"}
	for _, lc := range []*api.LogConfig{
		{Driver: "fluentd", Options: map[string]string{"fluentd-address": "unix:///run/f.sock", "tag": "app", "fluentd-sub-second-precision": "true",
			"fluentd-request-ack": "true", "fluentd-buffer-limit": "100", "fluentd-max-retries": "3", "fluentd-retry-wait": "50ms",
			"fluentd-write-timeout": "2s", "fluentd-async": "true", "mode": "non-blocking", "max-buffer-size": "2m"}},
		{Driver: "syslog", Options: map[string]string{"syslog-address": "udp://127.0.0.1:5514", "syslog-format": "rfc3164", "syslog-facility": "local1", "mode": "blocking"}},
		{Driver: "gelf", Options: map[string]string{"gelf-address": "tcp://127.0.0.1:12201", "gelf-tcp-max-reconnect": "2", "gelf-tcp-reconnect-delay": "1", "tag": "g"}},
		{Driver: "gelf", Options: map[string]string{"gelf-address": "udp://127.0.0.1:12201", "gelf-compression-type": "zlib", "gelf-compression-level": "9"}},
	} {
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
		for _, f := range []string{"file", "max-size", "max-file"} {
			_ = fs.String(f, "", "")
		}
		a := newShipFlags()
		a.Register(fs)
		if err := fs.Parse(argv); err != nil || fs.NArg() != 0 {
			t.Fatalf("parse %q: %v (left %q)", argv, err, fs.Args())
		}
		sink, err := a.New(func(string, ...any) {})
		if err != nil {
			t.Fatalf("%s: %v", lc.Driver, err)
		}
		if sink.Blocking() != (lc.Options["mode"] == "blocking") {
			t.Errorf("%s: blocking %v", lc.Driver, sink.Blocking())
		}
		sink.StopBlocking()
		_ = sink.Close()
		if a.driver != lc.Driver || a.tag == "" {
			t.Errorf("parsed %+v", a)
		}
	}
	if a := newShipFlags(); a.driver == "" {
		if s, err := a.New(nil); s != nil || err != nil {
			t.Errorf("no driver: %v %v", s, err)
		}
	}
}
