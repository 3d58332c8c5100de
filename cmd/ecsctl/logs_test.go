package main

import (
	"fmt"
	"strings"
	"testing"
)

func numbered(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

// TestLogs checks how a container is named and what part of its log is printed.
func TestLogs(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	e.writeLog(t, "web1", "app", numbered(1, 10), false)
	e.writeLog(t, "web1", "sidecar", "sidecar says hi\n", false)
	e.writeLog(t, "batch1", "job", "job output\n", false)
	tests := []struct {
		name string
		args []string
		code int
		out  string
		err  string
	}{
		{name: "task/container", args: []string{"logs", "web1/app"}, out: numbered(1, 10)},
		{name: "container object name", args: []string{"logs", "web1-sidecar"}, out: "sidecar says hi\n"},
		{name: "task with -c", args: []string{"logs", "web1", "-c", "app", "--tail", "2"}, out: numbered(9, 10)},
		{name: "tail", args: []string{"logs", "web1/app", "--tail", "3"}, out: numbered(8, 10)},
		{name: "tail 0", args: []string{"logs", "web1/app", "--tail", "0"}, out: ""},
		{name: "single-container task", args: []string{"logs", "batch1"}, out: "job output\n"},
		{name: "ambiguous task", args: []string{"logs", "web1"}, code: 1,
			err: "task web1 has containers app, sidecar: name one as web1/CONTAINER or with -c"},
		{name: "missing container", args: []string{"logs", "web1/nope"}, code: 1,
			err: `Error from server (NotFound): containers.ecs.ecsd.io "web1-nope" not found`},
		{name: "missing task", args: []string{"logs", "nope"}, code: 1, err: `"nope" not found`},
		{name: "both forms", args: []string{"logs", "web1/app", "-c", "app"}, code: 1, err: "not both"},
		{name: "stopped container followed ends", args: []string{"logs", "-f", "batch1/job"}, out: "job output\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.ecsctl(t, tc.args...)
			if r.code != tc.code || r.out != tc.out || !strings.Contains(r.err, tc.err) {
				t.Errorf("got exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr with %q",
					r.code, r.out, r.err, tc.code, tc.out, tc.err)
			}
		})
	}
}

// TestLogsFollow checks that -f prints what a running container appends, and ends
// cleanly when interrupted.
func TestLogsFollow(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	e.writeLog(t, "web1", "app", numbered(1, 5), false)
	b := e.start(t, "logs", "web1/app", "-f", "--tail", "1")
	b.out.waitFor(t, "the last line", func(s string) bool { return s == "line 5\n" })
	e.writeLog(t, "web1", "app", "line 6\n", true)
	b.out.waitFor(t, "the appended line", func(s string) bool { return s == "line 5\nline 6\n" })
	if code := b.stop(t); code != 0 {
		t.Errorf("interrupted logs -f exited %d; stderr %q", code, b.errOut.String())
	}
}
