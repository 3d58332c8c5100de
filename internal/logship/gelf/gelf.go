// Package gelf is the gelf log driver of ecsd-logger-ship: it sends a container's lines
// as GELF 1.1 messages (Graylog Extended Log Format) with the fields Docker's gelf driver
// sets, over UDP (compressed, split into GELF chunks when larger than a datagram should
// be) or TCP (uncompressed, each message ended by a NUL byte). It also reassembles and
// decodes what a receiver gets, for tests and small receivers.
package gelf

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/ecsd/ecsd/internal/containerlog"
	"github.com/ecsd/ecsd/internal/logship"
)

// DefaultPort is GELF's usual port.
const DefaultPort = 12201

// Compression types (gelf-compression-type).
const (
	CompressGzip = "gzip"
	CompressZlib = "zlib"
	CompressNone = "none"
)

// Chunking, as the GELF spec and Docker's client have it.
const (
	ChunkSize = 1420 // bytes of a datagram, header included
	MaxChunks = 128
	chunkHead = 12 // magic (2), message ID (8), sequence number (1), count (1)
)

// Address is where the receiver listens: Network udp or tcp.
type Address struct {
	Network, Addr string
}

func (a Address) String() string { return a.Network + "://" + a.Addr }

// ParseAddress parses gelf-address: udp://host[:port] or tcp://host[:port].
func ParseAddress(s string) (Address, error) {
	if s == "" {
		return Address{}, errors.New("gelf-address is required (udp://host:port or tcp://host:port)")
	}
	u, err := url.Parse(s)
	if err != nil {
		return Address{}, fmt.Errorf("gelf-address %q: %w", s, err)
	}
	if u.Scheme != "udp" && u.Scheme != "tcp" {
		return Address{}, fmt.Errorf("gelf-address %q: scheme %q is not supported (udp or tcp)", s, u.Scheme)
	}
	if u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
		return Address{}, fmt.Errorf("gelf-address %q: want %s://host:port", s, u.Scheme)
	}
	port := u.Port()
	if port == "" {
		port = strconv.Itoa(DefaultPort)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return Address{}, fmt.Errorf("gelf-address %q: bad port %q", s, port)
	}
	return Address{Network: u.Scheme, Addr: net.JoinHostPort(u.Hostname(), port)}, nil
}

// ParseCompression checks gelf-compression-type and gelf-compression-level for addr.
func ParseCompression(addr Address, typ, level string) (string, int, error) {
	if typ == "" {
		typ = CompressGzip
		if addr.Network == "tcp" {
			typ = CompressNone
		}
	}
	switch typ {
	case CompressGzip, CompressZlib, CompressNone:
	default:
		return "", 0, fmt.Errorf("gelf-compression-type %q: want gzip, zlib or none", typ)
	}
	if addr.Network == "tcp" && typ != CompressNone {
		return "", 0, fmt.Errorf("gelf-compression-type %s: GELF over TCP is not compressed (use none)", typ)
	}
	lvl := gzip.BestSpeed
	if level != "" {
		n, err := strconv.Atoi(level)
		if err != nil || n < -1 || n > 9 {
			return "", 0, fmt.Errorf("gelf-compression-level %q: want -1 to 9", level)
		}
		lvl = n
	}
	return typ, lvl, nil
}

// Fields are the container's fields every message carries.
type Fields struct {
	Host, Tag, ContainerID, ContainerName, ImageID, ImageName string
}

// Message is m as a GELF 1.1 message, as Docker's gelf driver fills it: level 6 (info)
// for stdout, 3 (err) for stderr.
func Message(m logship.Message, f Fields) ([]byte, error) {
	level := 6
	if m.Stream == containerlog.Stderr {
		level = 3
	}
	msg := map[string]any{
		"version":         "1.1",
		"host":            f.Host,
		"short_message":   string(m.Line),
		"timestamp":       float64(m.Time.UnixNano()/int64(time.Microsecond)) / 1e6,
		"level":           level,
		"_container_id":   f.ContainerID,
		"_container_name": f.ContainerName,
		"_image_id":       f.ImageID,
		"_image_name":     f.ImageName,
		"_tag":            f.Tag,
	}
	if m.Partial {
		msg["_partial_message"] = true
	}
	return json.Marshal(msg)
}

// compress compresses b.
func compress(b []byte, typ string, level int) ([]byte, error) {
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch typ {
	case CompressGzip:
		w, err = gzip.NewWriterLevel(&buf, level)
	case CompressZlib:
		w, err = zlib.NewWriterLevel(&buf, level)
	default:
		return b, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ErrTooLarge is returned for a message that needs more than MaxChunks chunks.
var ErrTooLarge = errors.New("gelf: message needs more than 128 chunks")

// Chunks splits a UDP payload into datagrams: the payload itself when it fits, else GELF
// chunks of at most size bytes under one message ID.
func Chunks(payload []byte, size int, id [8]byte) ([][]byte, error) {
	if len(payload) <= size {
		return [][]byte{payload}, nil
	}
	per := size - chunkHead
	n := (len(payload) + per - 1) / per
	if n > MaxChunks {
		return nil, ErrTooLarge
	}
	out := make([][]byte, 0, n)
	for i := range n {
		part := payload[i*per : min(len(payload), (i+1)*per)]
		c := make([]byte, 0, chunkHead+len(part))
		c = append(c, 0x1e, 0x0f)
		c = append(c, id[:]...)
		c = append(c, byte(i), byte(n))
		out = append(out, append(c, part...))
	}
	return out, nil
}

// Sender is a logship.Sender to one GELF receiver.
type Sender struct {
	Addr        Address
	Fields      Fields
	Compression string
	Level       int
	// Timeout bounds dialling and each write (10 s when 0).
	Timeout time.Duration

	conn net.Conn
}

// Send implements logship.Sender.
func (s *Sender) Send(ctx context.Context, batch []logship.Message) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if s.conn == nil {
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, s.Addr.Network, s.Addr.Addr)
		if err != nil {
			return fmt.Errorf("gelf %s: %w", s.Addr, err)
		}
		s.conn = conn
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = s.conn.SetWriteDeadline(deadline)
	var stream []byte
	for _, m := range batch {
		b, err := Message(m, s.Fields)
		if err != nil {
			return fmt.Errorf("gelf: %w", err)
		}
		if s.Addr.Network == "tcp" {
			stream = append(append(stream, b...), 0)
			continue
		}
		if b, err = compress(b, s.Compression, s.Level); err != nil {
			return fmt.Errorf("gelf: compress: %w", err)
		}
		var id [8]byte
		_, _ = rand.Read(id[:])
		chunks, err := Chunks(b, ChunkSize, id)
		if err != nil {
			continue // cannot happen with lines of at most logship.MaxLine bytes
		}
		for _, c := range chunks {
			if _, err := s.conn.Write(c); err != nil {
				_ = s.Close()
				return fmt.Errorf("gelf %s: %w", s.Addr, err)
			}
		}
	}
	if len(stream) > 0 {
		if _, err := s.conn.Write(stream); err != nil {
			_ = s.Close()
			return fmt.Errorf("gelf %s: %w", s.Addr, err)
		}
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
