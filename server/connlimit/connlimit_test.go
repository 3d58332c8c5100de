package connlimit

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBoundsAndRefusal(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(raw, 3, 2)
	defer l.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func(local string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		c, err := d.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// readRefusal expects the 503 on c.
	readRefusal := func(c net.Conn, want string) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no refusal: %v", err)
		}
		b := make([]byte, 200)
		n, _ := resp.Body.Read(b)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b[:n]), want) {
			t.Fatalf("refusal %d %q, want 503 with %q", resp.StatusCode, b[:n], want)
		}
	}
	a1, a2 := dial("127.0.0.1"), dial("127.0.0.1")
	_, _ = a1, a2
	<-accepted
	second := <-accepted
	readRefusal(dial("127.0.0.1"), "from 127.0.0.1 (2)")
	dial("127.0.0.2")
	<-accepted
	readRefusal(dial("127.0.0.3"), "too many connections to this agent endpoint (3)")
	if open, refused := l.Stats(); open != 3 || refused != 2 {
		t.Fatalf("stats: %d open, %d refused", open, refused)
	}
	// Closing one gives its slot back.
	second.Close()
	second.Close()
	dial("127.0.0.1")
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("a freed slot was not reused")
	}
}
