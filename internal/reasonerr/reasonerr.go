// Package reasonerr is an error whose text is a stop reason worded exactly as the
// reference agent words it (no wrapping prefix), that still matches its package's sentinel
// with errors.Is and unwraps to the cause.
package reasonerr

import "fmt"

type reasonError struct {
	msg      string
	sentinel error
	cause    error
}

func (e *reasonError) Error() string        { return e.msg }
func (e *reasonError) Unwrap() error        { return e.cause }
func (e *reasonError) Is(target error) bool { return target == e.sentinel }

// New returns an error with the formatted text that is sentinel (errors.Is) and wraps
// cause (which may be nil).
func New(sentinel, cause error, format string, args ...any) error {
	return &reasonError{msg: fmt.Sprintf(format, args...), sentinel: sentinel, cause: cause}
}
