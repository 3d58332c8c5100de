// Command ecs-init prepares the host for ecsd's ecs-agent and cleans up after it. systemd
// runs `ecs-init pre-start` before the agent (ExecStartPre), `ecs-init start` as the agent
// (ExecStart: it installs a self-update the agent left ready, then executes the agent
// version to run in its own place: the host binary or, with ECSD_AGENT_IMAGE, the agent
// copied out of its image) and `ecs-init post-stop` after it (ExecStopPost); see
// packaging/systemd. Unlike the reference ecs-init it does not supervise the agent: systemd
// restarts it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ecsd/ecsd/internal/hostsetup"
	"github.com/ecsd/ecsd/internal/version"
)

// Exit codes. 5 is terminal: the unit's RestartPreventExitStatus=5 and the agent's own
// terminal code. The reference ecs-init exits 255 on other failures; 1 is the usual code.
const (
	exitOK       = 0
	exitError    = 1
	exitTerminal = 5
)

// terminalError marks failures that retrying cannot fix: bad usage or configuration.
type terminalError struct{ error }

func (t terminalError) Unwrap() error { return t.error }

// terminalf formats a terminal error; %w works as in fmt.Errorf.
func terminalf(format string, args ...any) error {
	return terminalError{fmt.Errorf(format, args...)}
}

// isTerminal reports whether err should end ecs-init with exit status 5.
func isTerminal(err error) bool {
	var t terminalError
	return errors.As(err, &t) || errors.Is(err, hostsetup.ErrInvalidSettings)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command and returns the exit code. Failures end with exactly one line
// "ecs-init: <command>: <error>" on stderr, after any structured log lines.
func run(ctx context.Context, args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	cmd, rest := "", []string(nil)
	if len(args) > 0 {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "-version", "--version":
		cmd = "version"
	case "-h", "-help", "--help":
		cmd = "help"
	}
	var err error
	switch cmd {
	case "pre-start":
		err = preStart(ctx, rest, env, stdout, stderr)
	case "post-stop":
		err = postStop(ctx, rest, env, stdout, stderr)
	case "start":
		err = start(ctx, rest, env, stdout, stderr)
	case "version":
		err = noArgs(rest)
		if err == nil {
			fmt.Fprintln(stdout, versionString())
		}
	case "help":
		fmt.Fprint(stdout, usage)
	case "reload-cache":
		err = reloadCache(ctx, rest, env, stdout, stderr)
	case "":
		err = terminalf("no command (see `ecs-init help`)")
	default:
		err = terminalf("unknown command %q (see `ecs-init help`)", cmd)
	}
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	name := "ecs-init"
	switch cmd {
	case "pre-start", "post-stop", "start", "version", "reload-cache":
		name += ": " + cmd
	}
	fmt.Fprintf(stderr, "%s: %s\n", name, oneLine(err))
	if isTerminal(err) {
		return exitTerminal
	}
	return exitError
}

func noArgs(rest []string) error {
	if len(rest) > 0 {
		return terminalf("takes no arguments, got %q", rest)
	}
	return nil
}

func versionString() string {
	return fmt.Sprintf("ecsd ecs-init %s (%s)", version.Version, version.GitHash)
}

// oneLine keeps a joined error on one line: config.Load and errors.Join separate their
// errors with newlines, which the journal would split into unrelated-looking entries.
func oneLine(err error) string {
	return strings.Join(strings.FieldsFunc(err.Error(), func(r rune) bool { return r == '\n' }), "; ")
}
