package payload

import (
	"errors"

	"github.com/ecsd/ecsd/controlplane/wsframe"
)

// Sentinel errors. Every error returned by this package wraps at least one of them, so
// callers branch with errors.Is rather than on message text.
var (
	// ErrFrameTooLarge: a frame exceeds MaxFrameSize. Checked before any parsing so a hostile
	// or broken peer cannot make the agent allocate without bound.
	ErrFrameTooLarge = errors.New("frame too large")
	// ErrMalformedFrame: the frame is not a {"type":...,"message":...} envelope.
	ErrMalformedFrame = wsframe.ErrMalformedFrame
	// ErrUnknownType: the frame type is not an ACS shape this package knows. The reference
	// agent logs and drops such frames; callers should do the same.
	ErrUnknownType = wsframe.ErrUnknownType
	// ErrTypeMismatch: Encode was asked to send a known message struct under another
	// type name, which the peer would misread.
	ErrTypeMismatch = errors.New("message type mismatch")

	// ErrInvalidTask is wrapped by every error ToObjects returns: the task cannot be
	// accepted and must be reported STOPPED (see InvalidReason).
	ErrInvalidTask = errors.New("invalid task")
	// ErrMissing: a required member is absent or empty.
	ErrMissing = errors.New("missing")
	// ErrInvalidValue: a member has a value outside its domain.
	ErrInvalidValue = errors.New("invalid value")
	// ErrDuplicate: a name that must be unique within the task is not.
	ErrDuplicate = errors.New("duplicate")
	// ErrUnknownReference: a member names a container or volume the task does not have.
	ErrUnknownReference = errors.New("unknown reference")
	// ErrDependencyCycle: the containers' ordering (dependsOn plus the implicit dependencies
	// of links and volumesFrom) has a cycle, so no container could ever start. The text is
	// the reference agent's error name so the reported reason reads the same.
	ErrDependencyCycle = errors.New("TaskDependencyError: Task dependencies cannot be resolved")
	// ErrInvalidJSON: an embedded JSON string (dockerConfig, overrides) does not parse.
	ErrInvalidJSON = errors.New("invalid JSON")
	// ErrUnsupported: the task asks for something ecsd cannot do. Rejecting is deliberate:
	// running the task without it would run something other than what was asked.
	ErrUnsupported = errors.New("not supported by ecsd")
)

// taskError marks an error as a rejection of the task (errors.Is(err, ErrInvalidTask))
// without adding words to its text, which becomes the STOPPED reason ECS shows to users.
type taskError struct{ err error }

func (e *taskError) Error() string        { return e.err.Error() }
func (e *taskError) Unwrap() error        { return e.err }
func (e *taskError) Is(target error) bool { return target == ErrInvalidTask }

func rejectTask(err error) error {
	if err == nil {
		return nil
	}
	return &taskError{err: err}
}
