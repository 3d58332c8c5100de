package tcs

import (
	"errors"

	"github.com/ecsd/ecsd/controlplane/wsframe"
	"github.com/ecsd/ecsd/controlplane/wssession"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrMalformedFrame: a frame is not a {"type":...,"message":{...}} envelope, or its
	// message does not decode into the shape its type names.
	ErrMalformedFrame = wsframe.ErrMalformedFrame
	// ErrUnknownType: a frame's type is not a TCS shape this package knows.
	ErrUnknownType = wsframe.ErrUnknownType
	// ErrHeartbeatTimeout: TCS sent neither a heartbeat nor an acknowledgement for longer
	// than the heartbeat timeout, so the connection is presumed dead.
	ErrHeartbeatTimeout = wssession.ErrInactive
	// ErrSessionStopped: TCS asked the agent to stop the session (StopTelemetrySessionMessage).
	ErrSessionStopped = errors.New("TCS stopped the telemetry session")
)
