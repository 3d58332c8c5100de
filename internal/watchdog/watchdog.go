// Package watchdog feeds systemd's service watchdog (WatchdogSec= in the unit): while the
// agent is healthy it sends WATCHDOG=1 every half of the watchdog timeout systemd gives it
// in $WATCHDOG_USEC, so that an agent that wedges (a deadlocked store, a stuck loop)
// stops sending, and systemd kills and restarts it once the timeout passes.
//
// Health is a check the agent supplies, run once per period. A check that fails, or is
// still running when the next period starts, sends nothing for that period; systemd acts
// only when no ping came for the whole timeout, i.e. after about two periods.
package watchdog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
)

// Ping is the notification that resets systemd's watchdog timer.
const Ping = "WATCHDOG=1"

// ErrStillRunning is what a check that outlived its period counts as.
var ErrStillRunning = errors.New("the health check did not finish within the watchdog period")

// Timeout reads systemd's watchdog timeout from the environment: $WATCHDOG_USEC
// (microseconds), for this process (pid) unless $WATCHDOG_PID names another one. ok is
// false when systemd set no watchdog for this process; a malformed value is an error.
func Timeout(getenv func(string) string, pid int) (d time.Duration, ok bool, err error) {
	usec := getenv("WATCHDOG_USEC")
	if usec == "" {
		return 0, false, nil
	}
	if p := getenv("WATCHDOG_PID"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return 0, false, fmt.Errorf("WATCHDOG_PID=%q is not a process ID", p)
		}
		if n != pid {
			return 0, false, nil // meant for another process (we were started by one)
		}
	}
	n, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || n == 0 {
		return 0, false, fmt.Errorf("WATCHDOG_USEC=%q is not a positive number of microseconds", usec)
	}
	return time.Duration(n) * time.Microsecond, true, nil
}

// Options configure Run.
type Options struct {
	// Timeout is systemd's watchdog timeout; Run pings every Timeout/2.
	Timeout time.Duration
	// Check tells whether the agent is healthy. Its context ends when the next period
	// starts (or Run returns); a check that ignores it only delays the next one.
	Check func(ctx context.Context) error
	// Notify sends a state to systemd (sd_notify).
	Notify func(state string) error
	// Clock runs the period; nil is the real clock.
	Clock clock.WithTicker
	Log   logr.Logger

	// handled, when set (tests), is told after the loop has dealt with a check's outcome:
	// its error (ErrStillRunning for one that outlived its period), whether it pinged,
	// and whether it was a stale answer, ignored.
	handled func(err error, pinged, stale bool)
}

// Run checks at once and then every Timeout/2, sending Ping after each check that passes,
// until ctx ends; it returns nil then.
func Run(ctx context.Context, o Options) error {
	if o.Timeout <= 0 || o.Check == nil || o.Notify == nil {
		return errors.New("watchdog: timeout, check and notify are required")
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	period := o.Timeout / 2
	ticker := o.Clock.NewTicker(period)
	defer ticker.Stop()

	results := make(chan error, 1) // the one check in flight writes here and never blocks
	var cancelCheck context.CancelFunc
	inFlight, stale := false, false
	start := func() {
		var cctx context.Context
		cctx, cancelCheck = context.WithCancel(ctx)
		inFlight, stale = true, false
		go func() { results <- o.Check(cctx) }()
	}
	defer func() {
		if cancelCheck != nil {
			cancelCheck()
		}
	}()
	handled := func(err error, pinged, stale bool) {
		if o.handled != nil {
			o.handled(err, pinged, stale)
		}
	}
	healthy := true // what was logged last, so that only changes are logged
	report := func(err error) {
		switch {
		case err != nil && healthy:
			o.Log.Error(err, "the agent is unhealthy: not notifying systemd's watchdog, which restarts the agent if this lasts", "timeout", o.Timeout.String())
		case err == nil && !healthy:
			o.Log.Info("the agent is healthy again: notifying systemd's watchdog")
		}
		healthy = err == nil
	}
	o.Log.Info("notifying systemd's watchdog while healthy", "timeout", o.Timeout.String(), "every", period.String())
	start()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-results:
			inFlight = false
			cancelCheck()
			if stale {
				handled(err, false, true) // its period is over and was counted as failed
				continue
			}
			report(err)
			if err == nil {
				if nerr := o.Notify(Ping); nerr != nil {
					o.Log.Info("cannot notify systemd's watchdog", "error", nerr.Error())
				}
			}
			handled(err, err == nil, false)
		case <-ticker.C():
			if inFlight {
				if !stale {
					stale = true
					cancelCheck()
					report(ErrStillRunning)
					handled(ErrStillRunning, false, false)
				}
				continue
			}
			start()
		}
	}
}
