package gelf

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxMessage bounds a decoded message.
const maxMessage = 1 << 20

// Reassembler turns the datagrams a UDP receiver gets into messages. It keeps at most
// maxPending partial messages; it is for tests and small receivers, not for a hostile
// network.
type Reassembler struct {
	pending map[[8]byte][][]byte
}

const maxPending = 1024

// Add takes one datagram and returns the decoded message it completes, or nil.
func (r *Reassembler) Add(d []byte) (map[string]any, error) {
	if len(d) < 2 || d[0] != 0x1e || d[1] != 0x0f {
		return Decode(d)
	}
	if len(d) < chunkHead {
		return nil, errors.New("gelf: short chunk")
	}
	var id [8]byte
	copy(id[:], d[2:10])
	seq, n := int(d[10]), int(d[11])
	if n == 0 || n > MaxChunks || seq >= n {
		return nil, fmt.Errorf("gelf: chunk %d of %d", seq, n)
	}
	if r.pending == nil {
		r.pending = map[[8]byte][][]byte{}
	}
	parts, ok := r.pending[id]
	if !ok {
		if len(r.pending) >= maxPending {
			return nil, errors.New("gelf: too many partial messages")
		}
		parts = make([][]byte, n)
		r.pending[id] = parts
	}
	if len(parts) != n {
		return nil, errors.New("gelf: chunk count changed within a message")
	}
	parts[seq] = append([]byte(nil), d[chunkHead:]...)
	for _, p := range parts {
		if p == nil {
			return nil, nil
		}
	}
	delete(r.pending, id)
	return Decode(bytes.Join(parts, nil))
}

// Decode decodes one message: JSON, gzip'd or zlib'd JSON.
func Decode(b []byte) (map[string]any, error) {
	var rd io.Reader
	switch {
	case len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b:
		z, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		rd = z
	case len(b) >= 2 && b[0] == 0x78:
		z, err := zlib.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		rd = z
	default:
		rd = bytes.NewReader(b)
	}
	raw, err := io.ReadAll(io.LimitReader(rd, maxMessage+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxMessage {
		return nil, errors.New("gelf: message too large")
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("gelf: %w", err)
	}
	return m, nil
}
