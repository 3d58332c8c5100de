package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsd/ecsd/internal/testenv"
)

var (
	awslogsOnly  = flag.Bool("awslogs-only", false, "measure only awslogs shipping (moto as CloudWatch Logs)")
	awslogsLines = flag.Int("awslogs-lines", 100000, "lines the awslogs container writes")
)

// awslogsReport is one container shipping lines to moto through the agent's logger.
type awslogsReport struct {
	Lines, Received int
	// AgentCPU is the agent's CPU time while the lines were shipped, LoggerCPU the
	// container's logger's over its life.
	AgentCPU, LoggerCPU time.Duration
	// Lags are, per event, PutLogEvents' arrival at the CloudWatch endpoint minus the
	// event's timestamp (when the logger read the line).
	Lags     []time.Duration
	Requests int
	Dropped  string
}

// awslogsBench runs one task whose container writes lines (bursts of 1,000 every 0.1 s,
// at most 10,000 lines/s) with the awslogs driver to moto, behind a proxy here that
// timestamps every PutLogEvents, until every line arrived.
func awslogsBench(ctx context.Context, agent, address, image, ns string, lines int) (awslogsReport, error) {
	r := awslogsReport{Lines: lines}
	moto, stopMoto, err := startMoto()
	if err != nil {
		return r, err
	}
	defer stopMoto()
	proxy, err := newPutProxy(moto)
	if err != nil {
		return r, err
	}
	defer proxy.close()

	dir, err := os.MkdirTemp("", "ecsd-bench-awslogs-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	b, err := startBackend(ctx, "awslogs")
	if err != nil {
		return r, err
	}
	defer b.close()
	saved := agentEnv
	agentEnv = append(append(envFlags(nil), agentEnv...), "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS="+proxy.url,
		`ECS_AVAILABLE_LOGGING_DRIVERS=["json-file","awslogs"]`)
	cmd, err := b.startAgent(ctx, agent, address, ns, dir)
	agentEnv = saved
	if err != nil {
		return r, err
	}
	defer purgeNS(address, ns)
	defer stopAgent(cmd)
	for !b.connected(ctx) {
		if cmd.ProcessState != nil {
			return r, fmt.Errorf("agent exited")
		}
		time.Sleep(5 * time.Millisecond)
	}
	script := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do j=0; while [ $j -lt 1000 ] && [ $i -lt %d ]; do i=$((i+1)); j=$((j+1)); echo "bench line $i"; done; sleep 0.1; done; exec sleep 3600`, lines, lines)
	out, err := b.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String("bench-awslogs"),
		NetworkMode: types.NetworkModeHost,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String(image), Essential: aws.Bool(true), Memory: aws.Int32(64),
			Command: []string{"sh", "-c", script},
			LogConfiguration: &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{
				"awslogs-group": "/ecsd/bench", "awslogs-region": testenv.MotoRegion, "awslogs-create-group": "true",
				"awslogs-stream-prefix": "bench", "mode": "non-blocking", "max-buffer-size": "4m",
			}},
		}},
	})
	if err != nil {
		return r, err
	}
	cpu0, err := procCPU(cmd.Process.Pid)
	if err != nil {
		return r, err
	}
	if _, err := b.runTasks(ctx, aws.ToString(out.TaskDefinition.TaskDefinitionArn), 1); err != nil {
		return r, err
	}
	deadline := time.Now().Add(5 * time.Minute)
	for proxy.received() < lines {
		if time.Now().After(deadline) {
			return r, fmt.Errorf("only %d of %d lines reached CloudWatch in 5m", proxy.received(), lines)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cpu1, err := procCPU(cmd.Process.Pid)
	if err != nil {
		return r, err
	}
	r.AgentCPU = cpu1 - cpu0
	pid, err := findLogger(dir)
	if err != nil {
		return r, err
	}
	if r.LoggerCPU, err = procCPU(pid); err != nil {
		return r, err
	}
	r.Received, r.Lags, r.Requests = proxy.results()
	if st, err := os.ReadFile(findStatus(dir)); err == nil {
		if i := bytes.Index(st, []byte(`"ship":`)); i >= 0 {
			r.Dropped = strings.TrimSpace(string(st[i:min(len(st), i+160)]))
		}
	}
	return r, nil
}

func printAWSLogs(r awslogsReport) {
	fmt.Printf("awslogs: %d lines written, %d events received by CloudWatch (moto) in %d PutLogEvents; agent CPU %s, logger CPU %s\n",
		r.Lines, r.Received, r.Requests, r.AgentCPU.Round(time.Millisecond), r.LoggerCPU.Round(time.Millisecond))
	fmt.Printf("awslogs-agent-cpu-ms-per-10k-lines %.1f\n", ms(r.AgentCPU+r.LoggerCPU)/float64(r.Lines)*10000)
	fmt.Printf("awslogs-lag-p50-ms %.0f\n", ms(pct(r.Lags, 50)))
	fmt.Printf("awslogs-lag-p99-ms %.0f\n", ms(pct(r.Lags, 99)))
}

// procCPU is a process's user and system CPU time so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command (in parentheses): utime and stime are the 12th and 13th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ
	return time.Duration(u+s) * time.Second / ticks, nil
}

// findLogger is the pid of the logger writing a log under dir.
func findLogger(dir string) (int, error) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte("ecsd-logger")) || !bytes.Contains(cmdline, []byte(dir)) {
			continue
		}
		return pid, nil
	}
	return 0, fmt.Errorf("no logger process for %s", dir)
}

func findStatus(dir string) string {
	m, _ := filepath.Glob(filepath.Join(dir, "data", "tasks", "*", "logs", "app.log.status"))
	if len(m) == 0 {
		return ""
	}
	return m[0]
}

// startMoto runs moto_server on a free loopback port.
func startMoto() (string, func(), error) {
	bin, err := testenv.MotoBinary()
	if err != nil {
		return "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	}
	u := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := http.Get(u + "/moto-api/"); err == nil {
			resp.Body.Close()
			return u, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("moto_server did not answer on %s", u)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// putProxy passes requests to moto and records, for every PutLogEvents, its arrival
// and its events' timestamps.
type putProxy struct {
	url  string
	srv  *http.Server
	mu   sync.Mutex
	lags []time.Duration
	n    int
	reqs int
}

func newPutProxy(moto string) (*putProxy, error) {
	target, err := url.Parse(moto)
	if err != nil {
		return nil, err
	}
	p := &putProxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.url = "http://" + ln.Addr().String()
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutLogEvents") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var in struct {
				LogEvents []struct {
					Timestamp int64 `json:"timestamp"`
				} `json:"logEvents"`
			}
			if json.Unmarshal(body, &in) == nil {
				p.mu.Lock()
				p.reqs++
				for _, e := range in.LogEvents {
					p.lags = append(p.lags, at.Sub(time.UnixMilli(e.Timestamp)))
				}
				p.n += len(in.LogEvents)
				p.mu.Unlock()
			}
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *putProxy) received() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func (p *putProxy) results() (int, []time.Duration, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n, append([]time.Duration(nil), p.lags...), p.reqs
}

func (p *putProxy) close() { _ = p.srv.Close() }
