package localplane

// Registry of websocket sessions. Sessions are kept in Server.acs and Server.tcs under
// Server.mu; each registered session holds one count of Server.wg until it ends, which is
// what Close waits for.

// maxRecorded bounds the test-hook recordings (StateChanges, Telemetry) so an embedded
// control plane running for weeks does not grow without bound; the oldest go first.
const (
	maxRecordedChanges   = 10000
	maxRecordedTelemetry = 2000
)

// addACS registers an ACS session, closing older sessions of the same instance (a new
// connection means the agent gave up on them). It returns false once the server is closed.
func (s *Server) addACS(a *acsSession) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	var old []*acsSession
	for prev := range s.acs[a.instance] {
		old = append(old, prev)
	}
	if s.acs[a.instance] == nil {
		s.acs[a.instance] = map[*acsSession]struct{}{}
	}
	s.acs[a.instance][a] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	for _, prev := range old {
		prev.log.Info("closing an older ACS session of the same container instance")
		prev.closeNow()
	}
	return true
}

// removeACS unregisters an ended ACS session.
func (s *Server) removeACS(a *acsSession) {
	s.mu.Lock()
	delete(s.acs[a.instance], a)
	if len(s.acs[a.instance]) == 0 {
		delete(s.acs, a.instance)
	}
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) addTCS(t *tcsSession) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.tcs[t] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) removeTCS(t *tcsSession) {
	s.mu.Lock()
	delete(s.tcs, t)
	s.mu.Unlock()
	s.wg.Done()
}

// notify wakes the ACS sessions of an instance so they deliver what changed.
func (s *Server) notify(instanceARN string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for a := range s.acs[instanceARN] {
		select {
		case a.kick <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// dropACS closes the ACS sessions of an instance.
func (s *Server) dropACS(instanceARN string) {
	s.mu.Lock()
	var sessions []*acsSession
	for a := range s.acs[instanceARN] {
		sessions = append(sessions, a)
	}
	s.mu.Unlock()
	for _, a := range sessions {
		a.closeNow()
	}
}

// recordTelemetry appends a TCS frame to the recording.
func (s *Server) recordTelemetry(f TelemetryFrame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.telemetry = appendBounded(s.telemetry, f, maxRecordedTelemetry)
}

// recordChange appends a state change to the recording; s.mu must be held.
func (s *Server) recordChangeLocked(c StateChange) {
	s.changes = appendBounded(s.changes, c, maxRecordedChanges)
}

// appendBounded appends v, first dropping the oldest half when list is full, so the
// copying is amortised.
func appendBounded[T any](list []T, v T, max int) []T {
	if len(list) >= max {
		list = append(list[:0:0], list[len(list)-max/2:]...)
	}
	return append(list, v)
}
