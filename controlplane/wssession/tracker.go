package wssession

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Tracker records a session's connection state as the engine sees it, for readers on
// other goroutines: the agent's health check (is ACS connected, and since when is it
// not) and its metrics (connected, reconnects, time since the last frame). The engine
// writes it; anyone may read it with State.
type Tracker struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	s     State
}

// State is a Tracker's snapshot.
type State struct {
	// Connected is true while a session is up.
	Connected bool
	// Since is when the session came up (Connected) or went down; before the first
	// session, when the Tracker was made, so that an agent that never connects counts as
	// disconnected since it started.
	Since time.Time
	// LastFrame is when the last frame was received, whatever it was; zero before the
	// first.
	LastFrame time.Time
	// Connects counts the sessions that came up.
	Connects int64
}

// Reconnects is how many sessions came up after the first one.
func (s State) Reconnects() int64 { return max(s.Connects-1, 0) }

// NewTracker returns a Tracker that counts as disconnected from now on; nil clk is the
// real clock.
func NewTracker(clk clock.PassiveClock) *Tracker {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Tracker{clock: clk, s: State{Since: clk.Now()}}
}

// State returns the current state.
func (t *Tracker) State() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.s
}

// Now is the Tracker's clock, so that readers compute ages on the same time base.
func (t *Tracker) Now() time.Time { return t.clock.Now() }

// SetConnected records that a session came up (true) or went down; the engine calls it.
func (t *Tracker) SetConnected(up bool) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.s.Connected == up {
		return
	}
	t.s.Connected, t.s.Since = up, t.clock.Now()
	if up {
		t.s.Connects++
	}
}

// FrameReceived records that a frame arrived; the engine calls it.
func (t *Tracker) FrameReceived() {
	if t == nil {
		return
	}
	now := t.clock.Now()
	t.mu.Lock()
	t.s.LastFrame = now
	t.mu.Unlock()
}
