package backoff

import (
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 30 * time.Second, Factor: 2}
	for attempt, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second} {
		if got := b.Delay(attempt); got != want {
			t.Errorf("Delay(%d) = %s, want %s", attempt, got, want)
		}
	}
	j := Backoff{Min: time.Second, Max: time.Minute, Factor: 2, Jitter: 0.2}
	for range 100 {
		if d := j.Delay(2); d < 3200*time.Millisecond || d > 4800*time.Millisecond {
			t.Fatalf("Delay(2) with 20%% jitter = %s, want 4 s ± 20%%", d)
		}
	}
}
