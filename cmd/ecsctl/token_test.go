package main

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/secretfile"
	"github.com/ecsd/ecsd/server/dualtls"
)

// ecsctl token prints what the agent wrote; without a readable file it says why.
func TestTokenCommand(t *testing.T) {
	e := newEnv(t)
	want, err := secretfile.Read(e.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.ecsctl(t, "token"); r.code != 0 || r.out != string(want)+"\n" {
		t.Errorf("ecsctl token: exit %d %q %q", r.code, r.out, r.err)
	}
	missing := filepath.Join(t.TempDir(), "none")
	r := runCLI(t, context.Background(), "--token-file", missing, "token")
	if r.code == 0 || !strings.Contains(r.err, "read the token") {
		t.Errorf("ecsctl token without a file: exit %d %q", r.code, r.err)
	}
}

// Without the token, a read is refused and ecsctl tells the user where the token comes from.
func TestNoTokenExplained(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	r := runCLI(t, context.Background(), "--server", e.url, "--token-file", filepath.Join(t.TempDir(), "none"), "get", "tasks")
	if r.code != 1 || !strings.Contains(r.err, "401 Unauthorized") || !strings.Contains(r.err, "--token-file") || r.out != "" {
		t.Errorf("get tasks without a token: exit %d out %q err %q", r.code, r.out, r.err)
	}
	r = runCLI(t, context.Background(), "--server", e.url, "--token", "wrong", "get", "tasks")
	if r.code != 1 || !strings.Contains(r.err, "401") {
		t.Errorf("get tasks with a wrong token: exit %d err %q", r.code, r.err)
	}
	// --token wins over the file.
	tok, _ := secretfile.Read(e.tokenFile)
	r = runCLI(t, context.Background(), "--server", e.url, "--token-file", "/nonexistent", "--token", string(tok), "get", "t", "-o", "name")
	if r.code != 0 || !strings.Contains(r.out, "task.ecs.ecsd.io/web1") {
		t.Errorf("get with --token: exit %d %q %q", r.code, r.out, r.err)
	}
}

// The kubeconfig ecsctl prints takes the real kubectl to the agent over TLS with the token:
// kubectl sees everything, objects included. ecsctl itself works over https too.
func TestKubeconfigForKubectl(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	certPath, keyPath := config.APICertFiles(e.tokenFile)
	cert, _, err := dualtls.LoadOrCreate(certPath, keyPath, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The same handler behind the agent's listener, which speaks TLS and plain HTTP.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e.handler}
	go srv.Serve(dualtls.Listener{Listener: ln, Config: &tls.Config{Certificates: []tls.Certificate{cert}}})
	t.Cleanup(func() { srv.Close() })
	server := "http://" + ln.Addr().String()

	r := runCLI(t, context.Background(), "--server", server, "--token-file", e.tokenFile, "kubeconfig")
	if r.code != 0 || !strings.Contains(r.out, "server: https://"+ln.Addr().String()) {
		t.Fatalf("ecsctl kubeconfig: exit %d %q %q", r.code, r.out, r.err)
	}
	home := t.TempDir()
	kc := filepath.Join(home, "ecsd.kubeconfig")
	if err := os.WriteFile(kc, []byte(r.out), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/kubectl", "--kubeconfig", kc, "get", "containers", "-o", "yaml")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "kind: Container") || !strings.Contains(string(out), "taskName: web1") {
		t.Fatalf("kubectl --kubeconfig (ecsctl kubeconfig) get containers -o yaml: %v\n%s", err, out)
	}
	// ecsctl over https trusts the agent's certificate beside the token.
	r = runCLI(t, context.Background(), "--server", "https://"+ln.Addr().String(), "--token-file", e.tokenFile, "get", "t", "-o", "name")
	if r.code != 0 || !strings.Contains(r.out, "task.ecs.ecsd.io/web1") {
		t.Errorf("ecsctl over https: exit %d %q %q", r.code, r.out, r.err)
	}
}
