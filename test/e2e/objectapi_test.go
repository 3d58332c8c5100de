package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/netns"
	"github.com/ecsd/ecsd/internal/testenv"
)

// objectAPI is the agent's object API as a process on its host reaches it.
const objectAPI = "http://127.0.0.1:51678/apis/ecs.ecsd.io/v1alpha1/namespaces/" + api.Namespace

// The agent serves its objects on the introspection port: a task it runs is listed with
// its status, the container's output is readable through the log subresource, and the
// real kubectl shows the task.
func TestObjectAPI(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	h.addTask("objapi", fmt.Sprintf(`[{"name":"app","image":%q,"essential":true,"command":["sh","-c","echo hello from the object api; trap 'exit 0' TERM; while true; do sleep 0.1; done"]}]`,
		testenv.BusyboxImage()))
	h.start()
	defer h.kill(syscall.SIGTERM)
	c := h.objectAPIClient(true)

	// Listed, and RUNNING once the agent started it.
	var last string
	waitObjectAPI(t, h, "task objapi RUNNING in the task list", func() bool {
		var l api.TaskList
		last = getObject(c, objectAPI+"/tasks", "", &l)
		for _, task := range l.Items {
			if task.Name == "objapi" && task.Status.KnownStatus == api.TaskStatusRunning && l.ResourceVersion != "" {
				return true
			}
		}
		return false
	}, &last)

	// What the container printed.
	waitObjectAPI(t, h, "the container's output from the log subresource", func() bool {
		last = getObject(c, objectAPI+"/containers/objapi-app/log", "", nil)
		return strings.Contains(last, "hello from the object api\n")
	}, &last)

	// kubectl's view: one of one containers ready.
	var tbl metav1.Table
	last = getObject(c, objectAPI+"/tasks/objapi", "application/json;as=Table;v=v1;g=meta.k8s.io", &tbl)
	if len(tbl.Rows) != 1 || len(tbl.Rows[0].Cells) < 6 || tbl.Rows[0].Cells[5] != "1/1" {
		t.Errorf("task as a Table: %s", last)
	}
	if out := kubectlInHost(t, h, "get", "tasks", "-o", "wide"); !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool {
		f := strings.Fields(l)
		return len(f) > 5 && f[0] == "objapi" && f[3] == "RUNNING" && f[5] == "1/1"
	}) {
		t.Errorf("kubectl get tasks -o wide:\n%s", out)
	}
	// With the token over TLS (the same port), kubectl reads everything, containers too.
	out := kubectlInHostAt(t, h, "--server", "https://127.0.0.1:51678", "--token", h.apiToken(),
		"--certificate-authority", filepath.Join(filepath.Dir(h.tokenFile()), "api.crt"), "get", "containers", "-o", "yaml")
	if !strings.Contains(out, "kind: Container") || !strings.Contains(out, "name: objapi-app") {
		t.Errorf("kubectl over TLS with the token, get containers -o yaml:\n%s", out)
	}
}

// tokenFile is where the agent keeps its object API token (ECSD_API_TOKEN_FILE).
func (h *agentHost) tokenFile() string { return filepath.Join(h.dir, "secrets", "api-token") }

// apiToken is the agent's object API token, once the agent wrote it.
func (h *agentHost) apiToken() string {
	h.t.Helper()
	var b []byte
	waitObjectAPI(h.t, h, "the agent's API token", func() bool {
		var err error
		b, err = os.ReadFile(h.tokenFile())
		return err == nil && len(b) > 0
	}, new(string))
	return strings.TrimSpace(string(b))
}

// objectAPIClient is an HTTP client on the test host; with the token when withToken.
func (h *agentHost) objectAPIClient(withToken bool) *http.Client {
	var rt http.RoundTripper = &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) { return h.dial(ctx, addr) },
	}
	if withToken {
		rt = bearerTransport{next: rt, token: h.apiToken()}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: rt}
}

// bearerTransport sends the token with every request.
type bearerTransport struct {
	next  http.RoundTripper
	token string
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// getObject GETs url and decodes a 200 JSON answer into v (when not nil); it returns the
// body, or the error, for the failure message.
func getObject(c *http.Client, url, accept string, v any) string {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	if resp.StatusCode == http.StatusOK && v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Sprintf("%v: %s", err, b)
		}
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}

// waitObjectAPI polls cond until it holds; on timeout it shows the last answer and the
// agent's log.
func waitObjectAPI(t *testing.T, h *agentHost, what string, cond func() bool, last *string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last answer: %s\nagent log tail:\n%s", what, *last, h.agentLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kubectlInHost runs the real kubectl inside the test host against the agent's plain-HTTP
// port, with an empty home and kubeconfig so the machine's own configuration is never read.
func kubectlInHost(t *testing.T, h *agentHost, args ...string) string {
	t.Helper()
	return kubectlInHostAt(t, h, append([]string{"--server", "http://127.0.0.1:51678"}, args...)...)
}

// kubectlInHostAt is kubectlInHost with the server (and credentials) in args.
func kubectlInHostAt(t *testing.T, h *agentHost, args ...string) string {
	t.Helper()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/kubectl", append([]string{"--request-timeout=20s"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "KUBECONFIG=" + filepath.Join(home, "no-config")}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A child forked from a thread inside the test host starts there.
	if err := netns.Do(h.netns, cmd.Start); err != nil {
		t.Fatalf("start kubectl: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
