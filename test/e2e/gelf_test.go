package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/logship/gelf"
	"github.com/ecsd/ecsd/internal/testenv"
)

// gelfReceiver collects the GELF messages a UDP socket (chunked, compressed) and a TCP
// listener (NUL-delimited) the test owns receive.
type gelfReceiver struct {
	mu   sync.Mutex
	msgs []map[string]any
}

func (r *gelfReceiver) add(m map[string]any) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
}

// tagged returns the messages whose _tag is tag.
func (r *gelfReceiver) tagged(tag string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, m := range r.msgs {
		if m["_tag"] == tag {
			out = append(out, m)
		}
	}
	return out
}

func (r *gelfReceiver) serveUDP(t *testing.T, pc net.PacketConn) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var asm gelf.Reassembler
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if m, err := asm.Add(buf[:n]); err == nil && m != nil {
				r.add(m)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
}

func (r *gelfReceiver) serveTCP(t *testing.T, l net.Listener) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			} else if err != nil {
				continue
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				sc := bufio.NewScanner(c)
				sc.Buffer(make([]byte, 64<<10), 1<<20)
				sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
					if i := bytes.IndexByte(data, 0); i >= 0 {
						return i + 1, data[:i], nil
					}
					return 0, nil, nil
				})
				for sc.Scan() {
					if m, err := gelf.Decode(sc.Bytes()); err == nil {
						r.add(m)
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		// A logger may still hold its connection open: close it here.
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// TestGELFLogDriver: containers' lines reach a GELF receiver the test owns over UDP (gzip,
// a 6,000-byte line split into GELF chunks) and TCP, in order, with Docker's fields.
func TestGELFLogDriver(t *testing.T) {
	t.Parallel()
	var recv gelfReceiver
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	recv.serveUDP(t, pc)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	recv.serveTCP(t, l)

	h := shipHost(t)
	long := strings.Repeat("y", 6000)
	h.addLogDriverTask("gelfudp", "gelf", fmt.Sprintf(`echo %s; `, long)+linesScript("udp", 100), map[string]string{
		"gelf-address": "udp://" + pc.LocalAddr().String(), "tag": "g-udp", "gelf-compression-type": "gzip",
	})
	h.addLogDriverTask("gelftcp", "gelf", linesScript("tcp", 100), map[string]string{
		"gelf-address": "tcp://" + l.Addr().String(), "tag": "g-tcp",
	})
	h.start()
	objects := newObjectClient(h)
	for _, tc := range []struct{ task, tag, prefix string }{{"gelfudp", "g-udp", "udp"}, {"gelftcp", "g-tcp", "tcp"}} {
		var c api.Container
		waitUntil(t, h, tc.task+" running", time.Minute, func() bool {
			c = api.Container{}
			return objects.get(t, "/containers/"+tc.task+"-main", &c) && c.Status.KnownStatus == api.ContainerStatusRunning
		})
		want := 101
		if tc.task == "gelfudp" {
			want = 102
		}
		var got []map[string]any
		waitUntil(t, h, fmt.Sprintf("%d messages tagged %s", want, tc.tag), time.Minute, func() bool {
			got = recv.tagged(tc.tag)
			return len(got) >= want
		}, func() string { return fmt.Sprintf("%d messages", len(got)) })
		if len(got) != want {
			t.Fatalf("%s: %d messages, want %d", tc.task, len(got), want)
		}
		var out []string
		for _, m := range got {
			if m["version"] != "1.1" || m["_container_id"] != c.Status.RuntimeID || m["_image_name"] != testenv.BusyboxImage() ||
				!strings.HasPrefix(fmt.Sprint(m["_container_name"]), "ecs-e2e-1-main-") {
				t.Fatalf("%s: message fields %v", tc.task, m)
			}
			msg, level := fmt.Sprint(m["short_message"]), m["level"]
			if msg == tc.prefix+" err" {
				if level != float64(3) {
					t.Errorf("%s: stderr at level %v", tc.task, level)
				}
				continue
			}
			if level != float64(6) {
				t.Errorf("%s: stdout at level %v", tc.task, level)
			}
			out = append(out, msg)
		}
		if tc.task == "gelfudp" {
			if out[0] != long {
				t.Errorf("the 6,000-byte line came as %d bytes", len(out[0]))
			}
			out = out[1:]
		}
		for i, m := range out {
			if m != fmt.Sprintf("%s %d", tc.prefix, i+1) {
				t.Fatalf("%s: message %d = %q: lost, repeated or out of order", tc.task, i, m)
			}
		}
	}
}

// TestGELFLogDriverReceiverDown: with the GELF receiver down (TCP, nothing listening) the
// container runs and goes on writing, its lines dropped and counted on the Container;
// once a receiver listens there, messages arrive again.
func TestGELFLogDriverReceiverDown(t *testing.T) {
	t.Parallel()
	addr := closedAddr(t)
	h := shipHost(t)
	h.addLogDriverTask("gelfdown", "gelf", floodScript, map[string]string{
		"gelf-address": "tcp://" + addr, "tag": "gdown", "max-buffer-size": "64k", "gelf-tcp-reconnect-delay": "1",
	})
	h.start()
	ctr := waitShipDrops(t, h, "gelfdown-main")
	waitWritesOn(t, h, ctr)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s again: %v", addr, err)
	}
	var recv gelfReceiver
	recv.serveTCP(t, l)
	waitUntil(t, h, "messages once the receiver is up", time.Minute, func() bool { return len(recv.tagged("gdown")) > 100 })
	waitShipped(t, h, "gelfdown")
}
