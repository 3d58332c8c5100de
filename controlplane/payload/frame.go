package payload

import (
	"fmt"

	"github.com/ecsd/ecsd/controlplane/wsframe"
)

// MaxFrameSize bounds one websocket frame. Real payloads are a few hundred KiB at most (a
// payload carries at most a handful of tasks of at most ten containers); 16 MiB leaves
// ample room while keeping a broken or hostile peer from exhausting memory.
const MaxFrameSize = 16 << 20

// Frame is the envelope of every ACS websocket text frame, in both directions: the
// envelope TCS uses too (wsframe.Frame).
type Frame = wsframe.Frame

// DecodeFrame parses the envelope of a received frame. The message itself is left raw so
// that an unknown type can be logged and dropped without failing the session.
func DecodeFrame(data []byte) (Frame, error) {
	if len(data) > MaxFrameSize {
		return Frame{}, fmt.Errorf("%w: %d bytes (max %d)", ErrFrameTooLarge, len(data), MaxFrameSize)
	}
	return wsframe.Parse(data)
}

// Encode builds a frame of type typ around msg. When msg is one of this package's message
// structs, typ must be its own type name (ErrTypeMismatch otherwise): a mismatched frame
// would be misread by the peer, not rejected. A nil msg sends an empty object.
func Encode(typ string, msg any) ([]byte, error) {
	if m, ok := msg.(Message); ok && typ != "" && m.MessageType() != typ {
		return nil, fmt.Errorf("%w: %T is %s, not %s", ErrTypeMismatch, msg, m.MessageType(), typ)
	}
	out, err := wsframe.Wrap(typ, msg)
	if err != nil {
		return nil, err
	}
	if len(out) > MaxFrameSize {
		return nil, fmt.Errorf("encode %s: %w: %d bytes (max %d)", typ, ErrFrameTooLarge, len(out), MaxFrameSize)
	}
	return out, nil
}

// EncodeMessage is Encode with the type taken from the message.
func EncodeMessage(m Message) ([]byte, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil message", ErrMalformedFrame)
	}
	return Encode(m.MessageType(), m)
}

// DecodeMessage decodes the message of a frame into its typed struct and returns a pointer
// to it (*PayloadMessage, *HeartbeatMessage, ...; exceptions as *ServerException etc.,
// which also implement error). An unknown type returns an error wrapping ErrUnknownType.
// Unknown members inside a known message are ignored, so newer backends keep working.
func DecodeMessage(f Frame) (any, error) {
	return wsframe.Decode(f, newMessage)
}

// newMessage returns a pointer to an empty struct for a frame type, or nil. A switch
// rather than a map keeps the package free of mutable globals.
func newMessage(typ string) any {
	switch typ {
	case TypeHeartbeatMessage:
		return &HeartbeatMessage{}
	case TypeHeartbeatAckRequest:
		return &HeartbeatAckRequest{}
	case TypePayloadMessage:
		return &PayloadMessage{}
	case TypeAckRequest:
		return &AckRequest{}
	case TypeNackRequest:
		return &NackRequest{}
	case TypeIAMRoleCredentialsMessage:
		return &IAMRoleCredentialsMessage{}
	case TypeIAMRoleCredentialsAckRequest:
		return &IAMRoleCredentialsAckRequest{}
	case TypeTaskManifestMessage:
		return &TaskManifestMessage{}
	case TypeTaskStopVerificationMessage:
		return &TaskStopVerificationMessage{}
	case TypeTaskStopVerificationAck:
		return &TaskStopVerificationAck{}
	case TypeAttachTaskNetworkInterfacesMessage:
		return &AttachTaskNetworkInterfacesMessage{}
	case TypeAttachInstanceNetworkInterfacesMessage:
		return &AttachInstanceNetworkInterfacesMessage{}
	case TypeConfirmAttachmentMessage:
		return &ConfirmAttachmentMessage{}
	case TypeStageUpdateMessage:
		return &StageUpdateMessage{}
	case TypePerformUpdateMessage:
		return &PerformUpdateMessage{}
	case TypeCloseMessage:
		return &CloseMessage{}
	case TypeErrorMessage:
		return &ErrorMessage{}
	case TypePollRequest:
		return &PollRequest{}
	}
	if ex := newException(typ, ""); ex != nil {
		return ex
	}
	return nil
}
