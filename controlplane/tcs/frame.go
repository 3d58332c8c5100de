package tcs

import (
	"bytes"
	"fmt"

	"github.com/ecsd/ecsd/controlplane/sigv4"
	"github.com/ecsd/ecsd/controlplane/wsframe"
)

const (
	// maxRequestSize bounds the JSON of one publish request, as the reference agent does:
	// TCS refuses larger messages.
	maxRequestSize = 1 << 20
	// maxServerFrame bounds a frame from TCS. TCS only sends heartbeats, acks and errors,
	// a few hundred bytes; anything near this is a broken peer and is dropped.
	maxServerFrame = 64 << 10
)

// Frame is the envelope of every TCS websocket frame, the one ACS uses too
// (wsframe.Frame). Agent→TCS frames additionally carry a SigV4 header block in front of
// it (sigv4.SignFrame).
type Frame = wsframe.Frame

// Encode builds the JSON envelope of m, the part of an agent frame that is signed.
func Encode(m Message) ([]byte, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil message", ErrMalformedFrame)
	}
	return wsframe.Wrap(m.MessageType(), m)
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
	return wsframe.Parse(data)
}

// DecodeMessage decodes a frame's message into a pointer to its shape (*HeartbeatMessage,
// *PublishMetricsRequest, ..., *Exception for the error shapes). An unknown type wraps
// ErrUnknownType; unknown members are ignored so that newer backends keep working.
func DecodeMessage(f Frame) (Message, error) {
	return wsframe.Decode(f, newMessage)
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
