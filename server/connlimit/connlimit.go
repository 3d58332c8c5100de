// Package connlimit bounds the connections an HTTP server holds open, in total and per
// source address, so that no client (a runaway script on the host, a hostile task) can
// exhaust the agent's file descriptors or memory, or starve other clients: a task's flood
// of connections to 169.254.170.2 meets its own bound long before it could crowd out the
// other tasks' metadata and credentials requests.
package connlimit

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// Listener wraps a listener with the bounds. A connection beyond either is answered with a
// short HTTP 503 and closed at once, so the client learns why instead of hanging in the
// accept queue.
type Listener struct {
	net.Listener
	total, perSource int

	mu       sync.Mutex
	open     int
	bySource map[string]int
	refused  uint64
}

// New bounds ln to total connections, and perSource from one source address.
func New(ln net.Listener, total, perSource int) *Listener {
	return &Listener{Listener: ln, total: total, perSource: perSource, bySource: map[string]int{}}
}

// refusalWriteTimeout bounds the write of the refusal to a client that does not read.
const refusalWriteTimeout = time.Second

// Accept returns the next connection within the bounds.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := source(c.RemoteAddr())
		l.mu.Lock()
		switch {
		case l.open >= l.total:
			l.refused++
			l.mu.Unlock()
			go refuse(c, fmt.Sprintf("too many connections to this agent endpoint (%d)", l.total))
			continue
		case l.bySource[src] >= l.perSource:
			l.refused++
			l.mu.Unlock()
			go refuse(c, fmt.Sprintf("too many connections from %s (%d)", src, l.perSource))
			continue
		}
		l.open++
		l.bySource[src]++
		l.mu.Unlock()
		return &conn{Conn: c, l: l, src: src}, nil
	}
}

// Stats returns the connections open now and how many were refused so far.
func (l *Listener) Stats() (open int, refused uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.refused
}

func (l *Listener) release(src string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.bySource[src]--; l.bySource[src] <= 0 {
		delete(l.bySource, src)
	}
}

// refuse answers with a 503 and closes c.
func refuse(c net.Conn, msg string) {
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(refusalWriteTimeout))
	body := msg + "; try again later\n"
	_, _ = fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// source is the address a connection came from, without its port.
func source(a net.Addr) string {
	s := a.String()
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return s
}

// conn gives its slot back when closed, once.
type conn struct {
	net.Conn
	l    *Listener
	src  string
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.src) })
	return err
}
