//go:build systemd

package systemd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsd/ecsd/internal/testenv"
)

// TestSystemdBoot boots Debian 12 under systemd-nspawn, installs the ecsd package next to
// Debian's containerd 1.6, and checks the ecs unit the way an operator meets it:
//
//  1. Type=notify: with the control plane out of reach the unit stays "activating"
//     (the agent logs failed registrations); once the plane is reachable it becomes
//     "active", and the plane registered the instance before systemd saw READY.
//  2. A task from the control plane runs (bridge network, a published port answering).
//  3. `systemctl restart ecs` leaves the task's process alone (same PID, same start
//     time), and the new agent adopts it: introspection lists it and StopTask stops it.
//  4. The unit's watchdog (WatchdogSec) is notified, and an agent that stops notifying it
//     (SIGSTOP, with a 3 s watchdog for the test) is killed and restarted by systemd; the
//     task keeps running.
//  5. `systemctl stop ecs` leaves iptables exactly as they were before ecs first started.
//  6. The agent's log is in the journal (journalctl -u ecs).
func TestSystemdBoot(t *testing.T) {
	testenv.RequireRoot(t)
	requireTools(t)
	testenv.RequireRegistries(t)
	p := newProgress(t)
	deb := packageUnderTest(t, p)
	root := cachedRoot(t, p, rootPackages(t, deb))
	pl := startPlane(t, p)
	m := bootMachine(t, p, root)
	m.forward(testenv.Registry())

	m.must("systemctl", "is-active", "containerd")
	p.step("Debian's containerd is active: %s", strings.TrimSpace(m.must("containerd", "--version")))

	// An administrator's firewall, there before ecsd: the tables ecs-init and the agent
	// use exist already, and their rules must survive ecsd untouched.
	for _, rule := range [][]string{
		{"iptables", "-w", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"},
		{"iptables", "-w", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "2222", "-j", "REDIRECT", "--to-ports", "22"},
		{"iptables", "-w", "-t", "nat", "-A", "OUTPUT", "-d", "198.51.100.7", "-j", "RETURN"},
		{"iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-s", "192.0.2.0/24", "-j", "MASQUERADE"},
		{"ip6tables", "-w", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"},
	} {
		m.must(rule...)
	}
	before := firewall(m)

	// Install the package. Its dependencies (Debian's containerd, runc, iptables, CNI
	// plugins, ...) are in the root, built with them.
	data, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	inMachine := "/root/" + filepath.Base(deb)
	m.writeFile(inMachine, data, 0o644)
	p.step("dpkg -i %s", filepath.Base(deb))
	m.must("dpkg", "-i", inMachine)
	if st := m.ecsState(); st.Active != "inactive" {
		// A package may start its service; this test starts it itself, configured.
		p.step("the package started ecs (%s); stopping it to configure it", st)
		m.must("systemctl", "stop", "ecs")
	}
	m.writeFile("/etc/ecs/ecs.config", []byte(pl.agentConfig()), 0o600)

	// 1. READY only after registration.
	p.step("systemctl start ecs with the control plane out of reach")
	m.must("systemctl", "start", "--no-block", "ecs")
	m.waitJournal("registration failed; retrying")
	if st := m.ecsState(); st.Active != "activating" {
		t.Fatalf("ecs is %s while its registration fails; want activating (no READY before registration)", st)
	}
	if in, err := pl.instances(); err != nil || len(in) != 0 {
		t.Fatalf("the plane has instances %v (%v) before the machine could reach it", in, err)
	}
	p.step("ecs is activating and retrying registration; opening the way to the plane")
	m.forward(pl.addr)
	var st unitState
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st = m.ecsState()
		if st.Active == "active" {
			break
		}
		if st.Active != "activating" || time.Now().After(deadline) {
			t.Fatalf("ecs is %s, want activating then active; journal:\n%s", st, m.journal())
		}
		time.Sleep(100 * time.Millisecond)
	}
	in, err := pl.instances()
	if err != nil || len(in) != 1 {
		t.Fatalf("ecs is active but the plane has instances %v (%v)", in, err)
	}
	instanceARN := aws.ToString(in[0].ContainerInstanceArn)
	registered := aws.ToTime(in[0].RegisteredAt)
	activeAt := m.unitTimestamp("ecs", "ActiveEnterTimestamp")
	if registered.IsZero() || activeAt.Before(registered) {
		t.Errorf("systemd saw ecs active at %s, the plane registered the instance at %s: READY came before registration",
			activeAt.Format(time.RFC3339Nano), registered.Format(time.RFC3339Nano))
	}
	if !strings.Contains(st.Status, instanceARN) {
		t.Errorf("the unit's status text %q does not name the registered instance %s", st.Status, instanceARN)
	}
	p.step("ecs is active (%s) after registration (registered %s, active %s); status %q",
		st, registered.Format(time.StampMicro), activeAt.Format(time.StampMicro), st.Status)
	pl.waitConnected(m)
	p.step("the agent is connected to the plane (ACS)")

	// 2. A task from the control plane.
	ctx := context.Background()
	def, err := pl.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String("boot-web"),
		NetworkMode: types.NetworkModeBridge,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("web"), Image: aws.String(testenv.BusyboxImage()), Essential: aws.Bool(true), Memory: aws.Int32(64),
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080), Protocol: types.TransportProtocolTcp}},
			Command: []string{"sh", "-c", "mkdir -p /www && echo ecsd-boot-ok > /www/index.html && httpd -p 8080 -h /www && " +
				"trap 'exit 0' TERM; while true; do sleep 1; done"},
		}},
	})
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	run, err := pl.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String(pl.cluster), TaskDefinition: def.TaskDefinition.TaskDefinitionArn})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("RunTask: %v %+v", err, run)
	}
	taskARN := aws.ToString(run.Tasks[0].TaskArn)
	p.step("RunTask %s", taskARN)
	task := pl.waitTask(m, "the task RUNNING", taskARN, func(t types.Task) bool { return aws.ToString(t.LastStatus) == "RUNNING" })
	if len(task.Containers) != 1 || aws.ToString(task.Containers[0].RuntimeId) == "" || len(task.Containers[0].NetworkBindings) != 1 {
		t.Fatalf("running task's containers: %+v", task.Containers)
	}
	runtimeID := aws.ToString(task.Containers[0].RuntimeId)
	hostPort := aws.ToInt32(task.Containers[0].NetworkBindings[0].HostPort)
	page := m.get(fmt.Sprintf("http://127.0.0.1:%d/", hostPort))
	if strings.TrimSpace(page) != "ecsd-boot-ok" {
		t.Errorf("the task's published port %d answered %q", hostPort, page)
	}
	pid, started := m.containerProcess(runtimeID)
	p.step("the task runs: container %s, PID %d, port 8080 published on %d and answering", runtimeID, pid, hostPort)

	// 3. Restart: the task keeps running and the new agent adopts it.
	mainPID := st.MainPID
	p.step("systemctl restart ecs")
	m.must("systemctl", "restart", "ecs")
	st = m.ecsState()
	if st.Active != "active" || st.MainPID == mainPID || st.MainPID == 0 {
		t.Fatalf("after restart ecs is %s (main PID before %d)", st, mainPID)
	}
	if pid2, started2 := m.containerProcess(runtimeID); pid2 != pid || started2 != started {
		t.Errorf("the task's process changed across the restart: PID %d started %d, then PID %d started %d", pid, started, pid2, started2)
	}
	if in, err := pl.instances(); err != nil || len(in) != 1 || aws.ToString(in[0].ContainerInstanceArn) != instanceARN {
		t.Errorf("after restart the plane has instances %v (%v); want the one instance %s", in, err, instanceARN)
	}
	m.waitIntrospectionTask(taskARN, runtimeID)
	pl.waitConnected(m)
	task = pl.waitTask(m, "the task still RUNNING", taskARN, func(t types.Task) bool { return aws.ToString(t.LastStatus) == "RUNNING" })
	p.step("ecs restarted (main PID %d → %d); the task kept PID %d and the new agent reports it", mainPID, st.MainPID, pid)

	// 4. The watchdog: the agent notifies it, and a wedged agent is restarted by systemd.
	m.watchdog(pid, started, runtimeID)
	pl.waitConnected(m)

	if _, err := pl.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(pl.cluster), Task: aws.String(taskARN)}); err != nil {
		t.Fatalf("StopTask: %v", err)
	}
	task = pl.waitTask(m, "the task STOPPED", taskARN, func(t types.Task) bool { return aws.ToString(t.LastStatus) == "STOPPED" })
	if c := task.Containers; len(c) != 1 || c[0].ExitCode == nil || *c[0].ExitCode != 0 {
		t.Errorf("stopped task's containers %+v: want web exited 0 on SIGTERM", c)
	}
	if out := m.must("ctr", "-n", "ecs", "tasks", "ls"); strings.Contains(out, "RUNNING") {
		t.Errorf("containers still running after StopTask:\n%s", out)
	}
	p.step("StopTask: the adopted container stopped with exit code 0")

	// 5. Stop: iptables as before.
	p.step("systemctl stop ecs")
	m.must("systemctl", "stop", "ecs")
	if st := m.ecsState(); st.Active != "inactive" {
		t.Errorf("after stop ecs is %s", st)
	}
	after := firewall(m)
	if after != before {
		t.Errorf("iptables after `systemctl stop ecs` differ from before ecs started:\n%s--- before:\n%s--- after:\n%s",
			lineDiff(before, after), before, after)
	} else {
		p.step("iptables-save and ip6tables-save after stop are identical to before start (%d lines)", strings.Count(before, "\n"))
	}

	// 6. The journal.
	journal := m.journal()
	for _, want := range []string{"registration failed; retrying", "msg=registered ", "no task left: removed the host rules of tasks",
		"stopping; task containers keep running"} {
		if !strings.Contains(journal, want) {
			t.Errorf("journalctl -u ecs has no %q:\n%s", want, tail(journal, 6000))
		}
	}
	if n := strings.Count(journal, "msg=registered "); n < 2 {
		t.Errorf("journalctl -u ecs shows %d registrations, want one per start (2)", n)
	}
	var problems []string
	for _, line := range strings.Split(journal, "\n") {
		if strings.HasPrefix(line, "level=error") || strings.HasPrefix(line, "level=warn") {
			problems = append(problems, line)
		}
	}
	p.step("journalctl -u ecs holds the agent's log (%d lines, %d at warn or error level)%s",
		strings.Count(journal, "\n"), len(problems), strings.Join(append([]string{""}, problems...), "\n"))
}

// watchdogDropIn shortens the watchdog for the wedge check, and makes its signal SIGKILL:
// systemd's default, SIGABRT, stays pending on a stopped process until TimeoutAbortSec.
const watchdogDropIn = "/etc/systemd/system/ecs.service.d/boot-test-watchdog.conf"

// watchdog checks the unit's watchdog against the running agent: pings arrive (systemd's
// WatchdogTimestamp moves), and an agent frozen with SIGSTOP is killed by systemd after
// WatchdogSec and restarted (Restart=always), while the task's process (pid, started)
// keeps running and the new agent knows it.
func (m *machine) watchdog(pid int, started uint64, runtimeID string) {
	m.t.Helper()
	if v := strings.TrimSpace(m.must("systemctl", "show", "--value", "-p", "WatchdogUSec", "ecs")); v == "0" || v == "infinity" {
		m.t.Fatalf("the ecs unit has no watchdog (WatchdogUSec=%s)", v)
	}
	deadline := time.Now().Add(30 * time.Second)
	for strings.TrimSpace(m.must("systemctl", "show", "--value", "-p", "WatchdogTimestampMonotonic", "ecs")) == "0" {
		if time.Now().After(deadline) {
			m.t.Fatalf("systemd received no watchdog notification from the agent in 30 s; journal:\n%s", tail(m.journal(), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.p.step("the agent notifies systemd's watchdog (WatchdogSec=%s)",
		strings.TrimSpace(m.must("systemctl", "show", "--value", "-p", "WatchdogUSec", "ecs")))

	m.writeFile(watchdogDropIn, []byte("[Service]\nWatchdogSec=3s\nWatchdogSignal=SIGKILL\n"), 0o644)
	m.must("systemctl", "daemon-reload")
	m.must("systemctl", "restart", "ecs")
	frozen := m.ecsState().MainPID
	restarts := strings.TrimSpace(m.must("systemctl", "show", "--value", "-p", "NRestarts", "ecs"))
	m.must("systemctl", "kill", "--kill-who=main", "--signal=SIGSTOP", "ecs")
	m.p.step("agent (PID %d) frozen with SIGSTOP under a 3 s watchdog", frozen)
	deadline = time.Now().Add(2 * time.Minute)
	for {
		st := m.ecsState()
		if st.Active == "active" && st.MainPID != frozen && st.MainPID != 0 {
			break
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("systemd did not restart the frozen agent: %s, main PID %d; journal:\n%s", st, st.MainPID, tail(m.journal(), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if now := strings.TrimSpace(m.must("systemctl", "show", "--value", "-p", "NRestarts", "ecs")); now == restarts {
		m.t.Errorf("NRestarts is still %s after the watchdog fired", now)
	}
	if j := m.journal(); !strings.Contains(j, "Watchdog timeout") {
		m.t.Errorf("the journal does not show systemd's watchdog timeout:\n%s", tail(j, 4000))
	}
	if pid2, started2 := m.containerProcess(runtimeID); pid2 != pid || started2 != started {
		m.t.Errorf("the task's process changed when the watchdog restarted the agent: PID %d started %d, then PID %d started %d", pid, started, pid2, started2)
	}
	m.p.step("systemd killed the frozen agent (watchdog timeout) and restarted it (main PID %d); the task kept PID %d", m.ecsState().MainPID, pid)

	// Back to the packaged unit.
	if err := os.Remove(filepath.Join(m.merged, watchdogDropIn)); err != nil {
		m.t.Fatal(err)
	}
	m.must("systemctl", "daemon-reload")
	m.must("systemctl", "restart", "ecs")
}

// unitState is what `systemctl show` says of a unit.
type unitState struct {
	Active, Sub, Status string
	MainPID             int
}

func (s unitState) String() string { return s.Active + "/" + s.Sub }

// ecsState is the ecs unit's state as systemctl shows it.
func (m *machine) ecsState() unitState {
	m.t.Helper()
	out := m.must("systemctl", "show", "-p", "ActiveState", "-p", "SubState", "-p", "MainPID", "-p", "StatusText", "ecs")
	var s unitState
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "ActiveState":
			s.Active = v
		case "SubState":
			s.Sub = v
		case "StatusText":
			s.Status = v
		case "MainPID":
			s.MainPID, _ = strconv.Atoi(v)
		}
	}
	return s
}

// unitTimestamp reads one of a unit's timestamps with microseconds.
func (m *machine) unitTimestamp(unit, prop string) time.Time {
	m.t.Helper()
	v := strings.TrimSpace(m.must("systemctl", "show", "--timestamp=us+utc", "--value", "-p", prop, unit))
	ts, err := time.Parse("Mon 2006-01-02 15:04:05.000000 MST", v)
	if err != nil {
		m.t.Fatalf("%s of %s: %q: %v", prop, unit, v, err)
	}
	return ts
}

// journal is the agent's journal: everything the ecs unit logged.
func (m *machine) journal() string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, _ := m.exec(ctx, "journalctl", "-u", "ecs", "--no-pager", "-o", "cat")
	return out
}

// waitJournal waits until the ecs unit's journal has s.
func (m *machine) waitJournal(s string) {
	m.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		j := m.journal()
		if strings.Contains(j, s) {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("journalctl -u ecs never showed %q:\n%s", s, tail(j, 6000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// containerProcess is a running container's PID in the machine and its start time (in
// clock ticks since the machine's kernel booted: /proc/PID/stat's 22nd field), which
// together tell one process from a restarted one.
func (m *machine) containerProcess(id string) (pid int, started uint64) {
	m.t.Helper()
	out := m.must("ctr", "-n", "ecs", "tasks", "ls")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == id && f[2] == "RUNNING" {
			pid, _ = strconv.Atoi(f[1])
		}
	}
	if pid == 0 {
		m.t.Fatalf("container %s is not running in the machine's containerd:\n%s", id, out)
	}
	stat := m.must("cat", fmt.Sprintf("/proc/%d/stat", pid))
	fields := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	if len(fields) < 20 {
		m.t.Fatalf("/proc/%d/stat: %q", pid, stat)
	}
	started, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		m.t.Fatalf("/proc/%d/stat start time: %v", pid, err)
	}
	return pid, started
}

// get fetches url from inside the machine.
func (m *machine) get(url string) string {
	m.t.Helper()
	resp, err := m.httpClient().Get(url)
	if err != nil {
		m.t.Fatalf("GET %s in the machine: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != 200 {
		m.t.Fatalf("GET %s in the machine: %s %v", url, resp.Status, err)
	}
	return string(b)
}

// waitIntrospectionTask waits until the agent's introspection API (127.0.0.1:51678 in the
// machine) lists the task RUNNING with the container runtimeID: the agent knows it.
func (m *machine) waitIntrospectionTask(taskARN, runtimeID string) {
	m.t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last string
	for time.Now().Before(deadline) {
		resp, err := m.httpClient().Get("http://127.0.0.1:51678/v1/tasks")
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			last = string(b)
			var doc struct {
				Tasks []struct {
					Arn, KnownStatus string
					Containers       []struct{ DockerId string }
				}
			}
			if json.Unmarshal(b, &doc) == nil {
				for _, task := range doc.Tasks {
					if task.Arn == taskARN && task.KnownStatus == "RUNNING" && len(task.Containers) == 1 && task.Containers[0].DockerId == runtimeID {
						return
					}
				}
			}
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	m.t.Fatalf("introspection never listed task %s RUNNING with container %s; last answer: %s", taskARN, runtimeID, tail(last, 4000))
}

// counters are the packet and byte counters iptables-save prints for chains.
var counters = regexp.MustCompile(`\[[0-9]+:[0-9]+\]`)

// emptyBuiltin is a built-in chain's declaration with the default policy (counters zeroed).
var emptyBuiltin = regexp.MustCompile(`^:[A-Z]+ ACCEPT \[0:0\]$`)

// firewall is the machine's iptables-save and ip6tables-save output, without the two
// comment lines that carry the time and with the chains' traffic counters zeroed: what
// remains is every table, chain, policy and rule, in order. One thing more is left out: a
// table with nothing but its built-in chains at policy ACCEPT. iptables-nft creates such
// a table the first time a tool makes a chain in it (here the CNI teardown of the task's
// network does so in the IPv6 nat table, though the task had IPv4 only), and iptables has
// no command that removes a table; it filters nothing, exactly as the table's absence.
func firewall(m *machine) string {
	m.t.Helper()
	var b strings.Builder
	for _, cmd := range []string{"iptables-save", "ip6tables-save"} {
		fmt.Fprintf(&b, "### %s\n", cmd)
		var table []string
		for _, line := range strings.Split(m.must(cmd), "\n") {
			if strings.HasPrefix(line, "#") || line == "" {
				continue
			}
			line = counters.ReplaceAllString(line, "[0:0]")
			table = append(table, line)
			if line != "COMMIT" {
				continue
			}
			empty := true
			for _, l := range table[1 : len(table)-1] {
				empty = empty && emptyBuiltin.MatchString(l)
			}
			if !empty {
				b.WriteString(strings.Join(table, "\n") + "\n")
			}
			table = nil
		}
		if len(table) > 0 {
			b.WriteString(strings.Join(table, "\n") + "\n")
		}
	}
	return b.String()
}

// lineDiff lists the lines only in a (-) and only in b (+), in order.
func lineDiff(a, b string) string {
	count := func(s string) map[string]int {
		c := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			c[l]++
		}
		return c
	}
	ca, cb := count(a), count(b)
	var out strings.Builder
	for _, l := range strings.Split(a, "\n") {
		if cb[l] < ca[l] {
			fmt.Fprintf(&out, "- %s\n", l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if ca[l] < cb[l] {
			fmt.Fprintf(&out, "+ %s\n", l)
		}
	}
	if out.Len() == 0 {
		return "(same lines, different order)\n--- before\n" + a + "--- after\n" + b
	}
	return out.String()
}
