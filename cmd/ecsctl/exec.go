package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// execOptions are `ecsctl exec`'s flags.
type execOptions struct {
	g         *globalOptions
	streams   genericiooptions.IOStreams
	stdin     bool
	tty       bool
	container string
}

func newExecCmd(g *globalOptions, s genericiooptions.IOStreams) *cobra.Command {
	o := &execOptions{g: g, streams: s}
	cmd := &cobra.Command{
		Use:   "exec TASK/CONTAINER | CONTAINER-OBJECT | TASK [-c CONTAINER] [-i] [-t] -- COMMAND [ARG...]",
		Short: "Run a command in a running container",
		Long: `Run a command in a task's running container, as kubectl exec does in a pod's. The
command runs with the container's user, environment and working directory; ecsctl exits
with its exit code. -i passes ecsctl's standard input to it, -t gives it a terminal.
It needs the agent's bearer token (run as root, or --token/--token-file).`,
		Example: `  ecsctl exec 4c3f1e2a/app -- cat /etc/hostname
  ecsctl exec 4c3f1e2a -c app -it -- sh`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return errors.New("want TASK/CONTAINER -- COMMAND [ARG...]")
			}
			if d := cmd.ArgsLenAtDash(); d > 1 {
				return fmt.Errorf("want one container before --, got %d arguments: %s", d, strings.Join(args[:d], " "))
			}
			return nil
		},
		ValidArgsFunction: completeLogTargets(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args[0], args[1:])
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.stdin, "stdin", "i", false, "pass standard input to the command")
	f.BoolVarP(&o.tty, "tty", "t", false, "give the command a terminal (with -i, standard input must be one)")
	f.StringVarP(&o.container, "container", "c", "", "the container of TASK")
	return cmd
}

func (o *execOptions) run(ctx context.Context, target string, command []string) error {
	c, err := o.g.clients()
	if err != nil {
		return err
	}
	name, err := (&logsOptions{g: o.g, container: o.container}).resolve(ctx, c, target)
	if err != nil {
		return err
	}
	m, err := c.mappingForKind("Container")
	if err != nil {
		return err
	}
	cfg, err := c.ToRESTConfig()
	if err != nil {
		return err
	}
	// The session is a WebSocket, cancelled through ctx; the plain requests' wrappers (a
	// cancelling body, the namespace fallback) have nothing to do with it.
	cfg.WrapTransport = nil
	u, err := execURL(cfg, o.g.namespace, m.Resource.Resource, name, command, o.stdin, o.tty)
	if err != nil {
		return err
	}
	ex, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	if err != nil {
		return fmt.Errorf("exec in %s: %w", name, err)
	}
	so := remotecommand.StreamOptions{Stdout: o.streams.Out, Tty: o.tty}
	if !o.tty {
		so.Stderr = o.streams.ErrOut
	}
	if o.stdin {
		so.Stdin = o.streams.In
	}
	if o.tty {
		restore, sizes := o.setupTerminal(ctx)
		defer restore()
		so.TerminalSizeQueue = sizes
	}
	err = ex.StreamWithContext(ctx, so)
	var ce utilexec.CodeExitError
	if errors.As(err, &ce) {
		return exitCodeError{code: ce.Code}
	}
	if err != nil {
		return fmt.Errorf("exec in %s: %w", name, err)
	}
	return nil
}

// execURL is the exec subresource's URL with the command and streams as kubectl sends them.
func execURL(cfg *rest.Config, ns, resource, name string, command []string, stdin, tty bool) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(cfg.Host, "/"))
	if err != nil {
		return nil, fmt.Errorf("--server %q: %w", cfg.Host, err)
	}
	u.Path = fmt.Sprintf("/apis/%s/namespaces/%s/%s/%s/exec", api.GroupVersion, url.PathEscape(ns), resource, url.PathEscape(name))
	q := url.Values{"command": command, "stdout": {"true"}}
	if !tty {
		q.Set("stderr", "true")
	}
	if stdin {
		q.Set("stdin", "true")
	}
	if tty {
		q.Set("tty", "true")
	}
	u.RawQuery = q.Encode()
	return u, nil
}

// setupTerminal puts ecsctl's terminal in raw mode (when its input is one) and reports its
// size now and whenever it changes; restore undoes both.
func (o *execOptions) setupTerminal(ctx context.Context) (restore func(), sizes remotecommand.TerminalSizeQueue) {
	in, ok := o.streams.In.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return func() {}, nil
	}
	fd := int(in.Fd())
	state, err := term.MakeRaw(fd)
	if err != nil {
		return func() {}, nil
	}
	q := &sizeQueue{fd: fd, ch: make(chan remotecommand.TerminalSize, 1), winch: make(chan os.Signal, 1)}
	q.push()
	signal.Notify(q.winch, syscall.SIGWINCH)
	ctx, cancel := context.WithCancel(ctx)
	go q.watch(ctx)
	return func() {
		cancel()
		signal.Stop(q.winch)
		_ = term.Restore(fd, state)
	}, q
}

// sizeQueue is remotecommand.TerminalSizeQueue over SIGWINCH.
type sizeQueue struct {
	fd    int
	ch    chan remotecommand.TerminalSize
	winch chan os.Signal
}

func (q *sizeQueue) push() {
	w, h, err := term.GetSize(q.fd)
	if err != nil {
		return
	}
	select {
	case <-q.ch:
	default:
	}
	q.ch <- remotecommand.TerminalSize{Width: uint16(w), Height: uint16(h)}
}

func (q *sizeQueue) watch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			close(q.ch)
			return
		case <-q.winch:
			q.push()
		}
	}
}

// Next blocks until the terminal's size changes; nil once the session is over.
func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	s, ok := <-q.ch
	if !ok {
		return nil
	}
	return &s
}

// exitCodeError is a command's non-zero exit code, which ecsctl exits with, silently.
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string {
	return fmt.Sprintf("command terminated with exit code %d", e.code)
}
