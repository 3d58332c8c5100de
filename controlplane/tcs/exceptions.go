package tcs

import (
	"bytes"
	"encoding/json"
)

// Exception type names of the TCS model. They arrive as frames or as the body of a failed
// websocket upgrade.
const (
	TypeBadRequestException         = "BadRequestException"
	TypeResourceValidationException = "ResourceValidationException"
	TypeInvalidParameterException   = "InvalidParameterException"
	TypeServerException             = "ServerException"
)

// Exception is one of the TCS model's error shapes. They all have the same single member,
// so one type with the shape name beside it serves them all; match with errors.As and
// compare Type.
type Exception struct {
	// Type is the shape name, e.g. "ServerException".
	Type    string `json:"-"`
	Message string `json:"message,omitempty"`
}

func (e *Exception) Error() string { return e.Type + ": " + e.Message }

// MessageType returns the exception's shape name.
func (e *Exception) MessageType() string { return e.Type }

func isExceptionType(typ string) bool {
	switch typ {
	case TypeBadRequestException, TypeResourceValidationException, TypeInvalidParameterException, TypeServerException:
		return true
	}
	return false
}

// exceptionTypes lists the exception names in a fixed order, so that a body naming two of
// them decodes the same way every time.
func exceptionTypes() []string {
	return []string{TypeBadRequestException, TypeResourceValidationException, TypeInvalidParameterException, TypeServerException}
}

// DecodeErrorBody interprets the body of a failed websocket upgrade: a framed exception
// ({"type":"ServerException","message":{"message":"..."}}) or the unframed form
// ({"ServerException":"..."}). It returns the *Exception, or nil when the body is neither.
func DecodeErrorBody(body []byte) error {
	if len(body) == 0 || len(body) > maxServerFrame {
		return nil
	}
	if f, err := DecodeFrame(body); err == nil && isExceptionType(f.Type) {
		ex := &Exception{Type: f.Type}
		if json.Unmarshal(f.Message, ex) != nil {
			ex.Message = string(bytes.TrimSpace(f.Message))
		}
		return ex
	}
	var unframed map[string]json.RawMessage
	if json.Unmarshal(body, &unframed) != nil {
		return nil
	}
	for _, typ := range exceptionTypes() {
		raw, ok := unframed[typ]
		if !ok {
			continue
		}
		ex := &Exception{Type: typ}
		if json.Unmarshal(raw, &ex.Message) != nil {
			ex.Message = string(raw)
		}
		return ex
	}
	return nil
}
