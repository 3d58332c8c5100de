package payload

import (
	"errors"

	"github.com/ecsd/ecsd/controlplane/wsframe"
)

// Exception type names of the ACS model. They usually arrive as the body of a failed
// websocket upgrade, sometimes as a frame.
const (
	TypeServerException           = "ServerException"
	TypeBadRequestException       = "BadRequestException"
	TypeInvalidClusterException   = "InvalidClusterException"
	TypeInvalidInstanceException  = "InvalidInstanceException"
	TypeAccessDeniedException     = "AccessDeniedException"
	TypeInactiveInstanceException = "InactiveInstanceException"
)

// ServerException is a backend failure; retry with backoff.
type ServerException struct {
	Message string `json:"message,omitempty"`
}

// BadRequestException: the backend refused the request as malformed.
type BadRequestException struct {
	Message string `json:"message,omitempty"`
}

// InvalidClusterException: the cluster does not exist. Not retriable.
type InvalidClusterException struct {
	Message string `json:"message,omitempty"`
}

// InvalidInstanceException: the container instance is unknown. Not retriable.
type InvalidInstanceException struct {
	Message string `json:"message,omitempty"`
}

// AccessDeniedException: the agent's credentials are not allowed. Not retriable.
type AccessDeniedException struct {
	Message string `json:"message,omitempty"`
}

// InactiveInstanceException: the instance was deregistered; the reference agent waits an
// hour before reconnecting and tells TCS to disconnect. Not retriable.
type InactiveInstanceException struct {
	Message string `json:"message,omitempty"`
}

func (e *ServerException) Error() string     { return TypeServerException + ": " + e.Message }
func (e *BadRequestException) Error() string { return TypeBadRequestException + ": " + e.Message }
func (e *InvalidClusterException) Error() string {
	return TypeInvalidClusterException + ": " + e.Message
}
func (e *InvalidInstanceException) Error() string {
	return TypeInvalidInstanceException + ": " + e.Message
}
func (e *AccessDeniedException) Error() string { return TypeAccessDeniedException + ": " + e.Message }
func (e *InactiveInstanceException) Error() string {
	return TypeInactiveInstanceException + ": " + e.Message
}

func (ServerException) MessageType() string           { return TypeServerException }
func (BadRequestException) MessageType() string       { return TypeBadRequestException }
func (InvalidClusterException) MessageType() string   { return TypeInvalidClusterException }
func (InvalidInstanceException) MessageType() string  { return TypeInvalidInstanceException }
func (AccessDeniedException) MessageType() string     { return TypeAccessDeniedException }
func (InactiveInstanceException) MessageType() string { return TypeInactiveInstanceException }

// IsUnretriable reports whether err is one of the exceptions after which reconnecting at
// the normal pace is pointless (invalid cluster or instance, access denied, inactive
// instance).
func IsUnretriable(err error) bool {
	var (
		ic *InvalidClusterException
		ii *InvalidInstanceException
		ad *AccessDeniedException
		ia *InactiveInstanceException
	)
	return errors.As(err, &ic) || errors.As(err, &ii) || errors.As(err, &ad) || errors.As(err, &ia)
}

func exceptionTypes() []string {
	return []string{TypeInactiveInstanceException, TypeInvalidInstanceException, TypeInvalidClusterException,
		TypeAccessDeniedException, TypeBadRequestException, TypeServerException}
}

// newException returns an exception value for a type name carrying msg, or nil.
func newException(typ, msg string) error {
	switch typ {
	case TypeServerException:
		return &ServerException{Message: msg}
	case TypeBadRequestException:
		return &BadRequestException{Message: msg}
	case TypeInvalidClusterException:
		return &InvalidClusterException{Message: msg}
	case TypeInvalidInstanceException:
		return &InvalidInstanceException{Message: msg}
	case TypeAccessDeniedException:
		return &AccessDeniedException{Message: msg}
	case TypeInactiveInstanceException:
		return &InactiveInstanceException{Message: msg}
	}
	return nil
}

// DecodeErrorBody interprets the body of a failed websocket upgrade. It understands a
// framed exception ({"type":"InactiveInstanceException","message":{"message":"..."}}) and
// the unframed form ({"InactiveInstanceException":"..."}), and returns the typed exception
// (usable with errors.As and IsUnretriable), or nil when the body is neither.
func DecodeErrorBody(body []byte) error {
	if len(body) > MaxFrameSize {
		return nil
	}
	typ, msg, ok := wsframe.ErrorBody(body, exceptionTypes())
	if !ok {
		return nil
	}
	return newException(typ, msg)
}
