package fluentforward

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Event is one event: its time and its record (string keys and values, as Docker's
// fluentd driver sends them).
type Event struct {
	Time   time.Time
	Record map[string]string
}

// appendString appends s as a MessagePack str.
func appendString(b []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xda)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0xdb)
		b = binary.BigEndian.AppendUint32(b, uint32(n))
	}
	return append(b, s...)
}

func appendArrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xdc)
		return binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0xdd)
		return binary.BigEndian.AppendUint32(b, uint32(n))
	}
}

func appendMapHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xde)
		return binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0xdf)
		return binary.BigEndian.AppendUint32(b, uint32(n))
	}
}

// appendTime appends t as Fluentd's EventTime (ext type 0: seconds and nanoseconds, big
// endian) when subSecond, else as an integer of seconds.
func appendTime(b []byte, t time.Time, subSecond bool) []byte {
	if !subSecond {
		b = append(b, 0xce)
		return binary.BigEndian.AppendUint32(b, uint32(t.Unix()))
	}
	b = append(b, 0xd7, 0x00)
	b = binary.BigEndian.AppendUint32(b, uint32(t.Unix()))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

// AppendForward appends one Forward mode message carrying events under tag. chunk, when
// not empty, asks the receiver for an acknowledgement with that id.
func AppendForward(b []byte, tag string, events []Event, subSecond bool, chunk string) []byte {
	n := 2
	if chunk != "" {
		n = 3
	}
	b = appendArrayHeader(b, n)
	b = appendString(b, tag)
	b = appendArrayHeader(b, len(events))
	for _, e := range events {
		b = appendArrayHeader(b, 2)
		b = appendTime(b, e.Time, subSecond)
		b = appendMapHeader(b, len(e.Record))
		for _, k := range sortedKeys(e.Record) {
			b = appendString(b, k)
			b = appendString(b, e.Record[k])
		}
	}
	if chunk != "" {
		b = appendMapHeader(b, 1)
		b = appendString(b, "chunk")
		b = appendString(b, chunk)
	}
	return b
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Insertion sort: records have a handful of keys.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// Ext is a MessagePack extension value the decoder does not interpret.
type Ext struct {
	Type int8
	Data []byte
}

// Decoding bounds.
const (
	maxLen   = 16 << 20 // one str, bin, array or map
	maxDepth = 16
)

// ErrTooLarge is returned for a value beyond the decoder's bounds.
var ErrTooLarge = errors.New("msgpack value too large or too deep")

// Decode reads one MessagePack value: nil, bool, int64, uint64, float64, string, []byte,
// []any, map[string]any (other keys are formatted with %v) or Ext.
func Decode(r *bufio.Reader) (any, error) { return decode(r, 0) }

func decode(r *bufio.Reader, depth int) (any, error) {
	if depth > maxDepth {
		return nil, ErrTooLarge
	}
	c, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c&0xe0 == 0xa0:
		return readStr(r, int(c&0x1f))
	case c&0xf0 == 0x90:
		return readArray(r, int(c&0x0f), depth)
	case c&0xf0 == 0x80:
		return readMap(r, int(c&0x0f), depth)
	}
	switch c {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xc4, 0xc5, 0xc6:
		n, err := readLen(r, c-0xc4)
		if err != nil {
			return nil, err
		}
		return readN(r, n)
	case 0xc7, 0xc8, 0xc9:
		n, err := readLen(r, c-0xc7)
		if err != nil {
			return nil, err
		}
		return readExt(r, n)
	case 0xca:
		b, err := readN(r, 4)
		if err != nil {
			return nil, err
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b))), nil
	case 0xcb:
		b, err := readN(r, 8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	case 0xcc, 0xcd, 0xce, 0xcf:
		b, err := readN(r, 1<<(c-0xcc))
		if err != nil {
			return nil, err
		}
		return beUint(b), nil
	case 0xd0, 0xd1, 0xd2, 0xd3:
		size := 1 << (c - 0xd0)
		b, err := readN(r, size)
		if err != nil {
			return nil, err
		}
		v := beUint(b)
		shift := 64 - 8*size
		return int64(v<<shift) >> shift, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return readExt(r, 1<<(c-0xd4))
	case 0xd9, 0xda, 0xdb:
		n, err := readLen(r, c-0xd9)
		if err != nil {
			return nil, err
		}
		return readStr(r, n)
	case 0xdc, 0xdd:
		n, err := readLen(r, c-0xdc+1)
		if err != nil {
			return nil, err
		}
		return readArray(r, n, depth)
	case 0xde, 0xdf:
		n, err := readLen(r, c-0xde+1)
		if err != nil {
			return nil, err
		}
		return readMap(r, n, depth)
	}
	return nil, fmt.Errorf("msgpack: unknown type byte 0x%02x", c)
}

func beUint(b []byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

// readLen reads a length of 1, 2 or 4 bytes (size 0, 1, 2).
func readLen(r *bufio.Reader, size byte) (int, error) {
	b, err := readN(r, 1<<size)
	if err != nil {
		return 0, err
	}
	n := beUint(b)
	if n > maxLen {
		return 0, ErrTooLarge
	}
	return int(n), nil
}

func readN(r *bufio.Reader, n int) ([]byte, error) {
	if n > maxLen {
		return nil, ErrTooLarge
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, unexpected(err)
	}
	return b, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func readStr(r *bufio.Reader, n int) (string, error) {
	b, err := readN(r, n)
	return string(b), err
}

func readExt(r *bufio.Reader, n int) (Ext, error) {
	t, err := r.ReadByte()
	if err != nil {
		return Ext{}, unexpected(err)
	}
	b, err := readN(r, n)
	return Ext{Type: int8(t), Data: b}, err
}

func readArray(r *bufio.Reader, n, depth int) ([]any, error) {
	out := make([]any, 0, min(n, 1024))
	for range n {
		v, err := decode(r, depth+1)
		if err != nil {
			return nil, unexpected(err)
		}
		out = append(out, v)
	}
	return out, nil
}

func readMap(r *bufio.Reader, n, depth int) (map[string]any, error) {
	out := make(map[string]any, min(n, 1024))
	for range n {
		k, err := decode(r, depth+1)
		if err != nil {
			return nil, unexpected(err)
		}
		v, err := decode(r, depth+1)
		if err != nil {
			return nil, unexpected(err)
		}
		ks, ok := k.(string)
		if !ok {
			ks = fmt.Sprint(k)
		}
		out[ks] = v
	}
	return out, nil
}
