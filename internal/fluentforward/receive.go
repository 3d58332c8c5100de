package fluentforward

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// Received is one event as a receiver got it.
type Received struct {
	Tag string
	Event
}

// ReadMessage reads one Forward protocol message (Message, Forward or PackedForward mode)
// and returns its events and the chunk id it asks to acknowledge ("" when none).
func ReadMessage(r *bufio.Reader) ([]Received, string, error) {
	v, err := Decode(r)
	if err != nil {
		return nil, "", err
	}
	arr, ok := v.([]any)
	if !ok || len(arr) < 2 {
		return nil, "", fmt.Errorf("forward: a message is an array of at least 2, got %T", v)
	}
	tag, ok := arr[0].(string)
	if !ok {
		return nil, "", fmt.Errorf("forward: the tag is %T, not a string", arr[0])
	}
	var out []Received
	var option any
	switch entries := arr[1].(type) {
	case []any: // Forward mode: [tag, [[time, record], ...], option?]
		for _, e := range entries {
			pair, ok := e.([]any)
			if !ok || len(pair) != 2 {
				return nil, "", fmt.Errorf("forward: an entry is [time, record]")
			}
			ev, err := event(pair[0], pair[1])
			if err != nil {
				return nil, "", err
			}
			out = append(out, Received{Tag: tag, Event: ev})
		}
		if len(arr) > 2 {
			option = arr[2]
		}
	case []byte, string: // PackedForward mode: a stream of [time, record] entries
		var raw []byte
		if s, ok := entries.(string); ok {
			raw = []byte(s)
		} else {
			raw = entries.([]byte)
		}
		br := bufio.NewReader(bytes.NewReader(raw))
		for {
			e, err := Decode(br)
			if err != nil {
				break
			}
			pair, ok := e.([]any)
			if !ok || len(pair) != 2 {
				return nil, "", fmt.Errorf("forward: an entry is [time, record]")
			}
			ev, err := event(pair[0], pair[1])
			if err != nil {
				return nil, "", err
			}
			out = append(out, Received{Tag: tag, Event: ev})
		}
		if len(arr) > 2 {
			option = arr[2]
		}
	default: // Message mode: [tag, time, record, option?]
		if len(arr) < 3 {
			return nil, "", fmt.Errorf("forward: a Message mode message is [tag, time, record]")
		}
		ev, err := event(arr[1], arr[2])
		if err != nil {
			return nil, "", err
		}
		out = append(out, Received{Tag: tag, Event: ev})
		if len(arr) > 3 {
			option = arr[3]
		}
	}
	chunk := ""
	if m, ok := option.(map[string]any); ok {
		chunk, _ = m["chunk"].(string)
	}
	return out, chunk, nil
}

func event(t, rec any) (Event, error) {
	var ev Event
	switch v := t.(type) {
	case int64:
		ev.Time = time.Unix(v, 0)
	case uint64:
		ev.Time = time.Unix(int64(v), 0)
	case Ext:
		if v.Type != 0 || len(v.Data) != 8 {
			return Event{}, fmt.Errorf("forward: time extension type %d of %d bytes", v.Type, len(v.Data))
		}
		ev.Time = time.Unix(int64(binary.BigEndian.Uint32(v.Data)), int64(binary.BigEndian.Uint32(v.Data[4:])))
	default:
		return Event{}, fmt.Errorf("forward: time is %T", t)
	}
	m, ok := rec.(map[string]any)
	if !ok {
		return Event{}, fmt.Errorf("forward: record is %T, not a map", rec)
	}
	ev.Record = make(map[string]string, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case string:
			ev.Record[k] = x
		case []byte:
			ev.Record[k] = string(x)
		default:
			ev.Record[k] = fmt.Sprint(x)
		}
	}
	return ev, nil
}

// AppendAck appends the acknowledgement of chunk.
func AppendAck(b []byte, chunk string) []byte {
	b = appendMapHeader(b, 1)
	b = appendString(b, "ack")
	return appendString(b, chunk)
}
