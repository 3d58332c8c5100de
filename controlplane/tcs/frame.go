package tcs

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ecsd/ecsd/controlplane/sigv4"
)

const (
	// maxRequestSize bounds the JSON of one publish request, as the reference agent does:
	// TCS refuses larger messages.
	maxRequestSize = 1 << 20
	// maxServerFrame bounds a frame from TCS. TCS only sends heartbeats, acks and errors,
	// a few hundred bytes; anything near this is a broken peer and is dropped.
	maxServerFrame = 64 << 10
)

// Frame is the envelope of every TCS websocket frame. Agent→TCS frames additionally carry
// a SigV4 header block in front of it (sigv4.SignFrame).
type Frame struct {
	Type    string          `json:"type"`
	Message json.RawMessage `json:"message"`
}

// Encode builds the JSON envelope of m, the part of an agent frame that is signed.
func Encode(m Message) ([]byte, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil message", ErrMalformedFrame)
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.MessageType(), err)
	}
	out, err := json.Marshal(Frame{Type: m.MessageType(), Message: body})
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.MessageType(), err)
	}
	return out, nil
}

// DecodeFrame parses an envelope. A frame that starts with a SigV4 header block (as the
// agent's own frames do) has it stripped first, so a server can decode agent frames
// with it too once it has verified them.
func DecodeFrame(data []byte) (Frame, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] != '{' {
		_, body, err := sigv4.SplitFrame(data)
		if err != nil {
			return Frame{}, fmt.Errorf("%w: not JSON and no header block", ErrMalformedFrame)
		}
		data = body
	}
	var f Frame
	if err := json.Unmarshal(data, &f); err != nil {
		return Frame{}, fmt.Errorf("%w: %w", ErrMalformedFrame, err)
	}
	if f.Type == "" {
		return Frame{}, fmt.Errorf("%w: no type", ErrMalformedFrame)
	}
	return f, nil
}

// DecodeMessage decodes a frame's message into a pointer to its shape (*HeartbeatMessage,
// *PublishMetricsRequest, ..., *Exception for the error shapes). An unknown type wraps
// ErrUnknownType; unknown members are ignored so that newer backends keep working.
func DecodeMessage(f Frame) (Message, error) {
	m := newMessage(f.Type)
	if m == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, f.Type)
	}
	raw := bytes.TrimSpace(f.Message)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("%s: %w: message is not an object", f.Type, ErrMalformedFrame)
	}
	if err := json.Unmarshal(raw, m); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", f.Type, ErrMalformedFrame, err)
	}
	return m, nil
}

// newMessage returns a pointer to an empty shape for a frame type, or nil. A switch keeps
// the package free of mutable lookup tables.
func newMessage(typ string) Message {
	switch typ {
	case TypeHeartbeatMessage:
		return &HeartbeatMessage{}
	case TypeAckPublishMetric:
		return &AckPublishMetric{}
	case TypeAckPublishHealth:
		return &AckPublishHealth{}
	case TypeAckPublishInstanceStatus:
		return &AckPublishInstanceStatus{}
	case TypeStopTelemetrySessionMessage:
		return &StopTelemetrySessionMessage{}
	case TypePublishMetricsRequest:
		return &PublishMetricsRequest{}
	case TypePublishHealthRequest:
		return &PublishHealthRequest{}
	case TypePublishInstanceStatusRequest:
		return &PublishInstanceStatusRequest{}
	}
	if isExceptionType(typ) {
		return &Exception{Type: typ}
	}
	return nil
}
