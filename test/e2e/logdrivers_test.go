package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/containerlog"
	"github.com/ecsd/ecsd/internal/fluentforward"
	"github.com/ecsd/ecsd/internal/testenv"
)

// shipHost is an agent host in local mode whose tasks may use the fluentd, syslog
// and gelf drivers. The loggers run beside containerd's shims, on the machine's loopback, where
// the tests' receivers listen.
func shipHost(t *testing.T) *agentHost {
	t.Helper()
	h := newAgentHost(t)
	h.env = append(h.env, `ECS_AVAILABLE_LOGGING_DRIVERS=["json-file","fluentd","syslog","gelf"]`)
	return h
}

// addLogDriverTask writes an ACS task file with one essential container "main" running
// script with the log driver and its options.
func (h *agentHost) addLogDriverTask(id, driver, script string, options map[string]string) {
	h.t.Helper()
	hostConfig, _ := json.Marshal(map[string]any{"LogConfig": map[string]any{"Type": driver, "Config": options}})
	containers, _ := json.Marshal([]map[string]any{{
		"name": "main", "image": testenv.BusyboxImage(), "essential": true,
		"command":      []string{"sh", "-c", script},
		"dockerConfig": map[string]any{"hostConfig": string(hostConfig)},
	}})
	h.t.Cleanup(func() {
		if h.t.Failed() {
			logPath := filepath.Join(h.dir, "data", "tasks", id, "logs", "main.log")
			st, _ := os.ReadFile(containerlog.StatusPath(logPath))
			h.t.Logf("task %s: logger status %s", id, st)
		}
	})
	h.addTask(id, string(containers))
}

// linesScript prints "<prefix> 1" to "<prefix> n" on stdout and "<prefix> err" on stderr,
// then waits to be stopped.
func linesScript(prefix string, n int) string {
	return fmt.Sprintf(`i=0; while [ $i -lt %d ]; do i=$((i+1)); echo "%s $i"; done; echo "%s err" >&2; trap 'exit 0' TERM; while :; do sleep 0.1; done`, n, prefix, prefix)
}

// floodScript writes 200-byte lines as fast as it can, counting them in /tmp/rounds.
const floodScript = `x=$(head -c 200 /dev/zero | tr '\0' x); i=0; trap 'exit 0' TERM; while :; do i=$((i+1)); echo $i > /tmp/rounds; echo "round $i $x"; done`

// closedAddr is a loopback TCP address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// forwardReceiver is a Fluentd forward input the test owns.
type forwardReceiver struct {
	mu     sync.Mutex
	events []fluentforward.Received
}

func (r *forwardReceiver) serve(t *testing.T, l net.Listener) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fluentforward.Serve(l, func(evs []fluentforward.Received) {
			r.mu.Lock()
			r.events = append(r.events, evs...)
			r.mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
}

// tagged returns the events received under tag.
func (r *forwardReceiver) tagged(tag string) []fluentforward.Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []fluentforward.Received
	for _, e := range r.events {
		if e.Tag == tag {
			out = append(out, e)
		}
	}
	return out
}

// waitShipDrops waits until the container counts dropped lines because the receiver
// refused the connection, while it runs, and returns it.
func waitShipDrops(t *testing.T, h *agentHost, name string) api.Container {
	t.Helper()
	objects := newObjectClient(h)
	var ctr api.Container
	waitUntil(t, h, name+": drops counted on the container", time.Minute, func() bool {
		ctr = api.Container{}
		if !objects.get(t, "/containers/"+name, &ctr) || !ctr.Status.LogDrops.ShipDropping() {
			return false
		}
		s := ctr.Status.LogDrops.Shipping
		return s.Events > 0 && strings.Contains(s.Reason, "connection refused")
	}, func() string { b, _ := json.Marshal(ctr.Status); return string(b) })
	if ctr.Status.KnownStatus != api.ContainerStatusRunning {
		t.Fatalf("%s: container %s", name, ctr.Status.KnownStatus)
	}
	return ctr
}

// waitWritesOn waits until the flooding container wrote 6,000 more lines (1.2 MB), beyond
// the shipping queue (64 KiB in these tests) and the logger's buffer (1 MiB): it is not
// blocked by its output. (In local mode the agent stops a task a minute after it started,
// as the backend does not list it: the tests' checks fit in that minute.)
func waitWritesOn(t *testing.T, h *agentHost, ctr api.Container) {
	t.Helper()
	rounds := func() int {
		_, out, _ := h.rt.Exec(context.Background(), ctr.Status.RuntimeID, []string{"cat", "/tmp/rounds"})
		n, _ := strconv.Atoi(strings.TrimSpace(out))
		return n
	}
	start := rounds()
	waitUntil(t, h, "the container to write 1.2 MB more", time.Minute, func() bool { return rounds() > start+6000 })
}

// TestFluentdLogDriver: containers' lines reach a forward receiver the test owns, over TCP
// (with a tag template and sub-second times) and over a Unix socket (with Docker's default
// tag, the container ID's first 12 characters), in order, as Docker's records.
func TestFluentdLogDriver(t *testing.T) {
	t.Parallel()
	var recv forwardReceiver
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	recv.serve(t, tl)
	sock := filepath.Join(t.TempDir(), "forward.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	recv.serve(t, ul)

	h := shipHost(t)
	h.addLogDriverTask("fwdtcp", "fluentd", linesScript("tcp", 300), map[string]string{
		"fluentd-address": "tcp://" + tl.Addr().String(), "tag": "ecs.{{.Name}}", "fluentd-sub-second-precision": "true",
		"fluentd-async": "true",
	})
	h.addLogDriverTask("fwdunix", "fluentd", linesScript("unix", 50), map[string]string{"fluentd-address": "unix://" + sock})
	h.start()

	objects := newObjectClient(h)
	for _, tc := range []struct {
		task, prefix string
		n            int
		tag          func(c api.Container, name string) string
	}{
		{"fwdtcp", "tcp", 300, func(_ api.Container, name string) string { return "ecs." + name }},
		{"fwdunix", "unix", 50, func(c api.Container, _ string) string { return c.Status.RuntimeID[:12] }},
	} {
		var c api.Container
		var task api.Task
		waitUntil(t, h, tc.task+" running", time.Minute, func() bool {
			c, task = api.Container{}, api.Task{}
			return objects.get(t, "/containers/"+tc.task+"-main", &c) && c.Status.KnownStatus == api.ContainerStatusRunning &&
				objects.get(t, "/tasks/"+tc.task, &task)
		})
		name := api.DockerName(&task, &c)
		tag := tc.tag(c, name)
		var got []fluentforward.Received
		waitUntil(t, h, fmt.Sprintf("%d events tagged %s", tc.n+1, tag), time.Minute, func() bool {
			got = recv.tagged(tag)
			return len(got) >= tc.n+1
		}, func() string { return fmt.Sprintf("%d events tagged %s", len(got), tag) })
		var out []string
		for _, e := range got {
			r := e.Record
			if r["container_id"] != c.Status.RuntimeID || r["container_name"] != "/"+name {
				t.Errorf("%s: record %v: want container_id %s, container_name /%s", tc.task, r, c.Status.RuntimeID, name)
			}
			if r["source"] == "stderr" {
				if r["log"] != tc.prefix+" err" {
					t.Errorf("%s: stderr record %v", tc.task, r)
				}
				continue
			}
			if r["source"] != "stdout" || time.Since(e.Time) > 5*time.Minute || e.Time.After(time.Now().Add(time.Second)) {
				t.Errorf("%s: record %v at %s", tc.task, r, e.Time)
			}
			out = append(out, r["log"])
		}
		if len(out) != tc.n {
			t.Fatalf("%s: %d stdout events, want %d", tc.task, len(out), tc.n)
		}
		for i, l := range out {
			if l != fmt.Sprintf("%s %d", tc.prefix, i+1) {
				t.Fatalf("%s: event %d = %q: lost, repeated or out of order", tc.task, i, l)
			}
		}
		if tc.task == "fwdtcp" && got[0].Time.Nanosecond() == 0 && got[1].Time.Nanosecond() == 0 {
			t.Errorf("fluentd-sub-second-precision: times %s, %s have no sub-second part", got[0].Time, got[1].Time)
		}
	}
}

// TestFluentdLogDriverReceiverDown: with the forward receiver down the container starts,
// runs and goes on writing; its lines are dropped and counted on the Container object
// with the cause; once a receiver listens there, shipping resumes.
func TestFluentdLogDriverReceiverDown(t *testing.T) {
	t.Parallel()
	addr := closedAddr(t)
	h := shipHost(t)
	h.addLogDriverTask("fwddown", "fluentd", floodScript, map[string]string{
		"fluentd-address": addr, "tag": "down", "max-buffer-size": "64k", "fluentd-retry-wait": "100ms",
	})
	h.start()
	ctr := waitShipDrops(t, h, "fwddown-main")
	waitWritesOn(t, h, ctr)

	// The receiver comes up: the logger reconnects and ships again.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s again: %v", addr, err)
	}
	var recv forwardReceiver
	recv.serve(t, l)
	waitUntil(t, h, "events shipped once the receiver is up", time.Minute, func() bool { return len(recv.tagged("down")) > 100 })
	waitShipped(t, h, "fwddown")
}

// waitShipped waits until the logger of task's container main counts lines both dropped
// and shipped in its status file.
func waitShipped(t *testing.T, h *agentHost, task string) {
	t.Helper()
	var st containerlog.Status
	waitUntil(t, h, task+": the logger counts lines dropped and shipped", time.Minute, func() bool {
		var err error
		st, err = containerlog.ReadStatus(filepath.Join(h.dir, "data", "tasks", task, "logs", "main.log"))
		return err == nil && st.Ship != nil && st.Ship.DroppedEvents > 0 && st.Ship.ShippedEvents > 0
	}, func() string { return fmt.Sprintf("%+v", st.Ship) })
}

// TestLogDriverShipRefusesBadOptions: a fluentd or syslog option ecsd cannot honour stops
// the container with the reason, instead of logging some other way.
func TestLogDriverShipRefusesBadOptions(t *testing.T) {
	t.Parallel()
	h := shipHost(t)
	h.addLogDriverTask("fwdsync", "fluentd", "echo hi", map[string]string{"fluentd-async": "false"})
	h.addLogDriverTask("sltls", "syslog", "echo hi", map[string]string{"syslog-address": "tcp+tls://127.0.0.1:6514"})
	h.start()
	objects := newObjectClient(h)
	for name, want := range map[string]string{
		"fwdsync-main": "log driver fluentd: fluentd-async false is not supported by ecsd",
		"sltls-main":   "log driver syslog: syslog-address \"tcp+tls://127.0.0.1:6514\": tcp+tls is not supported by ecsd",
	} {
		var ctr api.Container
		waitUntil(t, h, name+" stopped with the reason", time.Minute, func() bool {
			ctr = api.Container{}
			return objects.get(t, "/containers/"+name, &ctr) && ctr.Status.KnownStatus == api.ContainerStatusStopped
		})
		if !strings.Contains(ctr.Status.Reason, want) || !strings.Contains(ctr.Status.Reason, "CannotCreateContainerError") {
			t.Errorf("%s reason %q, want %q", name, ctr.Status.Reason, want)
		}
	}
}
