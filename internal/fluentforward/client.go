package fluentforward

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultPort is Fluentd's forward port.
const DefaultPort = 24224

// Address is where a forward receiver listens: Network "tcp" or "unix".
type Address struct {
	Network, Addr string
}

func (a Address) String() string {
	if a.Network == "unix" {
		return "unix://" + a.Addr
	}
	return "tcp://" + a.Addr
}

// ParseAddress parses a fluentd-address as Docker's fluentd driver takes it: empty
// (127.0.0.1:24224), host, host:port, tcp://host:port or unix:///path.
func ParseAddress(s string) (Address, error) {
	if s == "" {
		return Address{Network: "tcp", Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(DefaultPort))}, nil
	}
	if !strings.Contains(s, "://") {
		s = "tcp://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return Address{}, fmt.Errorf("fluentd-address %q: %w", s, err)
	}
	switch u.Scheme {
	case "unix":
		if u.Path == "" || u.Host != "" {
			return Address{}, fmt.Errorf("fluentd-address %q: want unix:///absolute/path", s)
		}
		return Address{Network: "unix", Addr: u.Path}, nil
	case "tcp":
		if u.Path != "" && u.Path != "/" {
			return Address{}, fmt.Errorf("fluentd-address %q: a tcp address has no path", s)
		}
		host, port := u.Hostname(), u.Port()
		if host == "" {
			host = "127.0.0.1"
		}
		if port == "" {
			port = strconv.Itoa(DefaultPort)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return Address{}, fmt.Errorf("fluentd-address %q: bad port %q", s, port)
		}
		return Address{Network: "tcp", Addr: net.JoinHostPort(host, port)}, nil
	default:
		return Address{}, fmt.Errorf("fluentd-address %q: scheme %q is not supported (tcp or unix)", s, u.Scheme)
	}
}

// Client sends events to one receiver over one connection, dialled when needed and
// dropped on any error. It is not safe for concurrent use.
type Client struct {
	Addr Address
	// SubSecond sends event times with nanoseconds (EventTime) instead of whole seconds.
	SubSecond bool
	// RequestAck asks the receiver to acknowledge every message (at-least-once delivery).
	RequestAck bool
	// Timeout bounds dialling and each write or acknowledgement (10 s when 0).
	Timeout time.Duration

	conn net.Conn
	rd   *bufio.Reader
	buf  []byte
}

// Send sends events under tag as one Forward mode message.
func (c *Client) Send(ctx context.Context, tag string, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if c.conn == nil {
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, c.Addr.Network, c.Addr.Addr)
		if err != nil {
			return fmt.Errorf("fluentd %s: %w", c.Addr, err)
		}
		c.conn, c.rd = conn, bufio.NewReaderSize(conn, 512)
	}
	chunk := ""
	if c.RequestAck {
		var id [16]byte
		_, _ = rand.Read(id[:])
		chunk = base64.StdEncoding.EncodeToString(id[:])
	}
	c.buf = AppendForward(c.buf[:0], tag, events, c.SubSecond, chunk)
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.conn.SetDeadline(deadline)
	if _, err := c.conn.Write(c.buf); err != nil {
		c.Close()
		return fmt.Errorf("fluentd %s: %w", c.Addr, err)
	}
	if len(c.buf) > 1<<20 {
		c.buf = nil // do not keep a large buffer
	}
	if chunk != "" {
		v, err := Decode(c.rd)
		if err != nil {
			c.Close()
			return fmt.Errorf("fluentd %s: reading the acknowledgement: %w", c.Addr, err)
		}
		m, _ := v.(map[string]any)
		if ack, _ := m["ack"].(string); ack != chunk {
			c.Close()
			return fmt.Errorf("fluentd %s: %w", c.Addr, errBadAck)
		}
	}
	return nil
}

var errBadAck = errors.New("the acknowledgement does not match the chunk sent")

// Close drops the connection.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn, c.rd = nil, nil
	return err
}
