// Package wsframe is the JSON envelope ACS and TCS frames share,
// {"type":"<shape>","message":{...}}, and the two forms in which a refused websocket
// upgrade names an exception. Only the shapes differ between the two protocols; payload
// (ACS) and tcs supply theirs, so the envelope rules (what is malformed, what is an
// unknown type, how an exception body reads) are written and tested once.
package wsframe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Sentinel errors, checked with errors.Is. payload and tcs re-export them under their own
// names so that their callers need not know this package.
var (
	// ErrMalformedFrame: the frame is not a {"type":...,"message":{...}} envelope, or its
	// message does not decode into the shape its type names.
	ErrMalformedFrame = errors.New("malformed frame")
	// ErrUnknownType: the frame's type names no shape the protocol knows. Both reference
	// agents log and drop such frames, so newer backends keep working.
	ErrUnknownType = errors.New("unknown message type")
)

// Frame is the envelope of every ACS and TCS text frame.
type Frame struct {
	// Type is the shape name of Message, e.g. "HeartbeatMessage".
	Type string `json:"type"`
	// Message is the shape's JSON, left raw so that an unknown type can be logged and
	// dropped without failing the session.
	Message json.RawMessage `json:"message"`
}

// Parse decodes an envelope, leaving the message raw.
func Parse(data []byte) (Frame, error) {
	var f Frame
	if err := json.Unmarshal(data, &f); err != nil {
		return Frame{}, fmt.Errorf("%w: %w", ErrMalformedFrame, err)
	}
	if f.Type == "" {
		return Frame{}, fmt.Errorf("%w: no type", ErrMalformedFrame)
	}
	return f, nil
}

// Decode decodes f's message into the empty shape newMessage returns for f's type (a
// pointer, or the zero value for a type the protocol does not know). Unknown members are
// ignored, so that newer backends keep working; a message that is not an object is
// malformed.
func Decode[M comparable](f Frame, newMessage func(typ string) M) (M, error) {
	var zero M
	m := newMessage(f.Type)
	if m == zero {
		return zero, fmt.Errorf("%w: %q", ErrUnknownType, f.Type)
	}
	raw := bytes.TrimSpace(f.Message)
	if len(raw) == 0 || raw[0] != '{' {
		return zero, fmt.Errorf("%s: %w: message is not an object", f.Type, ErrMalformedFrame)
	}
	if err := json.Unmarshal(raw, m); err != nil {
		return zero, fmt.Errorf("%s: %w: %w", f.Type, ErrMalformedFrame, err)
	}
	return m, nil
}

// Wrap builds the envelope of msg under type typ; a nil msg sends an empty object.
func Wrap(typ string, msg any) ([]byte, error) {
	if typ == "" {
		return nil, fmt.Errorf("%w: empty type", ErrMalformedFrame)
	}
	body := json.RawMessage("{}")
	if msg != nil {
		b, err := json.Marshal(msg)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", typ, err)
		}
		body = b
	}
	out, err := json.Marshal(Frame{Type: typ, Message: body})
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", typ, err)
	}
	return out, nil
}

// ErrorBody reads the body of a refused websocket upgrade as one of the exceptions named
// in known: framed ({"type":"ServerException","message":{"message":"..."}}) or unframed
// ({"ServerException":"..."}). ok is false when the body is neither. known is walked in
// order, so a body naming two exceptions reads the same way every time; a message that
// is not the expected string is kept as its raw JSON, since the type is what matters.
func ErrorBody(body []byte, known []string) (typ, message string, ok bool) {
	if len(body) == 0 {
		return "", "", false
	}
	if f, err := Parse(body); err == nil && slices.Contains(known, f.Type) {
		var m struct {
			Message string `json:"message"`
		}
		raw := bytes.TrimSpace(f.Message)
		if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
			return f.Type, string(raw), true
		}
		return f.Type, m.Message, true
	}
	var unframed map[string]json.RawMessage
	if json.Unmarshal(body, &unframed) != nil {
		return "", "", false
	}
	for _, typ := range known {
		raw, found := unframed[typ]
		if !found {
			continue
		}
		if json.Unmarshal(raw, &message) != nil {
			message = string(raw)
		}
		return typ, message, true
	}
	return "", "", false
}
