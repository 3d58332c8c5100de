package localplane

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors of the Go API (New, Close).
var (
	// ErrInvalidOptions: an Options field has an unusable value.
	ErrInvalidOptions = errors.New("invalid local control plane options")
	// ErrState: the state file cannot be read, parsed or written.
	ErrState = errors.New("local control plane state")
)

// apiError is an ECS API error: the exception name the SDKs decode ("__type"), its
// message, and the HTTP status.
type apiError struct {
	code   string
	status int
	msg    string
	// resourceIDs is ConflictException's resourceIds member.
	resourceIDs []string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func newAPIError(code string, status int, format string, args ...any) *apiError {
	return &apiError{code: code, status: status, msg: fmt.Sprintf(format, args...)}
}

// Modeled ECS exceptions, HTTP 400 unless noted.
func errClient(format string, args ...any) error {
	return newAPIError("ClientException", http.StatusBadRequest, format, args...)
}

func errInvalidParameter(format string, args ...any) error {
	return newAPIError("InvalidParameterException", http.StatusBadRequest, format, args...)
}

// errClusterNotFound is the error of operations that model ClusterNotFoundException.
func errClusterNotFound() error {
	return newAPIError("ClusterNotFoundException", http.StatusBadRequest, "Cluster not found.")
}

// errServer is a failure of the control plane itself (HTTP 500, retried by clients). It
// returns the concrete type because its one caller, the handler, answers with its fields.
func errServer(err error) *apiError {
	return newAPIError("ServerException", http.StatusInternalServerError, "%s", err.Error())
}
