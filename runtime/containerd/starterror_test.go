package containerd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecsd/ecsd/runtime"
)

func TestStartError(t *testing.T) {
	start := time.Now()
	quick := runtime.ContainerState{Status: runtime.StatusStopped, ExitCode: 1, StartedAt: start, FinishedAt: start.Add(20 * time.Millisecond)}
	late := quick
	late.FinishedAt = start.Add(time.Minute)
	ok := quick
	ok.ExitCode = 0
	for _, tc := range []struct {
		name string
		st   runtime.ContainerState
		log  string
		want string
	}{
		{"argument list too long", quick, "exec /bin/sh: argument list too long\n", "exec /bin/sh: argument list too long"},
		{"exec format error after output", quick, "starting\nexec /app/server: exec format error\n", "exec /app/server: exec format error"},
		{"permission denied", quick, "exec /entry.sh: permission denied", "exec /entry.sh: permission denied"},
		{"the application's own last line", quick, "exec failed because reasons: try later\n", ""},
		{"an exec line not last", quick, "exec /bin/sh: argument list too long\nrecovered\n", ""},
		{"a long run", late, "exec /bin/sh: argument list too long\n", ""},
		{"a clean exit", ok, "exec /bin/sh: argument list too long\n", ""},
		{"no log", quick, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.log")
			if tc.log != "" {
				if err := os.WriteFile(path, []byte(strings.Repeat("x", 8000)+"\n"+tc.log), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := startError(tc.st, path); got != tc.want {
				t.Errorf("startError = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckExecLimits(t *testing.T) {
	arg := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		name      string
		args, env []string
		stack     uint64
		want      string // "" accepted; else part of the refusal
	}{
		{"ordinary", []string{"/bin/sh", "-c", "echo hi"}, []string{"PATH=/bin"}, 8 << 20, ""},
		{"an argument at the limit", []string{"/bin/sh", "-c", arg(maxArgStrlen - 1)}, nil, 8 << 20, ""},
		{"an argument one byte over", []string{"/bin/sh", "-c", arg(maxArgStrlen)}, nil, 8 << 20, "argument 2 is 131072 bytes"},
		{"a long environment variable", []string{"/app"}, []string{"BIG=" + arg(maxArgStrlen)}, 8 << 20, "environment variable BIG"},
		{"many arguments beyond a quarter of the stack", []string{"/app", arg(100 << 10), arg(100 << 10), arg(100 << 10)}, nil, 1 << 20, "the limit is 262144"},
		{"the same with the default stack", []string{"/app", arg(100 << 10), arg(100 << 10), arg(100 << 10)}, nil, 8 << 20, ""},
		{"an unlimited stack is capped", []string{"/app"}, []string{"A=" + arg(100<<10)}, ^uint64(0), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkExecLimits(tc.args, tc.env, tc.stack)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var xe *runtime.ExecError
			if !errors.As(err, &xe) || !errors.Is(err, runtime.ErrCannotExec) || !strings.Contains(xe.Detail, tc.want) ||
				!strings.HasPrefix(xe.Detail, "exec "+tc.args[0]+": argument list too long") {
				t.Fatalf("got %v, want an ExecError naming %q", err, tc.want)
			}
		})
	}
}
