package fluentforward

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// The bytes of a Forward mode message, checked by hand against the MessagePack spec.
func TestAppendForwardBytes(t *testing.T) {
	at := time.Unix(0x5f000001, 0x0a)
	got := AppendForward(nil, "t", []Event{{Time: at, Record: map[string]string{"log": "hi", "a": ""}}}, false, "")
	want := "92" + // array of 2: tag, entries
		"a174" + // "t"
		"91" + "92" + // one entry [time, record]
		"ce5f000001" + // uint32 seconds
		"82" + "a161" + "a0" + "a36c6f67" + "a26869" // {"a": "", "log": "hi"}, keys sorted
	if hex.EncodeToString(got) != want {
		t.Errorf("got  %x\nwant %s", got, want)
	}
	// Sub-second precision: EventTime, fixext8 of type 0.
	got = AppendForward(nil, "t", []Event{{Time: at, Record: map[string]string{}}}, true, "c1")
	want = "93" + "a174" + "91" + "92" + "d700" + "5f000001" + "0000000a" + "80" + "81" + "a56368756e6b" + "a26331"
	if hex.EncodeToString(got) != want {
		t.Errorf("event time: got  %x\nwant %s", got, want)
	}
}

// Strings and arrays of every length class survive a round trip through the decoder.
func TestRoundTrip(t *testing.T) {
	var events []Event
	for _, n := range []int{0, 31, 32, 255, 256, 65535, 65536} {
		events = append(events, Event{Time: time.Unix(1700000000, 123456789), Record: map[string]string{"log": strings.Repeat("x", n), "source": "stdout"}})
	}
	for len(events) < 70000 { // an array16 and then an array32 of entries
		events = append(events, Event{Time: time.Unix(1700000000, 0), Record: map[string]string{"log": "y"}})
	}
	for _, sub := range []bool{false, true} {
		b := AppendForward(nil, "app.tag", events, sub, "abc")
		got, chunk, err := ReadMessage(bufio.NewReader(bytes.NewReader(b)))
		if err != nil || chunk != "abc" || len(got) != len(events) {
			t.Fatalf("sub %v: %d events, chunk %q, %v", sub, len(got), chunk, err)
		}
		for i, e := range got {
			want := events[i].Time
			if !sub {
				want = want.Truncate(time.Second)
			}
			if e.Tag != "app.tag" || !e.Time.Equal(want) || !reflect.DeepEqual(e.Record, events[i].Record) {
				t.Fatalf("sub %v: event %d = %+v", sub, i, e)
			}
		}
	}
}

// Message mode ([tag, time, record]) as other clients send it is read too.
func TestReadMessageMode(t *testing.T) {
	b := appendArrayHeader(nil, 3)
	b = appendString(b, "tag")
	b = append(b, 0x01) // positive fixint time
	b = appendMapHeader(b, 1)
	b = appendString(b, "k")
	b = appendString(b, "v")
	got, _, err := ReadMessage(bufio.NewReader(bytes.NewReader(b)))
	if err != nil || len(got) != 1 || got[0].Record["k"] != "v" || got[0].Time.Unix() != 1 {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestDecodeBounds(t *testing.T) {
	for name, in := range map[string][]byte{
		"huge str":  {0xdb, 0xff, 0xff, 0xff, 0xff},
		"huge map":  {0xdf, 0xff, 0xff, 0xff, 0xff},
		"truncated": {0x92, 0xa1},
		"deep":      bytes.Repeat([]byte{0x91}, 100),
	} {
		if _, err := Decode(bufio.NewReader(bytes.NewReader(in))); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]Address{
		"":                    {"tcp", "127.0.0.1:24224"},
		"fluentd":             {"tcp", "fluentd:24224"},
		"10.0.0.1:24225":      {"tcp", "10.0.0.1:24225"},
		"tcp://10.0.0.1:1":    {"tcp", "10.0.0.1:1"},
		"unix:///run/fw.sock": {"unix", "/run/fw.sock"},
	} {
		if got, err := ParseAddress(in); err != nil || got != want {
			t.Errorf("ParseAddress(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"udp://h:1", "tcp://h:99999", "unix://relative", "tcp://h:1/path"} {
		if got, err := ParseAddress(in); err == nil {
			t.Errorf("ParseAddress(%q) = %v, want an error", in, got)
		}
	}
}

// A client sends to Serve, with and without acknowledgements, and reconnects after the
// receiver dropped its connection.
func TestClientServe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []Received
	done := make(chan error, 1)
	go func() {
		done <- Serve(l, func(r []Received) {
			mu.Lock()
			got = append(got, r...)
			mu.Unlock()
		})
	}()
	c := &Client{Addr: Address{"tcp", l.Addr().String()}, RequestAck: true, Timeout: 5 * time.Second}
	ctx := context.Background()
	for i := range 3 {
		if err := c.Send(ctx, "t", []Event{{Time: time.Now(), Record: map[string]string{"n": string(rune('a' + i))}}}); err != nil {
			t.Fatal(err)
		}
		_ = c.Close() // the next send dials again
	}
	c.RequestAck = false
	if err := c.Send(ctx, "t", []Event{{Time: time.Now(), Record: map[string]string{"n": "d"}}}); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events received, want 4", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Nothing listens now: the error says where.
	if err := c.Send(ctx, "t", []Event{{Time: time.Now(), Record: map[string]string{}}}); err == nil || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("send to a closed receiver: %v", err)
	}
}
