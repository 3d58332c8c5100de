package objectapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// Executor runs a command in a container with its streams connected; runtime.Runtime is one.
type Executor interface {
	ExecStream(ctx context.Context, id string, cmd []string, s runtime.ExecStreams) (int, error)
}

// The remote command protocols served: kubectl's and client-go's WebSocket ones (v5 adds
// closing stdin; v4 is what older clients ask for). Both carry one message per write, its
// first byte the channel.
const (
	protocolV5 = "v5.channel.k8s.io"
	protocolV4 = "v4.channel.k8s.io"
)

// Channels of the remote command protocols.
const (
	chanStdin  = 0
	chanStdout = 1
	chanStderr = 2
	chanError  = 3
	chanResize = 4
	chanClose  = 255
)

// Bounds on one exec request. A command is what a shell would take (the kernel's own
// limit on arguments is larger, but nobody types that); a message is a terminal's input or
// a resize, never large.
const (
	maxExecArgs      = 1024
	maxExecArgBytes  = 64 << 10
	maxExecMessage   = 64 << 10
	execWriteTimeout = 30 * time.Second
)

// execRequest is the exec subresource's query, with the meaning it has for a pod's exec.
type execRequest struct {
	command                    []string
	stdin, stdout, stderr, tty bool
}

func parseExecRequest(q url.Values) (execRequest, error) {
	er := execRequest{command: q["command"]}
	if len(er.command) == 0 || er.command[0] == "" {
		return er, apierrors.NewBadRequest("exec needs a command (the query parameter command, once per argument)")
	}
	size := 0
	for _, a := range er.command {
		size += len(a)
	}
	if len(er.command) > maxExecArgs || size > maxExecArgBytes {
		return er, apierrors.NewBadRequest(fmt.Sprintf("exec command too long: at most %d arguments and %d bytes", maxExecArgs, maxExecArgBytes))
	}
	for name, dst := range map[string]*bool{"stdin": &er.stdin, "stdout": &er.stdout, "stderr": &er.stderr, "tty": &er.tty} {
		v, err := boolParam(q, name)
		if err != nil {
			return er, err
		}
		*dst = v
	}
	if er.tty {
		er.stderr = false // a terminal has one output
	}
	if !er.stdin && !er.stdout && !er.stderr {
		return er, apierrors.NewBadRequest("exec needs at least one of stdin, stdout and stderr")
	}
	return er, nil
}

// serveExec answers containers/<name>/exec (and the pod form kubectl uses, see pods.go): it
// runs the command in the running container through the runtime, its streams carried over
// a WebSocket in the remote command protocol, and ends with the exit code on the error
// channel. Everything that can be refused is refused before the upgrade, as an HTTP status.
func (h *Handler) serveExec(ctx context.Context, w http.ResponseWriter, r *http.Request, key client.ObjectKey) {
	if h.o.Exec == nil {
		h.fail(w, apierrors.NewServiceUnavailable("this agent serves no exec"))
		return
	}
	er, err := parseExecRequest(r.URL.Query())
	if err != nil {
		h.fail(w, err)
		return
	}
	c := &api.Container{}
	if err := h.o.Store.Get(ctx, key, c); err != nil {
		h.fail(w, err)
		return
	}
	if c.Status.KnownStatus != api.ContainerStatusRunning || c.Status.RuntimeID == "" {
		h.fail(w, apierrors.NewBadRequest(fmt.Sprintf("container %q in task %q is not running (%s): cannot exec in it",
			c.Spec.Name, c.Spec.TaskName, c.Status.KnownStatus.OrNone())))
		return
	}
	if !isWebSocket(r) {
		h.fail(w, apierrors.NewBadRequest("exec is served over WebSocket only (subprotocol "+protocolV5+" or "+protocolV4+
			"); SPDY is not: kubectl does this by default, unless KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"))
		return
	}
	// The introspection server's deadlines are for short requests; a session lasts as long
	// as its command. Each write gets its own deadline below instead.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{protocolV5, protocolV4}})
	if err != nil {
		h.log.V(1).Info("exec: websocket upgrade failed", "container", c.Name, "error", err.Error())
		return
	}
	defer conn.CloseNow()
	proto := conn.Subprotocol()
	if proto == "" {
		_ = conn.Close(websocket.StatusPolicyViolation, "subprotocol "+protocolV5+" or "+protocolV4+" required")
		return
	}
	conn.SetReadLimit(maxExecMessage)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &execSession{conn: conn, ctx: ctx, v5: proto == protocolV5}
	streams := runtime.ExecStreams{TTY: er.tty}
	var stdinW *io.PipeWriter
	if er.stdin {
		var stdinR *io.PipeReader
		stdinR, stdinW = io.Pipe()
		defer stdinR.Close()
		streams.Stdin = stdinR
	}
	if er.stdout {
		streams.Stdout = s.writer(chanStdout)
	}
	if er.stderr {
		streams.Stderr = s.writer(chanStderr)
	}
	resize := make(chan runtime.TerminalSize, 1)
	if er.tty {
		streams.Resize = resize
	}
	// The reader ends the session when the client goes away: the command is then killed.
	go func() {
		err := s.readLoop(stdinW, resize)
		if stdinW != nil {
			_ = stdinW.CloseWithError(io.EOF)
		}
		if err != nil {
			cancel()
		}
	}()

	h.log.Info("exec started", "container", c.Name, "program", er.command[0], "args", len(er.command)-1, "tty", er.tty)
	code, err := h.o.Exec.ExecStream(ctx, c.Status.RuntimeID, er.command, streams)
	switch {
	case err != nil && ctx.Err() != nil:
		h.log.Info("exec ended: the client went away", "container", c.Name)
		return
	case err != nil:
		h.log.Info("exec failed", "container", c.Name, "error", err.Error())
		msg := err.Error()
		if errors.Is(err, runtime.ErrNotFound) {
			msg = fmt.Sprintf("container %q in task %q is not running: %v", c.Spec.Name, c.Spec.TaskName, err)
		}
		s.writeStatus(metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonInternalError,
			Code: http.StatusInternalServerError, Message: msg})
	case code != 0:
		h.log.Info("exec ended", "container", c.Name, "exitCode", code)
		s.writeStatus(metav1.Status{Status: metav1.StatusFailure, Reason: "NonZeroExitCode",
			Message: fmt.Sprintf("command terminated with non-zero exit code: exit status %d", code),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: strconv.Itoa(code)}}}})
	default:
		h.log.Info("exec ended", "container", c.Name, "exitCode", 0)
		s.writeStatus(metav1.Status{Status: metav1.StatusSuccess})
	}
	_ = conn.Close(websocket.StatusNormalClosure, "")
}

// isWebSocket reports whether r asks to upgrade to a WebSocket.
func isWebSocket(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		headerHasToken(r.Header.Values("Connection"), "upgrade")
}

func headerHasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// execSession is one exec's WebSocket.
type execSession struct {
	conn *websocket.Conn
	ctx  context.Context
	v5   bool
}

// send writes one message on channel ch; a client that does not take it within
// execWriteTimeout ends the session.
func (s *execSession) send(ch byte, b []byte) error {
	msg := make([]byte, 1+len(b))
	msg[0] = ch
	copy(msg[1:], b)
	ctx, cancel := context.WithTimeout(s.ctx, execWriteTimeout)
	defer cancel()
	return s.conn.Write(ctx, websocket.MessageBinary, msg)
}

// writer is an io.Writer onto channel ch.
func (s *execSession) writer(ch byte) io.Writer { return channelWriter{s: s, ch: ch} }

type channelWriter struct {
	s  *execSession
	ch byte
}

func (w channelWriter) Write(b []byte) (int, error) {
	if err := w.s.send(w.ch, b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// writeStatus ends the session's error channel with st, as the v4 and v5 protocols do.
func (s *execSession) writeStatus(st metav1.Status) {
	st.Kind, st.APIVersion = "Status", "v1"
	b, err := json.Marshal(st)
	if err != nil {
		return
	}
	_ = s.send(chanError, b)
}

// readLoop takes the client's messages: input (written to stdin, if the session has one),
// terminal sizes, and v5's close of stdin. It returns nil when stdin alone ended and the
// connection's error when the client went away or broke the protocol.
func (s *execSession) readLoop(stdin *io.PipeWriter, resize chan runtime.TerminalSize) error {
	for {
		typ, msg, err := s.conn.Read(s.ctx)
		if err != nil {
			return err
		}
		if typ != websocket.MessageBinary || len(msg) == 0 {
			continue
		}
		switch msg[0] {
		case chanStdin:
			if stdin != nil && len(msg) > 1 {
				if _, err := stdin.Write(msg[1:]); err != nil {
					stdin = nil // the command closed its input; keep reading
				}
			}
		case chanResize:
			var sz struct{ Width, Height uint16 }
			if json.Unmarshal(msg[1:], &sz) == nil {
				select { // only the latest size matters
				case <-resize:
				default:
				}
				resize <- runtime.TerminalSize{Width: sz.Width, Height: sz.Height}
			}
		case chanClose:
			if s.v5 && len(msg) > 1 && msg[1] == chanStdin && stdin != nil {
				_ = stdin.Close()
				stdin = nil
			}
		}
	}
}
