package hostsetup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// runResult is one finished command.
type runResult struct {
	out  string // stdout and stderr, trimmed
	code int    // exit status; -1 when the process did not exit normally
}

// run executes bin with args and returns its output and exit status. The error is non-nil
// only when the command could not be run or did not exit on its own (killed, ctx ended):
// a non-zero exit status is for the caller to interpret, because `iptables -C` uses 1 for
// "no such rule".
func run(ctx context.Context, bin string, args ...string) (runResult, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	res := runResult{out: strings.TrimSpace(buf.String())}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr) && exitErr.Exited() && ctx.Err() == nil:
		res.code = exitErr.ExitCode()
	default:
		res.code = -1
		return res, fmt.Errorf("%s %s: %w", bin, strings.Join(args, " "), errors.Join(err, ctx.Err()))
	}
	return res, nil
}

// failed builds the error for a command that exited with an unexpected status.
func failed(bin string, args []string, res runResult) error {
	msg := fmt.Sprintf("%s %s: exit status %d", bin, strings.Join(args, " "), res.code)
	if res.out != "" {
		msg += ": " + oneLine(res.out)
	}
	return errors.New(msg)
}

// oneLine folds multi-line tool output into one line for logs and errors.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " ")
}
