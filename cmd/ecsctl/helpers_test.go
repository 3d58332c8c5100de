package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/secretfile"
	"github.com/ecsd/ecsd/server/bearer"
	"github.com/ecsd/ecsd/server/introspection"
	"github.com/ecsd/ecsd/server/objectapi"
	"github.com/ecsd/ecsd/store"
)

// waitTimeout bounds every wait on a condition; tests never sleep for a fixed time.
const waitTimeout = 10 * time.Second

// testCluster is the cluster the fake agent reports on /v1/metadata.
const testCluster = "ecsctl-test"

// agentVersion is what the introspection API reports as the server's version.
const agentVersion = "Amazon ECS Agent - v9.9.9 (ecsctltest)"

// env is the agent side of a test: a real store with a bbolt checkpoint, served by the
// real object API behind the real introspection handler, on 127.0.0.1 — exactly what
// ecsctl talks to on port 51678.
type env struct {
	st      *store.Store
	dataDir string
	url     string
	// tokenFile holds the object API's token, as the agent's ECSD_API_TOKEN_FILE does.
	tokenFile string
	// handler is what url serves, for a test that serves it another way too.
	handler http.Handler
	// mu guards requests, every request the server received.
	mu       sync.Mutex
	requests []*http.Request
}

func newEnv(t *testing.T, wrap ...func(http.Handler) http.Handler) *env {
	t.Helper()
	dir := t.TempDir()
	scheme := k8sruntime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	st, err := store.New(context.Background(), scheme, store.WithCheckpoint(filepath.Join(dir, "ecsd.db")))
	if err != nil {
		t.Fatalf("store.New: %v", err)
	}
	e := &env{st: st, dataDir: dir, tokenFile: filepath.Join(dir, "secrets", "api-token")}
	tok, err := secretfile.LoadOrCreate(e.tokenFile, func() ([]byte, error) { return secretfile.Token(32) })
	if err != nil {
		t.Fatal(err)
	}
	oapi, err := objectapi.NewHandler(objectapi.Options{Store: st, DataDir: dir, Token: bearer.New(string(tok))})
	if err != nil {
		t.Fatalf("objectapi.NewHandler: %v", err)
	}
	var h http.Handler = introspection.NewHandler(introspection.Options{
		Reader:               st.Client(),
		Cluster:              testCluster,
		ContainerInstanceARN: func() string { return "" },
		Version:              agentVersion,
		ObjectAPI:            oapi,
		License:              "test",
		DataDir:              dir,
	})
	for _, w := range wrap {
		h = w(h)
	}
	inner := h
	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.requests = append(e.requests, r.Clone(context.Background()))
		e.mu.Unlock()
		inner.ServeHTTP(w, r)
	})
	e.handler = h
	srv := httptest.NewServer(h) // listens on 127.0.0.1
	e.url = srv.URL
	t.Cleanup(func() {
		oapi.Close()
		srv.Close()
		if err := st.Close(); err != nil {
			t.Errorf("store Close: %v", err)
		}
	})
	return e
}

// authorize adds the agent's token to a request the test sends itself.
func (e *env) authorize(t *testing.T, req *http.Request) {
	t.Helper()
	tok, err := secretfile.Read(e.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+string(tok))
}

// seed stores the standard objects: a running bridge task "web1" with two containers
// and a stopped awsvpc task "batch1" with one, each with a history of transitions.
func (e *env) seed(t *testing.T) {
	t.Helper()
	for _, o := range seedObjects() {
		e.create(t, o)
	}
}

func (e *env) create(t *testing.T, o client.Object) {
	t.Helper()
	if err := e.st.Create(context.Background(), o); err != nil {
		t.Fatalf("create %s: %v", o.GetName(), err)
	}
}

// writeLog writes a container's log file where the object API reads it.
func (e *env) writeLog(t *testing.T, task, container, content string, appendTo bool) {
	t.Helper()
	path := api.ContainerLogPath(e.dataDir, task, container)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// watchRequests are the watch requests the server received so far.
func (e *env) watchRequests() []*http.Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*http.Request
	for _, r := range e.requests {
		if q := r.URL.Query().Get("watch"); q == "true" || q == "1" {
			out = append(out, r)
		}
	}
	return out
}

// result is what a user sees from one ecsctl invocation.
type result struct {
	code     int
	out, err string
}

// ecsctl runs the CLI in-process against the env's server, as a user would type it.
func (e *env) ecsctl(t *testing.T, args ...string) result {
	t.Helper()
	return runCLI(t, context.Background(), append([]string{"--server", e.url, "--token-file", e.tokenFile}, args...)...)
}

func runCLI(t *testing.T, ctx context.Context, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(ctx, args, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return result{code: code, out: out.String(), err: errOut.String()}
}

// background is an ecsctl invocation running until its context is cancelled.
type background struct {
	out    *syncBuffer
	errOut *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

func (e *env) start(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{out: newSyncBuffer(), errOut: newSyncBuffer(), cancel: cancel, done: make(chan int, 1)}
	go func() {
		b.done <- run(ctx, append([]string{"--server", e.url, "--token-file", e.tokenFile}, args...),
			genericiooptions.IOStreams{In: strings.NewReader(""), Out: b.out, ErrOut: b.errOut})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-b.done:
		case <-time.After(waitTimeout):
			t.Errorf("ecsctl %v did not end after its context was cancelled", args)
		}
	})
	return b
}

// stop cancels the invocation (Ctrl-C) and returns its exit code.
func (b *background) stop(t *testing.T) int {
	t.Helper()
	b.cancel()
	return b.wait(t)
}

// wait returns the exit code once the invocation ends by itself.
func (b *background) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-b.done:
		b.done <- code // for the cleanup
		return code
	case <-time.After(waitTimeout):
		t.Fatalf("ecsctl did not end; output so far:\n%s\nstderr:\n%s", b.out.String(), b.errOut.String())
		return -1
	}
}

// syncBuffer is an output a running command writes to while the test reads it; every
// write wakes waiters, so tests wait on what is printed instead of sleeping.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until cond holds for the output so far.
func (b *syncBuffer) waitFor(t *testing.T, what string, cond func(string) bool) string {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		s, changed := b.buf.String(), b.changed
		b.mu.Unlock()
		if cond(s) {
			return s
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; output so far:\n%s", what, s)
		}
	}
}

var spaces = regexp.MustCompile(`[ \t]+`)

// squeeze collapses runs of blanks so assertions do not depend on column widths.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(spaces.ReplaceAllString(l, " "))
	}
	return strings.Join(lines, "\n")
}

// lines are the non-empty, squeezed lines of s.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(squeeze(s), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}
