// Package syslog is the syslog log driver of ecsd-logger-ship: it formats a container's
// lines as syslog messages the way Docker's syslog driver does (its default format,
// rfc3164, rfc5424 and rfc5424micro; stdout at severity info, stderr at err) and sends
// them over UDP, TCP or a Unix socket (stream or datagram), one line per message.
package syslog

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ecsd/ecsd/internal/containerlog"
	"github.com/ecsd/ecsd/internal/logship"
)

// Formats (syslog-format).
const (
	FormatDefault      = ""
	FormatRFC3164      = "rfc3164"
	FormatRFC5424      = "rfc5424"
	FormatRFC5424Micro = "rfc5424micro"
)

// Severities ecsd uses.
const (
	severityErr  = 3
	severityInfo = 6
)

// DefaultFacility is Docker's: daemon.
const DefaultFacility = 3

// facilities are syslog's facility names.
func facilities() map[string]int {
	return map[string]int{
		"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
		"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
		"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
	}
}

// ParseFacility parses syslog-facility: a name (daemon, local0, ...) or a number 0 to 23.
func ParseFacility(s string) (int, error) {
	if s == "" {
		return DefaultFacility, nil
	}
	if f, ok := facilities()[s]; ok {
		return f, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 23 {
		return n, nil
	}
	return 0, fmt.Errorf("syslog-facility %q: want a facility name (kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, local0 to local7) or 0 to 23", s)
}

// ParseFormat checks syslog-format.
func ParseFormat(s string) (string, error) {
	switch s {
	case FormatDefault, FormatRFC3164, FormatRFC5424, FormatRFC5424Micro:
		return s, nil
	}
	return "", fmt.Errorf("syslog-format %q: want rfc3164, rfc5424 or rfc5424micro", s)
}

// Address is where the receiver listens: Network udp, tcp, unix or unixgram.
type Address struct {
	Network, Addr string
}

func (a Address) String() string { return a.Network + "://" + a.Addr }

// DefaultPort is syslog's port.
const DefaultPort = 514

// ParseAddress parses syslog-address as Docker does: [udp|tcp]://host[:port] or
// [unix|unixgram]:///path; empty is the host's /dev/log. TLS (tcp+tls) is not supported.
func ParseAddress(s string) (Address, error) {
	if s == "" {
		return Address{Network: "unixgram", Addr: "/dev/log"}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return Address{}, fmt.Errorf("syslog-address %q: %w", s, err)
	}
	switch u.Scheme {
	case "unix", "unixgram":
		if u.Path == "" || u.Host != "" {
			return Address{}, fmt.Errorf("syslog-address %q: want %s:///absolute/path", s, u.Scheme)
		}
		return Address{Network: u.Scheme, Addr: u.Path}, nil
	case "udp", "tcp":
		if u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
			return Address{}, fmt.Errorf("syslog-address %q: want %s://host:port", s, u.Scheme)
		}
		port := u.Port()
		if port == "" {
			port = strconv.Itoa(DefaultPort)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return Address{}, fmt.Errorf("syslog-address %q: bad port %q", s, port)
		}
		return Address{Network: u.Scheme, Addr: net.JoinHostPort(u.Hostname(), port)}, nil
	case "tcp+tls":
		return Address{}, fmt.Errorf("syslog-address %q: tcp+tls is not supported by ecsd (udp, tcp, unix, unixgram)", s)
	default:
		return Address{}, fmt.Errorf("syslog-address %q: scheme %q is not supported (udp, tcp, unix, unixgram)", s, u.Scheme)
	}
}

// Formatter formats messages.
type Formatter struct {
	Format   string
	Facility int
	Hostname string
	Tag      string
	PID      int
}

// Append appends m formatted, ending in a line end.
func (f Formatter) Append(b []byte, m logship.Message) []byte {
	sev := severityInfo
	if m.Stream == containerlog.Stderr {
		sev = severityErr
	}
	pri := f.Facility<<3 | sev
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(pri), 10)
	b = append(b, '>')
	t := m.Time
	switch f.Format {
	case FormatRFC5424, FormatRFC5424Micro:
		// <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG, the tag as APP-NAME and
		// MSGID as Docker has it.
		layout := time.RFC3339
		if f.Format == FormatRFC5424Micro {
			layout = "2006-01-02T15:04:05.000000Z07:00"
		}
		b = append(b, "1 "...)
		b = t.AppendFormat(b, layout)
		b = append(b, ' ')
		b = append(b, field(f.Hostname, 255)...)
		b = append(b, ' ')
		b = append(b, field(f.Tag, 48)...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(f.PID), 10)
		b = append(b, ' ')
		b = append(b, field(f.Tag, 32)...)
		b = append(b, " - "...)
	case FormatRFC3164:
		// <PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG
		b = t.AppendFormat(b, time.Stamp)
		b = append(b, ' ')
		b = append(b, field(f.Hostname, 255)...)
		b = append(b, ' ')
		b = append(b, f.Tag...)
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(f.PID), 10)
		b = append(b, "]: "...)
	default:
		// Docker's default (Unix) format: <PRI>Mmm dd hh:mm:ss TAG[PID]: MSG
		b = t.AppendFormat(b, time.Stamp)
		b = append(b, ' ')
		b = append(b, f.Tag...)
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(f.PID), 10)
		b = append(b, "]: "...)
	}
	b = append(b, m.Line...)
	return append(b, '\n')
}

// field is s as an RFC 5424 header field: printable ASCII without spaces, at most n
// bytes, "-" when empty.
func field(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' {
			return '_'
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n]
	}
	if s == "" {
		return "-"
	}
	return s
}

// Sender is a logship.Sender to one syslog receiver.
type Sender struct {
	Addr   Address
	Format Formatter
	// Timeout bounds dialling and each write (10 s when 0).
	Timeout time.Duration

	conn net.Conn
	buf  []byte
}

// Send implements logship.Sender. Over a datagram transport each message is one
// datagram; over a stream they are written one after the other, each ending in a line end.
func (s *Sender) Send(ctx context.Context, batch []logship.Message) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if s.conn == nil {
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, s.Addr.Network, s.Addr.Addr)
		if err != nil {
			return fmt.Errorf("syslog %s: %w", s.Addr, err)
		}
		s.conn = conn
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = s.conn.SetWriteDeadline(deadline)
	datagram := s.Addr.Network == "udp" || s.Addr.Network == "unixgram"
	s.buf = s.buf[:0]
	for _, m := range batch {
		s.buf = s.Format.Append(s.buf, m)
		if !datagram {
			continue
		}
		if _, err := s.conn.Write(s.buf); err != nil {
			_ = s.Close()
			return fmt.Errorf("syslog %s: %w", s.Addr, err)
		}
		s.buf = s.buf[:0]
	}
	if !datagram {
		if _, err := s.conn.Write(s.buf); err != nil {
			_ = s.Close()
			return fmt.Errorf("syslog %s: %w", s.Addr, err)
		}
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil
	}
	return nil
}

// Close implements logship.Sender.
func (s *Sender) Close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
