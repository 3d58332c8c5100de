package objectapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// kubectlBin is the real kubectl the object API must work with.
const kubectlBin = "/usr/bin/kubectl"

// kubectlEnv serves the fixture on loopback and records the paths requested, so a test can
// tell what kubectl asked for.
type kubectlEnv struct {
	*env
	home  string
	ca    string   // the TLS server's certificate, for --certificate-authority
	auth  []string // kubectl's credential flags
	mu    sync.Mutex
	paths []string
}

func newKubectlEnv(t *testing.T) *kubectlEnv {
	t.Helper()
	if _, err := os.Stat(kubectlBin); err != nil {
		t.Fatalf("these tests run the real kubectl at %s: %v", kubectlBin, err)
	}
	k := &kubectlEnv{env: newEnv(t, fixture()...), home: t.TempDir()}
	k.srv.Close()
	// kubectl sends a token only to an https server (client-go drops credentials for
	// http://), so this is how a user with the token reaches the agent.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.paths = append(k.paths, r.URL.Path)
		k.mu.Unlock()
		k.h.ServeHTTP(w, r)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	k.srv = srv
	k.ca = filepath.Join(k.home, "ca.crt")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(k.ca, ca, 0o644); err != nil {
		t.Fatal(err)
	}
	k.auth = []string{"--certificate-authority", k.ca, "--token", testToken}
	return k
}

// command is kubectl against the test server with an empty home and kubeconfig, so the
// machine's own configuration is never read.
func (k *kubectlEnv) command(ctx context.Context, args ...string) *exec.Cmd {
	args = append(append([]string{"--server", k.srv.URL, "--request-timeout=20s"}, k.auth...), args...)
	cmd := exec.CommandContext(ctx, kubectlBin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + k.home, "KUBECONFIG=" + filepath.Join(k.home, "no-config")}
	return cmd
}

func (k *kubectlEnv) run(args ...string) string {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := k.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// rows splits kubectl's table output into header and rows of fields; columns whose names
// have spaces are matched by their first word.
func rows(out string) (header []string, byName map[string][]string) {
	byName = map[string][]string{}
	for i, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if i == 0 {
			header = f
			continue
		}
		if len(f) > 0 {
			byName[f[0]] = f
		}
	}
	return header, byName
}

func TestKubectlGet(t *testing.T) {
	k := newKubectlEnv(t)

	header, byName := rows(k.run("get", "tasks"))
	if !slices.Equal(header, []string{"NAME", "FAMILY:REVISION", "DESIRED", "KNOWN", "NETWORK", "READY", "AGE"}) {
		t.Errorf("get tasks header %v", header)
	}
	if got := byName["web1"]; !slices.Equal(got, []string{"web1", "web:3", "RUNNING", "RUNNING", "bridge", "1/2", "3d"}) {
		t.Errorf("get tasks row web1 %v", got)
	}
	if got := byName["batch1"]; len(got) < 4 || got[3] != "STOPPED" {
		t.Errorf("get tasks row batch1 %v", got)
	}

	// The short name, and the wide columns.
	header, byName = rows(k.run("get", "t", "-o", "wide"))
	if !slices.Equal(header[len(header)-4:], []string{"ARN", "IP", "STOPPED", "REASON"}) {
		t.Errorf("get t -o wide header %v", header)
	}
	if got := byName["batch1"]; !slices.Contains(got, "arn:aws:ecs:us-west-2:111122223333:task/prod/batch1") || !slices.Contains(got, "10.0.0.7") {
		t.Errorf("get t -o wide row batch1 %v", got)
	}

	// One object by name, across all namespaces, and with labels from the row metadata.
	_, byName = rows(k.run("get", "container", "web1-app"))
	if got := byName["web1-app"]; len(got) < 6 || got[5] != "HEALTHY" {
		t.Errorf("get container web1-app %v", got)
	}
	header, byName = rows(k.run("get", "c", "-A", "-l", api.LabelFamily+"=batch"))
	if header[0] != "NAMESPACE" || len(byName) != 1 || byName[api.Namespace] == nil || byName[api.Namespace][1] != "batch1-job" {
		t.Errorf("get c -A -l family=batch: %v %v", header, byName)
	}

	// The category: every kind.
	out := k.run("get", "ecs")
	for _, name := range []string{"task.ecs.ecsd.io/web1", "container.ecs.ecsd.io/web1-sidecar", "image.ecs.ecsd.io/sha256-abc",
		"attachment.ecs.ecsd.io/att-1", "instance.ecs.ecsd.io/instance"} {
		if !strings.Contains(out, name) {
			t.Errorf("get ecs lacks %s:\n%s", name, out)
		}
	}

	// -o json is the objects themselves, as a List.
	var list struct {
		Kind  string          `json:"kind"`
		Items []api.Container `json:"items"`
	}
	if err := json.Unmarshal([]byte(k.run("get", "containers", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range list.Items {
		got = append(got, c.Spec.TaskName+"/"+c.Spec.Name)
	}
	slices.Sort(got)
	if list.Kind != "List" || !slices.Equal(got, []string{"batch1/job", "web1/app", "web1/sidecar"}) {
		t.Errorf("get containers -o json: %s %v", list.Kind, got)
	}

	// kubectl get needs nothing beyond discovery and the resources: no OpenAPI. It also
	// asks for /version, which is not served here (404) and which it does without.
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, p := range k.paths {
		if !strings.HasPrefix(p, "/api") && p != "/version" {
			t.Errorf("kubectl asked for %s", p)
		}
	}
}

// kubectl get -w prints the tasks, then each change as it happens.
func TestKubectlWatch(t *testing.T) {
	k := newKubectlEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := k.command(ctx, "get", "tasks", "-w")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	waitLine := func(what string, match func([]string) bool) {
		t.Helper()
		for lines.Scan() {
			if match(strings.Fields(lines.Text())) {
				return
			}
		}
		t.Fatalf("kubectl get -w ended before %s: %v\n%s", what, lines.Err(), stderr.String())
	}
	// The list comes first, in any order.
	initial := map[string]string{}
	waitLine("the initial rows", func(f []string) bool {
		if len(f) > 3 && f[0] != "NAME" {
			initial[f[0]] = f[3]
		}
		return len(initial) == 2
	})
	if initial["web1"] != "RUNNING" || initial["batch1"] != "STOPPED" {
		t.Fatalf("initial rows: known status by task %v", initial)
	}

	setStatus(k.env, webTask(), func(t *api.Task) { t.Status.KnownStatus = api.TaskStatusStopped })
	waitLine("web1 STOPPED", func(f []string) bool { return len(f) > 3 && f[0] == "web1" && f[3] == "STOPPED" })
}

// A missing object is reported as that object, not as a missing namespace: kubectl asks
// for the namespace after the 404 and finds it.
func TestKubectlMissingObject(t *testing.T) {
	k := newKubectlEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := k.command(ctx, "get", "task", "nope").CombinedOutput()
	if err == nil {
		t.Fatalf("kubectl get task nope succeeded: %s", out)
	}
	if want := `tasks.ecs.ecsd.io "nope" not found`; !strings.Contains(string(out), want) {
		t.Errorf("kubectl get task nope: want %q in\n%s", want, out)
	}
	if strings.Contains(string(out), "namespaces") {
		t.Errorf("kubectl reports a missing namespace:\n%s", out)
	}
	out, err = k.command(ctx, "get", "tasks", "-n", "elsewhere", "web1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `namespaces "elsewhere" not found`) {
		t.Errorf("kubectl get in a namespace that does not exist: %v\n%s", err, out)
	}
}
