package ecsapi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
)

// ErrTerminal marks an error after which the agent must not be restarted (exit code 5):
// retrying with the same configuration can only fail the same way.
var ErrTerminal = errors.New("terminal")

// ErrAttributeMismatch is a registration whose response does not echo an attribute that
// was sent; the backend refused or rewrote it.
var ErrAttributeMismatch = errors.New("attribute not accepted by ECS")

// Class is how a failed call is handled.
type Class int

const (
	// Transient errors are retried with backoff.
	Transient Class = iota
	// Terminal errors stop the agent with exit code 5.
	Terminal
	// Fatal errors stop the agent with exit code 1 (systemd restarts it).
	Fatal
)

// Classify applies the reference agent's registration rules: throttling, server and
// limit errors are retried; client and parameter errors are terminal; other API errors are
// fatal. Errors that never reached ECS (connection refused, timeouts, DNS) are retried too:
// the reference agent exits and lets systemd restart it, which only adds churn.
func Classify(err error) Class {
	if err == nil {
		return Transient
	}
	if errors.Is(err, ErrTerminal) || errors.Is(err, ErrAttributeMismatch) {
		return Terminal
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ThrottlingException", "ServerException", "LimitExceededException", "RequestLimitExceeded", "ServiceUnavailable":
			return Transient
		case "ClientException", "InvalidParameterException", "ClusterNotFoundException", "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException":
			return Terminal
		}
		return Fatal
	}
	if errors.Is(err, context.Canceled) {
		return Fatal
	}
	return Transient
}

// IsInvalidParameter reports whether ECS refused a request as invalid; a state change it
// refuses that way is dropped instead of being retried forever (spec §5.3).
func IsInvalidParameter(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "InvalidParameterException"
}

func terminal(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrTerminal, fmt.Sprintf(format, args...))
}

// IsClusterNotFound reports whether ECS does not know the cluster. RegisterContainerInstance
// says so with a ClientException "Cluster not found.", other calls with
// ClusterNotFoundException.
func IsClusterNotFound(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.ErrorCode() == "ClusterNotFoundException" ||
		ae.ErrorCode() == "ClientException" && strings.Contains(strings.ToLower(ae.ErrorMessage()), "cluster not found")
}
