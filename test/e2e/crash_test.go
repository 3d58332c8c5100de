package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
)

func TestExploreStopLog(t *testing.T) {
	h := newAgentHost(t)
	h.addTask("s0", `[{"name":"app","image":"`+testenv.BusyboxImage()+`","essential":true,"stopTimeout":3,"command":["sh","-c","echo started; trap 'echo got TERM' TERM; while true; do sleep 0.1; done"]}]`)
	h.start()
	h.waitRuntime("running", running("s0-app"))
	h.waitLog("to=RUNNING")
	h.kill(syscall.SIGTERM)
	p := filepath.Join(h.tasks, "s0.json")
	b, _ := os.ReadFile(p)
	_ = os.WriteFile(p, []byte(strings.Replace(string(b), `"desiredStatus":"RUNNING"`, `"desiredStatus":"STOPPED"`, 1)), 0o644)
	h.env = append(h.env, "ECS_LOGLEVEL=debug")
	h.start()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		list, _ := h.rt.ListContainers(context.Background())
		if len(list) == 1 && list[0].Status == runtime.StatusStopped {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.kill(syscall.SIGTERM)
	b, _ = os.ReadFile(filepath.Join(h.dir, "agent.log"))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "s0-app") || strings.Contains(l, "status changed") || strings.Contains(l, "cleaned") {
			t.Log(l)
		}
	}
	lb, _ := os.ReadFile(filepath.Join(h.dir, "data", "tasks", "s0", "logs", "app.log"))
	t.Logf("container log: %q", lb)
}
