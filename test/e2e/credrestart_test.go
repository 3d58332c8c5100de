package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// acsGate is a reverse proxy in front of the backend that can refuse ACS handshakes while
// passing the ECS API (and TCS) through: the agent registers and serves its endpoints, but
// receives no ACS message, so no credentials, until the gate opens.
type acsGate struct {
	addr   string
	closed atomic.Bool
}

func newACSGate(t *testing.T, b *backend) *acsGate {
	t.Helper()
	g := &acsGate{}
	target, err := url.Parse("http://" + b.addr)
	if err != nil {
		t.Fatal(err)
	}
	// The Host header is passed on unchanged: requests are signed for the gate's address,
	// and the backend builds the ACS URL it hands out from it.
	proxy := httputil.NewSingleHostReverseProxy(target)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.closed.Load() && strings.HasPrefix(r.URL.Path, "/acs") {
			http.Error(w, "ACS gate closed by the test", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ACS gate: %v", err)
		}
	}()
	t.Cleanup(func() { _ = srv.Close() })
	return g
}

// waitTaskLine waits until the task container's log holds, at or after byte offset from,
// a line match accepts, and returns the offset just past it.
func (h *agentHost) waitTaskLine(t *testing.T, taskID, container string, from int, what string, match func(string) bool) int {
	t.Helper()
	path := filepath.Join(h.dir, "data", "tasks", taskID, "logs", container+".log")
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(path)
		if from < len(b) {
			off := from
			sc := bufio.NewScanner(bytes.NewReader(b[from:]))
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				off += len(sc.Bytes()) + 1
				if match(sc.Text()) {
					return off
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s never logged %s after offset %d; log tail:\n%s", taskID, container, what, from, tail(b, 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// TestCredentialsUninitializedAfterRestart: after an agent restart, until ACS sends the
// credentials again, the task owning a credentials ID gets 503 CredentialsUninitialized
// (which SDKs retry) instead of 400, anyone else still gets the 400 an unknown ID gets,
// and the task gets its credentials once ACS is back.
func TestCredentialsUninitializedAfterRestart(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	b := newBackend(t)
	gate := newACSGate(t, b)
	h.args = []string{}
	h.env = append(h.env, b.agentEnv()...)
	h.env = append(h.env, "ECS_BACKEND_HOST=http://"+gate.addr, "ECS_ENABLE_TASK_IAM_ROLE=true")
	h.start()
	b.waitConnected(h)
	h.hostSetup(t)

	// The container asks for its credentials every 0.2 s and logs the answer, secrets
	// left out.
	def := b.probeDef("cred-restart", "arn:aws:iam::000000000000:role/app",
		`echo "creds-uri=$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"; trap 'exit 0' TERM; `+
			`while :; do r=$(credprobe get "http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); `+
			`case "$r" in 200*) echo probe=200;; *) echo "probe=$r";; esac; sleep 0.2; done`)
	arns := b.runTask(def, 1)
	b.waitTasks("task RUNNING", 2*time.Minute, arns, lastStatus("RUNNING"))
	id := taskIDOf(arns[0])
	log := h.taskLog(t, id, "app", "probe=200")
	credsURI := logValue(log, "creds-uri=")
	if !strings.HasPrefix(credsURI, "/v2/credentials/") {
		t.Fatalf("credentials URI %q", credsURI)
	}

	// Restart the agent with ACS unreachable.
	gate.closed.Store(true)
	h.kill(syscall.SIGTERM)
	before, _ := os.ReadFile(filepath.Join(h.dir, "data", "tasks", id, "logs", "app.log"))
	h.start()

	const uninitialized = `probe=503 {"code":"CredentialsUninitialized","message":"CredentialsV2Request: Credentials uninitialized for ID","HTTPErrorCode":503}`
	after503 := h.waitTaskLine(t, id, "app", len(before), "a 503 CredentialsUninitialized answer",
		func(l string) bool { return l == uninitialized })

	// Meanwhile the host (not the owning task), asking for the same ID, gets exactly the
	// unknown-ID answer.
	const notFound = `{"code":"InvalidIdInRequest","message":"CredentialsV2Request: Credentials not found","HTTPErrorCode":400}`
	for _, path := range []string{credsURI, "/v2/credentials/00000000-0000-4000-8000-000000000000"} {
		body, err := httpGet(t, h.dial, "http://127.0.0.1:51679"+path)
		if err != nil || strings.TrimSpace(body) != notFound {
			t.Errorf("GET %s from the host = %q, %v; want %s", redactCredsPath(path, credsURI), body, err, notFound)
		}
	}

	// ACS comes back, resends the credentials, and the task gets them; from the first 503
	// on it never saw a 400.
	gate.closed.Store(false)
	h.waitTaskLine(t, id, "app", after503, "credentials again after ACS reconnected", func(l string) bool {
		if strings.HasPrefix(l, "probe=400") {
			t.Fatalf("the task got a 400 while waiting for its credentials: %s", l)
		}
		return l == "probe=200"
	})
}

// redactCredsPath keeps the task's credentials ID out of test output.
func redactCredsPath(path, credsURI string) string {
	if path == credsURI {
		return "<the task's credentials URI>"
	}
	return path
}
