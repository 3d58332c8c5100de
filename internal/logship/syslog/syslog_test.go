package syslog

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/containerlog"
	"github.com/ecsd/ecsd/internal/logship"
)

func TestFormats(t *testing.T) {
	at := time.Date(2026, 3, 5, 7, 8, 9, 123456789, time.UTC)
	out := logship.Message{Time: at, Stream: containerlog.Stdout, Line: []byte("hello world")}
	errm := logship.Message{Time: at, Stream: containerlog.Stderr, Line: []byte("oops")}
	for _, tc := range []struct {
		f    Formatter
		m    logship.Message
		want string
	}{
		// daemon (3) * 8 + info (6) = 30; err (3) = 27.
		{Formatter{Format: FormatDefault, Facility: DefaultFacility, Hostname: "h", Tag: "abc", PID: 42}, out,
			"<30>Mar  5 07:08:09 abc[42]: hello world\n"},
		{Formatter{Format: FormatRFC3164, Facility: DefaultFacility, Hostname: "h", Tag: "abc", PID: 42}, errm,
			"<27>Mar  5 07:08:09 h abc[42]: oops\n"},
		// local3 (19) * 8 + 6 = 158.
		{Formatter{Format: FormatRFC5424, Facility: 19, Hostname: "host-1", Tag: "web", PID: 7}, out,
			"<158>1 2026-03-05T07:08:09Z host-1 web 7 web - hello world\n"},
		{Formatter{Format: FormatRFC5424Micro, Facility: 0, Hostname: "h", Tag: "web", PID: 7}, errm,
			"<3>1 2026-03-05T07:08:09.123456Z h web 7 web - oops\n"},
		// Header fields: no spaces, "-" when empty, at most 48 bytes of APP-NAME and 32 of MSGID.
		{Formatter{Format: FormatRFC5424, Facility: 1, Tag: "a b" + string(make([]byte, 60)), PID: 1}, out,
			"<14>1 2026-03-05T07:08:09Z - a_b_____________________________________________ 1 a_b_____________________________ - hello world\n"},
	} {
		if got := string(tc.f.Append(nil, tc.m)); got != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.f.Format, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Address{
		"":                    {"unixgram", "/dev/log"},
		"udp://10.0.0.1":      {"udp", "10.0.0.1:514"},
		"tcp://logs:601":      {"tcp", "logs:601"},
		"unix:///run/x.sock":  {"unix", "/run/x.sock"},
		"unixgram:///dev/log": {"unixgram", "/dev/log"},
		"udp://[::1]:5514":    {"udp", "[::1]:5514"},
	} {
		if got, err := ParseAddress(in); err != nil || got != want {
			t.Errorf("ParseAddress(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"tcp+tls://h:6514", "http://h", "tcp://:514", "unix://rel", "udp://h:0", "10.0.0.1:514"} {
		if got, err := ParseAddress(in); err == nil {
			t.Errorf("ParseAddress(%q) = %v, want an error", in, got)
		}
	}
	for in, want := range map[string]int{"": 3, "daemon": 3, "local7": 23, "kern": 0, "12": 12} {
		if got, err := ParseFacility(in); err != nil || got != want {
			t.Errorf("ParseFacility(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"local8", "24", "-1", "Daemon"} {
		if _, err := ParseFacility(in); err == nil {
			t.Errorf("ParseFacility(%q): no error", in)
		}
	}
	if _, err := ParseFormat("rfc5425"); err == nil {
		t.Error("ParseFormat(rfc5425): no error")
	}
}

// A batch goes over TCP as one message per line, and over a Unix datagram socket as one
// datagram per message.
func TestSender(t *testing.T) {
	ctx := context.Background()
	batch := []logship.Message{{Time: time.Now(), Line: []byte("one")}, {Time: time.Now(), Stream: containerlog.Stderr, Line: []byte("two")}}
	f := Formatter{Format: FormatRFC3164, Facility: 3, Hostname: "h", Tag: "t", PID: 1}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lines := make(chan string, 2)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	s := &Sender{Addr: Address{"tcp", l.Addr().String()}, Format: f}
	if err := s.Send(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for i := range batch {
		want := strings.TrimSuffix(string(f.Append(nil, batch[i])), "\n")
		if got := <-lines; got != want {
			t.Errorf("tcp line %d = %q, want %q", i, got, want)
		}
	}
	_ = s.Close()

	sock := filepath.Join(t.TempDir(), "log.sock")
	pc, err := net.ListenPacket("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s = &Sender{Addr: Address{"unixgram", sock}, Format: f}
	if err := s.Send(ctx, batch); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	for i := range batch {
		_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if wantB := f.Append(nil, batch[i]); string(buf[:n]) != string(wantB) {
			t.Errorf("datagram %d = %q, want %q", i, buf[:n], wantB)
		}
	}
	_ = s.Close()

	// Nothing listening: an error, and the next send dials again.
	s = &Sender{Addr: Address{"unix", filepath.Join(t.TempDir(), "none.sock")}, Format: f}
	if err := s.Send(ctx, batch); err == nil {
		t.Error("send to nothing: no error")
	}
}
