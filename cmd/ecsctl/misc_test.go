package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/testutil"
	"github.com/ecsd/ecsd/internal/version"
)

// TestVersion checks both versions with an agent, and the client's alone without one.
func TestVersion(t *testing.T) {
	e := newEnv(t)
	client := "Client Version: " + version.Version + " (" + version.GitHash + ")\n"
	r := e.ecsctl(t, "version")
	if r.code != 0 || r.out != client+"Server Version: "+agentVersion+"\n" {
		t.Errorf("with an agent: exit %d, %q (stderr %q)", r.code, r.out, r.err)
	}
	r = runCLI(t, context.Background(), "--server", "http://127.0.0.1:1", "version")
	if r.code != 0 || r.out != client || !strings.Contains(r.err, "Server Version: unavailable") {
		t.Errorf("without an agent: exit %d, %q, stderr %q", r.code, r.out, r.err)
	}
	r = e.ecsctl(t, "version", "--client")
	if r.code != 0 || r.out != client {
		t.Errorf("--client: exit %d, %q", r.code, r.out)
	}
	if n := len(e.requestsTo("/v1/metadata")); n != 1 {
		t.Errorf("the agent was asked for /v1/metadata %d times, want once (not for --client)", n)
	}
}

// requestsTo counts the requests for path.
func (e *env) requestsTo(path string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, r := range e.requests {
		if r.URL.Path == path {
			out = append(out, r.URL.String())
		}
	}
	return out
}

// TestCompletion checks the generated scripts and the dynamic completions they call.
func TestCompletion(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	scripts := []struct{ shell, want string }{
		{"bash", "complete -o default -F __start_ecsctl ecsctl"},
		{"zsh", "#compdef ecsctl"},
		{"fish", "complete -c ecsctl"},
	}
	for _, s := range scripts {
		r := runCLI(t, context.Background(), "completion", s.shell)
		if r.code != 0 || !strings.Contains(r.out, s.want) {
			t.Errorf("completion %s: exit %d, script lacks %q (stderr %q)", s.shell, r.code, s.want, r.err)
		}
	}
	if r := runCLI(t, context.Background(), "completion", "tcsh"); r.code != 1 {
		t.Errorf("completion tcsh: exit %d", r.code)
	}

	dynamic := []struct {
		name string
		args []string
		want []string
	}{
		{"kinds", []string{"get", ""}, []string{"containers", "t", "task", "tasks"}},
		{"kinds by prefix", []string{"describe", "ta"}, []string{"task", "tasks"}},
		{"task names", []string{"get", "t", ""}, []string{"batch1", "web1"}},
		{"container names by prefix", []string{"describe", "containers", "web1-"}, []string{"web1-app", "web1-sidecar"}},
		{"log targets", []string{"logs", ""}, []string{"batch1/job", "web1/app", "web1/sidecar"}},
		{"stop", []string{"stop", "w"}, []string{"web1"}},
	}
	for _, d := range dynamic {
		t.Run(d.name, func(t *testing.T) {
			r := e.ecsctl(t, append([]string{"__complete"}, d.args...)...)
			var got []string
			for _, l := range strings.Split(r.out, "\n") {
				if l != "" && !strings.HasPrefix(l, ":") {
					got = append(got, l)
				}
			}
			for _, w := range d.want {
				if !contains(got, w) {
					t.Errorf("completions %q lack %q (stderr %q)", got, w, r.err)
				}
			}
			if d.name == "stop" && len(got) != 1 {
				t.Errorf("completions %q, want only web1", got)
			}
		})
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestServerFromEnvNeverKubeconfig checks that ECSCTL_SERVER sets the server, and that a
// kubeconfig (from KUBECONFIG or ~/.kube/config) is never read: both point at a server
// that fails the test if asked.
func TestServerFromEnvNeverKubeconfig(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	home := t.TempDir()
	kubeconfig := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]
contexts: [{name: c, context: {cluster: c, namespace: elsewhere}}]
current-context: c
`
	if err := os.MkdirAll(filepath.Join(home, ".kube"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(home, ".kube", "config"), filepath.Join(home, "kubeconfig")} {
		if err := os.WriteFile(p, []byte(kubeconfig), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", home)
	t.Setenv("KUBECONFIG", filepath.Join(home, "kubeconfig"))
	t.Setenv(envServer, e.url)
	t.Setenv(envTokenFile, e.tokenFile)
	r := runCLI(t, context.Background(), "get", "t", "-o", "name")
	if r.code != 0 || r.out != "task.ecs.ecsd.io/batch1\ntask.ecs.ecsd.io/web1\n" {
		t.Errorf("exit %d, %q, stderr %q", r.code, r.out, r.err)
	}
	if _, err := os.Stat(filepath.Join(home, ".kube", "cache")); !os.IsNotExist(err) {
		t.Errorf("ecsctl wrote a discovery cache under ~/.kube: %v", err)
	}
}

// TestRequestTimeout checks --request-timeout's forms and that it bounds a request to a
// server that never answers.
func TestRequestTimeout(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "": 0, "5": 5 * time.Second, "1m": time.Minute, "250ms": 250 * time.Millisecond} {
		if got, err := parseTimeout(in); err != nil || got != want {
			t.Errorf("parseTimeout(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1", "soon", "-5s"} {
		if _, err := parseTimeout(bad); err == nil {
			t.Errorf("parseTimeout(%q) accepted", bad)
		}
	}
	hang := make(chan struct{})
	e := newEnv(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang })
	})
	defer close(hang)
	start := time.Now()
	r := e.ecsctl(t, "get", "tasks", "--request-timeout", "200ms")
	if r.code != 1 || !strings.Contains(r.err, "Timeout") && !strings.Contains(r.err, "deadline") {
		t.Errorf("exit %d, stderr %q; want a timeout", r.code, r.err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v despite --request-timeout 200ms", d)
	}
}

// TestInterruptEndsHungRequest checks that Ctrl-C ends a get whose server never answers,
// even with no --request-timeout: cli-runtime's own requests carry no context.
func TestInterruptEndsHungRequest(t *testing.T) {
	hang := make(chan struct{})
	e := newEnv(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/apis/ecs.ecsd.io/v1alpha1/namespaces/ecs/tasks" {
				<-hang
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	defer close(hang)
	b := e.start(t, "get", "tasks")
	testutil.Eventually(t, "the list request", func() bool { return len(e.requestsTo("/apis/ecs.ecsd.io/v1alpha1/namespaces/ecs/tasks")) > 0 })
	if code := b.stop(t); code != 0 {
		t.Errorf("interrupted get exited %d; stderr %q", code, b.errOut.String())
	}
}
