package containerd

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	remoteerrors "github.com/containerd/containerd/v2/core/remotes/errors"
	"github.com/containerd/errdefs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ecsd/ecsd/runtime"
)

// rtError carries both the runtime sentinel (for errors.Is by callers that only know the
// runtime package) and the original error (for its message and for errors.Is against
// containerd's errdefs), while printing the original message only once.
type rtError struct {
	msg  string
	kind error // one of the runtime.Err* sentinels, or nil
	err  error
}

func (e *rtError) Error() string {
	if e.kind != nil && e.err == nil {
		return e.msg + ": " + e.kind.Error()
	}
	return e.msg + ": " + e.err.Error()
}

func (e *rtError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// wrapErr annotates err with what was being done and maps it onto the runtime sentinels.
// nil stays nil.
func wrapErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &rtError{msg: fmt.Sprintf(format, args...), kind: classify(err), err: err}
}

// newErr returns a sentinel error with context and no underlying cause.
func newErr(kind error, format string, args ...any) error {
	return &rtError{msg: fmt.Sprintf(format, args...), kind: kind}
}

// classify maps an error from containerd or a registry onto a runtime sentinel.
func classify(err error) error {
	switch {
	case isUnauthorized(err):
		return runtime.ErrUnauthorized
	case errdefs.IsNotFound(err):
		return runtime.ErrNotFound
	case errdefs.IsAlreadyExists(err):
		return runtime.ErrAlreadyExists
	case isUnavailable(err):
		return runtime.ErrUnavailable
	}
	return nil
}

// isUnauthorized recognises a registry refusing the credentials (or their absence) in the
// shapes containerd's docker resolver reports it.
func isUnauthorized(err error) bool {
	if errors.Is(err, docker.ErrInvalidAuthorization) ||
		errdefs.IsUnauthorized(err) || errdefs.IsPermissionDenied(err) {
		return true
	}
	var st remoteerrors.ErrUnexpectedStatus
	if errors.As(err, &st) &&
		(st.StatusCode == http.StatusUnauthorized || st.StatusCode == http.StatusForbidden) {
		return true
	}
	var regErrs docker.Errors
	if errors.As(err, &regErrs) {
		for _, e := range regErrs {
			var re docker.Error
			if errors.As(e, &re) &&
				(re.Code == docker.ErrorCodeUnauthorized || re.Code == docker.ErrorCodeDenied) {
				return true
			}
		}
	}
	return false
}

// isUnavailable reports whether containerd itself could not be reached. Transport errors
// talking to a registry (url.Error) are deliberately excluded: a dead registry is a pull
// failure, not a reason for the agent to stop trusting its runtime.
func isUnavailable(err error) bool {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return false
	}
	if errdefs.IsUnavailable(err) {
		return true
	}
	if s, ok := status.FromError(err); ok && s.Code() == codes.Unavailable {
		return true
	}
	return false
}
