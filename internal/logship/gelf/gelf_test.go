package gelf

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/containerlog"
	"github.com/ecsd/ecsd/internal/logship"
)

func TestMessage(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678_900_000, time.UTC)
	b, err := Message(logship.Message{Time: at, Stream: containerlog.Stderr, Line: []byte("boom"), Partial: true},
		Fields{Host: "h", Tag: "t", ContainerID: "cid", ContainerName: "ecs-x", ImageID: "sha256:1", ImageName: "busybox"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_container_id":"cid","_container_name":"ecs-x","_image_id":"sha256:1","_image_name":"busybox","_partial_message":true,"_tag":"t","host":"h","level":3,"short_message":"boom","timestamp":1767323045.6789,"version":"1.1"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

// A payload larger than a datagram goes in chunks with GELF's header, and the
// reassembler, given them in any order, returns the message.
func TestChunksRoundTrip(t *testing.T) {
	line := strings.Repeat("0123456789", 1600) // 16,000 bytes: 12 chunks uncompressed
	b, _ := Message(logship.Message{Time: time.Now(), Line: []byte(line)}, Fields{Tag: "t"})
	for _, typ := range []string{CompressNone, CompressGzip, CompressZlib} {
		payload, err := compress(b, typ, 1)
		if err != nil {
			t.Fatal(err)
		}
		id := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
		chunks, err := Chunks(payload, ChunkSize, id)
		if err != nil {
			t.Fatal(err)
		}
		if typ == CompressNone && len(chunks) != (len(payload)+ChunkSize-chunkHead-1)/(ChunkSize-chunkHead) {
			t.Errorf("%d chunks for %d bytes", len(chunks), len(payload))
		}
		for i, c := range chunks {
			if len(chunks) > 1 && (len(c) > ChunkSize || !bytes.Equal(c[:12], append([]byte{0x1e, 0x0f, 1, 2, 3, 4, 5, 6, 7, 8}, byte(i), byte(len(chunks))))) {
				t.Fatalf("%s: chunk %d header % x, %d bytes", typ, i, c[:12], len(c))
			}
		}
		var r Reassembler
		var got map[string]any
		for i := len(chunks) - 1; i >= 0; i-- { // reversed
			m, err := r.Add(chunks[i])
			if err != nil {
				t.Fatal(err)
			}
			if m != nil {
				got = m
			}
		}
		if got == nil || got["short_message"] != line || got["_tag"] != "t" || got["level"] != float64(6) {
			t.Errorf("%s: reassembled %.100v", typ, got)
		}
	}
	if _, err := Chunks(make([]byte, 200*ChunkSize), ChunkSize, [8]byte{}); err == nil {
		t.Error("200 chunks: no error")
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Address{
		"udp://10.0.0.1:12201": {"udp", "10.0.0.1:12201"},
		"tcp://graylog":        {"tcp", "graylog:12201"},
	} {
		if got, err := ParseAddress(in); err != nil || got != want {
			t.Errorf("ParseAddress(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "http://h:1", "udp://:1", "10.0.0.1:12201", "tcp://h:70000"} {
		if _, err := ParseAddress(in); err == nil {
			t.Errorf("ParseAddress(%q): no error", in)
		}
	}
	udp, tcp := Address{"udp", "h:1"}, Address{"tcp", "h:1"}
	if typ, lvl, err := ParseCompression(udp, "", ""); typ != CompressGzip || lvl != 1 || err != nil {
		t.Errorf("udp default: %s %d %v", typ, lvl, err)
	}
	if typ, _, err := ParseCompression(tcp, "", ""); typ != CompressNone || err != nil {
		t.Errorf("tcp default: %s %v", typ, err)
	}
	for _, c := range []struct {
		a          Address
		typ, level string
	}{{tcp, "gzip", ""}, {udp, "lz4", ""}, {udp, "zlib", "10"}} {
		if _, _, err := ParseCompression(c.a, c.typ, c.level); err == nil {
			t.Errorf("ParseCompression(%v, %q, %q): no error", c.a, c.typ, c.level)
		}
	}
}
