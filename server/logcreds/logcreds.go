// Package logcreds is the agent's credentials socket for the container loggers: a small
// HTTP API on a unix socket through which ecsd-logger, which runs in the shim's process
// tree and must never get credentials in its argv (readable by every user in /proc), asks
// for the AWS credentials (and log-driver secret options) of its task.
//
// Who may use it: the socket is created mode 0600 in a directory only root can enter
// (next to the API token file), and the server also checks the peer's uid (SO_PEERCRED)
// is 0: only root processes of the host, which could read the agent's memory anyway.
// Within that, a caller gets the credentials of the task it names, which must be a task
// the agent runs with an awslogs container.
//
// API (JSON):
//
//	GET /v1/credentials?task=ARN           → 200 Credentials | 404 unknown task | 503
//	GET /v1/secret-options?task=ARN&container=NAME → 200 {"options":{…}} | 404 | 503
package logcreds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"

	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/internal/logcredsapi"
)

// Credentials are AWS credentials for a logger (logcredsapi.Credentials, the type the
// loggers' client decodes).
type Credentials = logcredsapi.Credentials

// ErrUnknownTask is returned by a source for a task it does not know (or that has no
// container logging to AWS); the server answers 404.
var ErrUnknownTask = errors.New("unknown task")

// CredentialsSource gives the credentials a task's log driver ships with: the task's
// execution role when it has one and ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE is on, else
// the instance's.
type CredentialsSource interface {
	LogCredentials(ctx context.Context, taskARN string) (Credentials, error)
}

// SecretsSource resolves a container's log-driver secretOptions (name → value), which the
// logger merges into its driver options. Optional.
type SecretsSource interface {
	LogDriverSecrets(ctx context.Context, taskARN, container string) (map[string]string, error)
}

// maxQuery bounds a request's query.
const maxQuery = 4096

// Handler serves the API from creds and secrets (nil: no secret options).
func Handler(creds CredentialsSource, secrets SecretsSource, log logr.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/credentials", func(w http.ResponseWriter, r *http.Request) {
		task := r.URL.Query().Get("task")
		if task == "" {
			http.Error(w, "task is required", http.StatusBadRequest)
			return
		}
		c, err := creds.LogCredentials(r.Context(), task)
		if err != nil {
			fail(w, log, "credentials", task, err)
			return
		}
		respond(w, c)
	})
	mux.HandleFunc("GET /v1/secret-options", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		task, ctr := q.Get("task"), q.Get("container")
		if task == "" || ctr == "" {
			http.Error(w, "task and container are required", http.StatusBadRequest)
			return
		}
		opts := map[string]string{}
		if secrets != nil {
			o, err := secrets.LogDriverSecrets(r.Context(), task, ctr)
			if err != nil {
				fail(w, log, "secret options", task, err)
				return
			}
			if o != nil {
				opts = o
			}
		}
		respond(w, struct {
			Options map[string]string `json:"options"`
		}{opts})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.URL.RawQuery) > maxQuery {
			http.Error(w, "query too long", http.StatusRequestURITooLong)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func fail(w http.ResponseWriter, log logr.Logger, what, task string, err error) {
	if errors.Is(err, ErrUnknownTask) {
		http.Error(w, "unknown task", http.StatusNotFound)
		return
	}
	log.Error(err, "cannot give a logger its "+what, "task", task)
	http.Error(w, what+" unavailable", http.StatusServiceUnavailable)
}

func respond(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// SocketPath is the socket next to the API token file tokenFile.
func SocketPath(tokenFile string) string {
	return filepath.Join(filepath.Dir(tokenFile), "logger-credentials.sock")
}

// Listen creates the socket at path, mode 0600 in a directory of mode 0700, replacing a
// stale one, and returns a listener that accepts root peers only.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("credentials socket directory: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale credentials socket: %w", err)
	}
	// The umask makes the socket 0600 from the start: no window in which others connect.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("credentials socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("credentials socket: %w", err)
	}
	return rootOnly{ln.(*net.UnixListener)}, nil
}

// rootOnly closes connections from peers that are not root.
type rootOnly struct{ *net.UnixListener }

func (l rootOnly) Accept() (net.Conn, error) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return nil, err
		}
		if peerIsRoot(c) {
			return c, nil
		}
		_ = c.Close()
	}
}

func peerIsRoot(c *net.UnixConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return false
	}
	return cred.Uid == 0
}
