package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecsTypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsd/ecsd/internal/netns"
	"github.com/ecsd/ecsd/runtime"
)

// scraper reads the agent's /metrics from inside its test host, as a Prometheus server on
// that host would.
type scraper struct {
	h      *agentHost
	client *http.Client
	last   map[string]float64
}

func newScraper(h *agentHost) *scraper {
	return &scraper{h: h, client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) { return h.dial(ctx, addr) }}}}
}

// scrape returns every sample as `name{labels}` (as exposed) → value.
func (s *scraper) scrape() (map[string]float64, error) {
	resp, err := s.client.Get("http://127.0.0.1:51680/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// wait scrapes until cond holds for the samples, for up to two minutes.
func (s *scraper) wait(what string, cond func(m map[string]float64) bool) map[string]float64 {
	s.h.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var err error
	for time.Now().Before(deadline) {
		var m map[string]float64
		if m, err = s.scrape(); err == nil {
			s.last = m
			if cond(m) {
				return m
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	var shown []string
	for k, v := range s.last {
		if strings.HasPrefix(k, "ecsd_") {
			shown = append(shown, fmt.Sprintf("%s %v", k, v))
		}
	}
	s.h.t.Fatalf("timed out waiting for metrics: %s (last error %v); last ecsd samples:\n%s\nagent log:\n%s",
		what, err, strings.Join(shown, "\n"), s.h.agentLog())
	return nil
}

// TestMetricsFollowTasksAndACS: with ECS_ENABLE_PROMETHEUS_METRICS the agent serves
// /metrics on :51680, and what it says follows the run: tasks and containers by status,
// launches and pulls, reconciles, log bytes; ACS connected, then down with a task's STOPPED
// waiting to be sent while the backend is away, then reconnected and the backlog sent.
func TestMetricsFollowTasksAndACS(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	b := newBackend(t)
	h.args = []string{}
	h.env = append(h.env, b.agentEnv()...)
	h.env = append(h.env, "ECS_ENABLE_PROMETHEUS_METRICS=true")
	h.start()
	b.waitConnected(h)
	s := newScraper(h)

	s.wait("ACS and TCS connected, no task", func(m map[string]float64) bool {
		return m["ecsd_acs_connected"] == 1 && m["ecsd_tcs_connected"] == 1 && m[`ecsd_tasks{status="RUNNING"}`] == 0 &&
			m["ecsd_acs_reconnects_total"] == 0 && m["ecsd_state_changes_pending"] == 0
	})

	def := b.sleeperDef("e2e-metrics", 0)
	arns := b.runTask(def, 2)
	b.waitTasks("RUNNING", 2*time.Minute, arns, lastStatus("RUNNING"))
	m := s.wait("two tasks running, launched and pulled", func(m map[string]float64) bool {
		return m[`ecsd_tasks{status="RUNNING"}`] == 2 && m[`ecsd_containers{status="RUNNING"}`] == 2 &&
			m["ecsd_task_launch_seconds_count"] == 2 && m["ecsd_image_pull_seconds_count"] == 2 &&
			m["ecsd_state_changes_pending"] == 0 && m["ecsd_images"] >= 1 && m["ecsd_image_store_bytes"] > 0 &&
			m["ecsd_container_log_written_bytes_total"] > 0 && has(m, "ecsd_acs_last_message_age_seconds")
	})
	if m[`controller_runtime_reconcile_total{controller="start",result="success"}`] < 2 {
		t.Errorf("controller-runtime's reconcile counts are not served: start successes %v",
			m[`controller_runtime_reconcile_total{controller="start",result="success"}`])
	}
	if _, ok := m[`controller_runtime_reconcile_time_seconds_count{controller="task"}`]; !ok {
		t.Error("controller-runtime's reconcile latencies are not served")
	}

	// ACS cut: the session is down, and a task that stops meanwhile waits to be reported.
	b.down()
	s.wait("ACS down", func(m map[string]float64) bool {
		return m["ecsd_acs_connected"] == 0 && m["ecsd_acs_disconnected_seconds"] > 0
	})
	list, err := h.rt.ListContainers(context.Background())
	if err != nil || len(list) != 2 {
		t.Fatalf("runtime containers %d, %v", len(list), err)
	}
	if err := h.rt.Signal(context.Background(), list[0].ID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.wait("one task stopped, its STOPPED waiting", func(m map[string]float64) bool {
		return m[`ecsd_tasks{status="RUNNING"}`] == 1 && m[`ecsd_tasks{status="STOPPED"}`] == 1 &&
			m["ecsd_state_changes_pending"] >= 2 && m["ecsd_state_changes_oldest_pending_seconds"] > 0
	})

	// Restored: connected again (a reconnect), and the backlog is sent.
	b.up(b.addr)
	s.wait("ACS back, backlog sent", func(m map[string]float64) bool {
		return m["ecsd_acs_connected"] == 1 && m["ecsd_acs_reconnects_total"] >= 1 && m["ecsd_state_changes_pending"] == 0
	})

	// The other task stopped through ECS.
	var running string
	for _, tk := range b.waitTasks("one task STOPPED by ECS's account", time.Minute, arns, func(ecsTypes.Task) bool { return true }) {
		if aws.ToString(tk.LastStatus) == "RUNNING" {
			running = aws.ToString(tk.TaskArn)
		}
	}
	if running == "" {
		t.Fatalf("no task left running by ECS's account")
	}
	if _, err := b.ecs.StopTask(context.Background(), &ecs.StopTaskInput{Cluster: aws.String(b.cluster), Task: aws.String(running)}); err != nil {
		t.Fatal(err)
	}
	s.wait("both tasks stopped and reported", func(m map[string]float64) bool {
		return m[`ecsd_tasks{status="RUNNING"}`] == 0 && m[`ecsd_tasks{status="STOPPED"}`] == 2 &&
			m[`ecsd_containers{status="STOPPED"}`] == 2 && m["ecsd_state_changes_pending"] == 0
	})
	h.waitRuntime("no container running", func(m map[string]runtime.ContainerState) bool {
		for _, c := range m {
			if c.Status == runtime.StatusRunning {
				return false
			}
		}
		return true
	})
}

func has(m map[string]float64, sample string) bool {
	_, ok := m[sample]
	return ok
}

// healthcheck runs `ecs-agent --healthcheck` on the agent's test host and returns its exit
// status and output.
func (h *agentHost) healthcheck() (int, string) {
	h.t.Helper()
	cmd := exec.Command(agentBin, "--healthcheck")
	cmd.Env = append(cmd.Environ(), "AWS_EC2_METADATA_DISABLED=true")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := netns.Do(h.netns, cmd.Run)
	if err != nil && cmd.ProcessState == nil {
		h.t.Fatalf("run --healthcheck: %v", err)
	}
	return cmd.ProcessState.ExitCode(), strings.TrimSpace(out.String())
}

// waitHealthcheck runs --healthcheck until it exits with code, for up to two minutes.
func (h *agentHost) waitHealthcheck(what string, code int, says string) string {
	h.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var got int
	var out string
	for time.Now().Before(deadline) {
		if got, out = h.healthcheck(); got == code && strings.Contains(out, says) {
			return out
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.t.Fatalf("%s: --healthcheck exits %d (%q), want %d saying %q; agent log:\n%s", what, got, out, code, says, h.agentLog())
	return ""
}

// TestHealthcheckFailsWhileACSHeldDown: --healthcheck exits 1 with no agent, 0 once the
// agent runs connected, 1 once ACS has been down longer than ECSD_HEALTHCHECK_ACS_GRACE
// (3 s here), 0 again once it reconnects, and 1 when the agent is gone.
func TestHealthcheckFailsWhileACSHeldDown(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	b := newBackend(t)
	if code, out := h.healthcheck(); code != 1 || !strings.Contains(out, "does not answer") {
		t.Fatalf("no agent: --healthcheck exits %d (%q), want 1", code, out)
	}
	h.args = []string{}
	h.env = append(h.env, b.agentEnv()...)
	h.env = append(h.env, "ECSD_HEALTHCHECK_ACS_GRACE=3s")
	h.start()
	b.waitConnected(h)
	h.waitHealthcheck("connected", 0, "healthy: ACS connected")

	b.down()
	out := h.waitHealthcheck("ACS held down", 1, "unhealthy: ACS disconnected for")
	if !strings.Contains(out, "longer than 3s") {
		t.Errorf("--healthcheck says %q, want the grace named", out)
	}
	b.up(b.addr)
	b.waitConnected(h)
	h.waitHealthcheck("ACS restored", 0, "healthy: ACS connected")

	h.kill(syscall.SIGTERM)
	if code, out := h.healthcheck(); code != 1 || !strings.Contains(out, "does not answer") {
		t.Fatalf("agent stopped: --healthcheck exits %d (%q), want 1", code, out)
	}
}
