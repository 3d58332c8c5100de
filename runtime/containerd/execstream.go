package containerd

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"

	"github.com/ecsd/ecsd/runtime"
)

// ExecStream runs cmd in the container's running task with the task's process settings,
// its standard streams connected to s (an operator's interactive exec), and returns its exit
// code once it has exited and its output has been copied. Output is copied as it comes,
// never buffered beyond the copy buffers, so a long-running command costs nothing per byte.
func (r *Runtime) ExecStream(ctx context.Context, id string, cmd []string, s runtime.ExecStreams) (int, error) {
	if len(cmd) == 0 {
		return -1, wrapErr(errdefs.ErrInvalidArgument, "exec in %s: empty command", id)
	}
	ctx = r.withNS(ctx)
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return -1, wrapErr(err, "exec in %s", id)
	}
	t, err := c.Task(ctx, nil)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return -1, errNotRunning(id)
		}
		return -1, wrapErr(err, "exec in %s", id)
	}
	if st, err := t.Status(ctx); err != nil || st.Status != client.Running {
		return -1, errNotRunning(id)
	}
	spec, err := t.Spec(ctx)
	if err != nil {
		return -1, wrapErr(err, "exec in %s: task spec", id)
	}
	pspec := *spec.Process
	pspec.Args = slices.Clone(cmd)
	pspec.Terminal = s.TTY
	pspec.ConsoleSize = nil

	// The process's stdin is closed when s.Stdin ends: the shim keeps its side of the FIFO
	// open, so only CloseIO delivers the EOF.
	// The input may end before Exec has returned the process: then it is closed as soon as
	// there is one.
	var (
		procMu      sync.Mutex
		proc        client.Process
		stdinClosed bool
	)
	closeStdin := func(p client.Process) {
		_ = p.CloseIO(context.WithoutCancel(ctx), client.WithStdinCloser)
	}
	stdin := s.Stdin
	if stdin != nil && s.TTY {
		// A terminal's end of input is its EOF character: the shell runs what it was given,
		// then reads EOF, as when a user types ^D. Closing it would hang it up first.
		stdin = io.MultiReader(&stdinCloser{r: s.Stdin, close: func() {}}, strings.NewReader("\x04"))
	} else if stdin != nil {
		stdin = &stdinCloser{r: s.Stdin, close: func() {
			procMu.Lock()
			defer procMu.Unlock()
			stdinClosed = true
			if proc != nil {
				closeStdin(proc)
			}
		}}
	}
	stdout, stderr := writerOrDiscard(s.Stdout), writerOrDiscard(s.Stderr)
	opts := []cio.Opt{cio.WithStreams(stdin, stdout, stderr)}
	if s.TTY {
		opts = append(opts, cio.WithTerminal)
	}
	execID := newExecID()
	p, err := t.Exec(ctx, execID, &pspec, cio.NewCreator(opts...))
	if err != nil {
		return -1, wrapErr(err, "exec in %s", id)
	}
	procMu.Lock()
	proc = p
	if stdinClosed {
		closeStdin(p)
	}
	procMu.Unlock()

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), execReapTimeout)
	defer cancel()
	defer func() {
		if _, err := p.Delete(rctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			r.log.Error(err, "deleting exec process", "container", id, "exec", execID)
		}
	}()
	waitC, err := p.Wait(rctx)
	if err != nil {
		return -1, wrapErr(err, "exec in %s: wait", id)
	}
	// Started under rctx for the reason Exec gives.
	if err := p.Start(rctx); err != nil {
		return -1, wrapErr(err, "exec in %s: start", id)
	}
	if s.TTY && s.Resize != nil {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case sz, ok := <-s.Resize:
					if !ok {
						return
					}
					if err := p.Resize(ctx, uint32(sz.Width), uint32(sz.Height)); err != nil && !errdefs.IsNotFound(err) {
						r.log.V(1).Info("resizing an exec's terminal", "container", id, "error", err.Error())
					}
				}
			}
		}()
	}
	select {
	case st := <-waitC:
		code, _, err := st.Result()
		drainIO(ctx, p.IO())
		if err != nil {
			return -1, wrapErr(err, "exec in %s: wait", id)
		}
		return int(code), nil
	case <-ctx.Done():
		if err := p.Kill(rctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
			r.log.Error(err, "killing an ended exec", "container", id, "exec", execID)
		}
		select {
		case <-waitC:
		case <-rctx.Done():
		}
		return -1, wrapErr(ctx.Err(), "exec in %s", id)
	}
}

func writerOrDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// stdinCloser calls close once when r ends (EOF or an error).
type stdinCloser struct {
	r     io.Reader
	close func()
	once  sync.Once
}

func (s *stdinCloser) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil {
		s.once.Do(s.close)
		if !errors.Is(err, io.EOF) {
			err = io.EOF
		}
	}
	return n, err
}
