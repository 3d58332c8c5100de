package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// rsyslog is an rsyslogd (Debian's) the test runs, listening on loopback TCP and UDP
// ports and a Unix datagram socket of its own, and writing every message it gets to a
// file: the raw message, and the fields rsyslog parsed from it.
type rsyslog struct {
	tcp, udp, sock string
	out            string
}

// startRsyslog starts rsyslogd in the foreground with a configuration of its own (no
// system socket, no kernel log) and waits until it takes messages on all three inputs.
func startRsyslog(t *testing.T) *rsyslog {
	t.Helper()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		t.Skip("rsyslogd is not installed (hack/install-deps.sh installs Debian's rsyslog)")
	}
	dir := t.TempDir()
	r := &rsyslog{tcp: closedAddr(t), sock: filepath.Join(dir, "log.sock"), out: filepath.Join(dir, "messages")}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.udp = pc.LocalAddr().String()
	pc.Close()
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
	conf := fmt.Sprintf(`global(workDirectory=%[1]q)
module(load="imtcp")
module(load="imudp")
module(load="imuxsock" SysSock.Use="off")
input(type="imtcp" address="127.0.0.1" port=%[2]q)
input(type="imudp" address="127.0.0.1" port=%[3]q)
input(type="imuxsock" Socket=%[4]q RateLimit.Interval="0" UseSysTimeStamp="off" IgnoreOwnMessages="off")
template(name="fields" type="string" string="%%inputname%%|%%syslogfacility-text%%|%%syslogseverity-text%%|%%app-name%%|%%procid%%|%%msgid%%|%%msg%%|%%rawmsg%%\n")
*.* action(type="omfile" file=%[5]q template="fields" flushOnTXEnd="on" asyncWriting="off")
`, dir, port(r.tcp), port(r.udp), r.sock, r.out)
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid"))
	logf, err := os.Create(filepath.Join(dir, "rsyslogd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("rsyslogd output:\n%s", b)
		}
	})
	// Probe every input until rsyslog has written what each got.
	deadline := time.Now().Add(30 * time.Second)
	for _, in := range []struct{ network, addr string }{{"tcp", r.tcp}, {"udp", r.udp}, {"unixgram", r.sock}} {
		probe := "probe-" + in.network
		for !strings.Contains(r.read(), probe) {
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(logf.Name())
				t.Fatalf("rsyslogd does not take messages on %s %s:\n%s", in.network, in.addr, b)
			}
			if c, err := net.Dial(in.network, in.addr); err == nil {
				_, _ = fmt.Fprintf(c, "<14>Jan  1 00:00:00 host probe: %s\n", probe)
				c.Close()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return r
}

// read is what rsyslog wrote so far.
func (r *rsyslog) read() string {
	b, _ := os.ReadFile(r.out)
	return string(b)
}

// lines are the lines rsyslog wrote for messages of app (the tag).
func (r *rsyslog) lines(app string) [][]string {
	var out [][]string
	for _, l := range strings.Split(r.read(), "\n") {
		f := strings.SplitN(l, "|", 8)
		if len(f) == 8 && f[3] == app {
			out = append(out, f)
		}
	}
	return out
}

// TestSyslogLogDriver: containers' lines reach Debian's rsyslogd over TCP in RFC 5424,
// over UDP in RFC 3164 and over a Unix datagram socket (what /dev/log is) in Docker's
// default format, each
// line one message that rsyslog parses with the tag as its app name, facility as set,
// stdout at severity info and stderr at err, in order.
func TestSyslogLogDriver(t *testing.T) {
	t.Parallel()
	rs := startRsyslog(t)
	h := shipHost(t)
	h.addLogDriverTask("sltcp", "syslog", linesScript("tcp", 200), map[string]string{
		"syslog-address": "tcp://" + rs.tcp, "syslog-format": "rfc5424", "tag": "web-tcp", "syslog-facility": "local3",
	})
	h.addLogDriverTask("sludp", "syslog", linesScript("udp", 50), map[string]string{
		"syslog-address": "udp://" + rs.udp, "syslog-format": "rfc3164", "tag": "web-udp",
	})
	h.addLogDriverTask("slunix", "syslog", linesScript("unix", 50), map[string]string{
		"syslog-address": "unixgram://" + rs.sock,
	})
	h.start()

	objects := newObjectClient(h)
	var unixCtr api.Container
	waitUntil(t, h, "slunix running", time.Minute, func() bool {
		unixCtr = api.Container{}
		return objects.get(t, "/containers/slunix-main", &unixCtr) && unixCtr.Status.KnownStatus == api.ContainerStatusRunning
	})
	for _, tc := range []struct {
		app, prefix, input, facility string
		n                            int
		raw                          *regexp.Regexp
	}{
		{"web-tcp", "tcp", "imtcp", "local3", 200,
			regexp.MustCompile(`^<15[58]>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d) \S+ web-tcp \d+ web-tcp - tcp (\d+|err)$`)},
		{"web-udp", "udp", "imudp", "daemon", 50,
			regexp.MustCompile(`^<(30|27)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ web-udp\[\d+\]: udp (\d+|err)$`)},
		{unixCtr.Status.RuntimeID[:12], "unix", "imuxsock", "daemon", 50,
			regexp.MustCompile(`^<(30|27)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ` + unixCtr.Status.RuntimeID[:12] + `\[\d+\]: unix (\d+|err)$`)},
	} {
		var got [][]string
		waitUntil(t, h, fmt.Sprintf("%d messages of %s in rsyslog", tc.n+1, tc.app), time.Minute, func() bool {
			got = rs.lines(tc.app)
			return len(got) >= tc.n+1
		}, func() string {
			return fmt.Sprintf("%d lines of %s; rsyslog wrote:\n%s", len(got), tc.app, tail([]byte(rs.read()), 2000))
		})
		var out []string
		for _, f := range got {
			input, facility, severity, msg, raw := f[0], f[1], f[2], f[6], f[7]
			if input != tc.input || facility != tc.facility {
				t.Fatalf("%s: input %s facility %s, want %s %s", tc.app, input, facility, tc.input, tc.facility)
			}
			if !tc.raw.MatchString(strings.TrimRight(raw, "\n")) {
				t.Fatalf("%s: raw message %q does not match %s", tc.app, raw, tc.raw)
			}
			msg = strings.TrimSpace(msg)
			if msg == tc.prefix+" err" {
				if severity != "err" {
					t.Errorf("%s: stderr at severity %s", tc.app, severity)
				}
				continue
			}
			if severity != "info" {
				t.Errorf("%s: stdout at severity %s", tc.app, severity)
			}
			out = append(out, msg)
		}
		if len(out) != tc.n {
			t.Fatalf("%s: %d stdout messages, want %d", tc.app, len(out), tc.n)
		}
		for i, m := range out {
			if m != fmt.Sprintf("%s %d", tc.prefix, i+1) {
				t.Fatalf("%s: message %d = %q: lost, repeated or out of order", tc.app, i, m)
			}
		}
	}
}

// TestSyslogLogDriverReceiverDown: with the syslog receiver down (TCP, nothing listening)
// the container starts, runs and goes on writing; its lines are dropped and counted on
// the Container object with the cause; once rsyslogd listens there, shipping resumes.
func TestSyslogLogDriverReceiverDown(t *testing.T) {
	t.Parallel()
	addr := closedAddr(t)
	h := shipHost(t)
	h.addLogDriverTask("sldown", "syslog", floodScript, map[string]string{
		"syslog-address": "tcp://" + addr, "tag": "down", "max-buffer-size": "64k",
	})
	h.start()
	ctr := waitShipDrops(t, h, "sldown-main")
	waitWritesOn(t, h, ctr)

	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s again: %v", addr, err)
	}
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b := make([]byte, 4096)
		n, _ := c.Read(b)
		got <- string(b[:n])
	}()
	t.Cleanup(func() { l.Close() })
	select {
	case m := <-got:
		if !strings.Contains(m, " down[") || !strings.Contains(m, "round ") {
			t.Errorf("first bytes after the receiver came up: %q", m)
		}
	case <-time.After(time.Minute):
		t.Fatal("no message once the receiver is up")
	}
	waitShipped(t, h, "sldown")
}
