package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
)

// execOutputLimit is how much combined output Exec keeps: the tail is what health checks
// and operators want (the reference agent also truncates).
const execOutputLimit = 4096

// execReapTimeout bounds killing and reaping an exec whose context expired.
const execReapTimeout = 10 * time.Second

// Exec runs cmd in the container's running task with the task's process settings (user,
// env, cwd, capabilities), waits for it and returns its exit code and the last 4 KiB of
// combined stdout+stderr. When ctx ends first the process is killed and reaped and
// ctx.Err() is returned (wrapped).
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string) (int, string, error) {
	if len(cmd) == 0 {
		return -1, "", wrapErr(errdefs.ErrInvalidArgument, "exec in %s: empty command", id)
	}
	ctx = r.withNS(ctx)
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return -1, "", wrapErr(err, "exec in %s", id)
	}
	t, err := c.Task(ctx, nil)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return -1, "", errNotRunning(id)
		}
		return -1, "", wrapErr(err, "exec in %s", id)
	}
	spec, err := t.Spec(ctx)
	if err != nil {
		return -1, "", wrapErr(err, "exec in %s: task spec", id)
	}
	pspec := *spec.Process
	pspec.Args = slices.Clone(cmd)
	pspec.Terminal = false

	out := &tailBuffer{max: execOutputLimit}
	execID := newExecID()
	p, err := t.Exec(ctx, execID, &pspec, cio.NewCreator(cio.WithStreams(nil, out, out)))
	if err != nil {
		return -1, "", wrapErr(err, "exec in %s", id)
	}
	// Cleanup must run even when ctx is what ended the exec.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), execReapTimeout)
	defer cancel()
	// reap deletes the process (killing it if needed); Delete also waits for the output
	// copiers, so the buffer is complete only after it.
	reaped := false
	reap := func() {
		if reaped {
			return
		}
		reaped = true
		if _, err := p.Delete(rctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			r.log.Error(err, "deleting exec process", "container", id, "exec", execID)
		}
	}
	defer reap()

	// Wait is registered before Start so a fast exit cannot be missed.
	waitC, err := p.Wait(rctx)
	if err != nil {
		return -1, "", wrapErr(err, "exec in %s: wait", id)
	}
	// Started under rctx, not ctx: a deadline that expires while the shim is starting the
	// process would abandon the call with the process coming up after the kill in reap,
	// left running. Started, it is then killed by the ctx.Done branch below.
	if err := p.Start(rctx); err != nil {
		return -1, "", wrapErr(err, "exec in %s: start", id)
	}
	select {
	case st := <-waitC:
		code, _, err := st.Result()
		drainIO(ctx, p.IO())
		reap()
		if err != nil {
			return -1, out.String(), wrapErr(err, "exec in %s: wait", id)
		}
		return int(code), out.String(), nil
	case <-ctx.Done():
		if err := p.Kill(rctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
			r.log.Error(err, "killing timed-out exec", "container", id, "exec", execID)
		}
		select {
		case <-waitC:
		case <-rctx.Done():
		}
		drainIO(rctx, p.IO())
		reap()
		return -1, out.String(), wrapErr(ctx.Err(), "exec in %s", id)
	}
}

// execDrainTimeout bounds waiting for an exec's output after it exited: a background child
// that inherited stdout would otherwise hold the stream open forever.
const execDrainTimeout = 2 * time.Second

// drainIO waits until the output copiers have read everything the shim wrote. It must
// precede Delete: Delete cancels the client side of the FIFOs at once, dropping whatever
// the copiers had not read yet.
func drainIO(ctx context.Context, pio cio.IO) {
	if pio == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		pio.Wait() // returns at the latest when Delete closes the FIFOs
		close(done)
	}()
	t := time.NewTimer(execDrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
}

func newExecID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "exec-" + hex.EncodeToString(b[:])
}

// tailBuffer keeps the last max bytes written to it; stdout and stderr write to it
// concurrently.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if n >= b.max {
		b.buf = append(b.buf[:0], p[n-b.max:]...)
		return n, nil
	}
	if over := len(b.buf) + n - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
