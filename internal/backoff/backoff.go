// Package backoff is the one exponential backoff with jitter the agent uses for every retry
// loop: registration, the ACS and TCS reconnects, state submissions, the runtime event stream.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff is an exponential backoff with proportional jitter, as the reference agent uses
// everywhere (registration, ACS reconnects, state submissions) with different constants.
type Backoff struct {
	Min, Max time.Duration
	Factor   float64
	// Jitter is the fraction of each delay that is randomised (0.2 = ±20 %).
	Jitter float64
}

// Delay is the wait before retry number attempt (0-based).
func (b Backoff) Delay(attempt int) time.Duration {
	d := float64(b.Min)
	for i := 0; i < attempt && d < float64(b.Max); i++ {
		d *= b.Factor
	}
	d = min(d, float64(b.Max))
	if b.Jitter > 0 {
		d += d * b.Jitter * (2*rand.Float64() - 1)
	}
	return time.Duration(d)
}
