//go:build integration

package objectapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/peer"
	"github.com/ecsd/ecsd/runtime/cgroups"
)

// Plain kubectl over http, which sends no token, works for root on the host (the real peer
// check, this test running as root outside any task): tables, and tasks as JSON; container
// objects need the token.
func TestKubectlPlainHTTPAsHostRoot(t *testing.T) {
	k := newKubectlEnv(t)
	m := cgroups.Manager{Mount: "/sys/fs/cgroup"}
	mount := m.V2Mount()
	if mount == "" {
		t.Fatal("no cgroup v2 hierarchy: the host caller check needs one")
	}
	hr := peer.HostRoot{Mount: mount, TaskRoot: "/ecs"}
	e := k.env
	e.h.o.HostCaller = HostRootCaller(hr)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	k.srv, k.auth = srv, []string{"--token", testToken} // the token is dropped: http

	_, byName := rows(k.run("get", "tasks"))
	if got := byName["web1"]; len(got) < 4 || got[3] != "RUNNING" {
		t.Errorf("kubectl get tasks over http as root: row %v", got)
	}
	var tk struct{ Kind string }
	if err := json.Unmarshal([]byte(k.run("get", "tasks", "web1", "-o", "json")), &tk); err != nil || tk.Kind != "Task" {
		t.Errorf("kubectl get task -o json over http as root: %v %+v", err, tk)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := k.command(ctx, "get", "containers", "-o", "json").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "logged in") {
		t.Errorf("kubectl get containers -o json over http without a token: %v\n%s", err, out)
	}
}
