package tcs

import "github.com/ecsd/ecsd/controlplane/wsframe"

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
	if len(body) > maxServerFrame {
		return nil
	}
	typ, msg, ok := wsframe.ErrorBody(body, exceptionTypes())
	if !ok {
		return nil
	}
	return &Exception{Type: typ, Message: msg}
}
