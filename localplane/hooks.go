package localplane

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// TelemetryFrame is one frame an agent sent on a TCS session, after its signature was
// verified (when Options.Credentials is set).
type TelemetryFrame struct {
	// ContainerInstance is the ARN the session was opened for.
	ContainerInstance string
	Received          time.Time
	// Type is the frame type, e.g. "PublishMetricsRequest".
	Type string
	// Message is the frame's message JSON; unmarshal it into the TCS shape of Type.
	Message json.RawMessage
}

// StateChanges returns every SubmitTaskStateChange, SubmitContainerStateChange and
// SubmitAttachmentStateChanges request received since New, in arrival order, including
// those refused (for an unknown task, say): tests check what the agent sent.
func (s *Server) StateChanges() []StateChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.changes)
}

// Telemetry returns every TCS frame received since New, in arrival order.
func (s *Server) Telemetry() []TelemetryFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.telemetry)
}

// Sessions returns the number of connected ACS sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, set := range s.acs {
		n += len(set)
	}
	return n
}

// DropSessions closes every ACS and TCS websocket abruptly, without a close frame, as a
// network failure would, so tests can exercise the agent's reconnect. The agent may
// reconnect at once.
func (s *Server) DropSessions() {
	s.mu.Lock()
	conns := s.connsLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.closeNow()
	}
}

// closer is a session that can be dropped.
type closer interface{ closeNow() }

func (s *Server) connsLocked() []closer {
	var out []closer
	for _, set := range s.acs {
		for a := range set {
			out = append(out, a)
		}
	}
	for t := range s.tcs {
		out = append(out, t)
	}
	return out
}

// SendRawACS writes data, as is, as one text frame on every ACS session of the container
// instance: tests use it to feed an agent malformed, unknown or oversized frames through
// its real session. It returns the number of sessions written to.
func (s *Server) SendRawACS(ctx context.Context, instanceARN string, data []byte) (int, error) {
	s.mu.Lock()
	var sessions []*acsSession
	for a := range s.acs[instanceARN] {
		sessions = append(sessions, a)
	}
	s.mu.Unlock()
	for _, a := range sessions {
		if err := writeFrame(ctx, a.conn, data); err != nil {
			return 0, fmt.Errorf("send raw frame: %w", err)
		}
	}
	return len(sessions), nil
}
