// Package warmpool keeps an instance of an Auto Scaling warm pool from registering with
// the cluster (ECS_WARM_POOLS_CHECK). An instance launched into a warm pool runs its user
// data, and so the agent, before it is stopped or hibernated to wait for a scale-out; if
// it registered then, ECS would see a container instance that vanishes. IMDS says where
// the instance is headed (autoscaling/target-lifecycle-state: "Warmed:Stopped",
// "Warmed:Running", ... and "InService"), and the agent waits until that is InService.
//
// The behaviour is the reference agent's: the state is polled once a minute; while IMDS
// answers 404 (no state yet) for up to 120 polls, then while the state is not InService
// for as long as it takes. Each read is retried five times (1 s growing to 5 s). Before a
// first state is seen, any failure other than a 404 ends the wait with an error; after
// it, throttling and server errors are waited out and other failures end it.
package warmpool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	"github.com/ecsd/ecsd/internal/backoff"
	"github.com/ecsd/ecsd/internal/imdsget"
)

// Path is the metadata path of the target lifecycle state.
const Path = "autoscaling/target-lifecycle-state"

// InService is the state that ends the wait.
const InService = "InService"

// The reference agent's constants.
const (
	DefaultPollInterval = time.Minute
	DefaultMaxPolls     = 120
	readAttempts        = 5
)

// readBackoff paces the retries of one read (the reference: 1 s × 1.3 up to 5 s, ±20 %).
var readBackoff = backoff.Backoff{Min: time.Second, Max: 5 * time.Second, Factor: 1.3, Jitter: 0.2}

// ErrNoLifecycleState is a wait that saw no lifecycle state in MaxPolls polls: the
// instance is not in an Auto Scaling group with a warm pool.
var ErrNoLifecycleState = errors.New("the instance metadata has no Auto Scaling target lifecycle state")

// Options configures Wait.
type Options struct {
	Metadata imdsget.Getter
	// PollInterval is the time between polls; zero is DefaultPollInterval.
	PollInterval time.Duration
	// MaxPolls bounds the polls while no state exists; zero is DefaultMaxPolls.
	MaxPolls int
	// Clock paces polls and retries; nil is the real clock.
	Clock clock.Clock
	Log   logr.Logger
}

// Wait returns nil once the target lifecycle state is InService, an error wrapping the
// last IMDS failure (or ErrNoLifecycleState) when it gives up, or ctx's error.
func Wait(ctx context.Context, o Options) error {
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.MaxPolls <= 0 {
		o.MaxPolls = DefaultMaxPolls
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	o.Log.Info("ECS_WARM_POOLS_CHECK: waiting for the instance to be InService before registering")
	state, err := firstState(ctx, o)
	if err != nil {
		return err
	}
	logged := ""
	for state != InService {
		if state != "" && state != logged {
			o.Log.Info("the instance is in a warm pool; not registering until it is InService", "targetLifecycleState", state)
			logged = state
		}
		if err := sleep(ctx, o.Clock, o.PollInterval); err != nil {
			return err
		}
		s, err := read(ctx, o)
		switch {
		case err == nil:
			state = s
		case imdsget.Transient(err):
			o.Log.Error(err, "cannot read the target lifecycle state; waiting on")
		default:
			return fmt.Errorf("waiting for the warm pool instance to be InService: %w", err)
		}
	}
	o.Log.Info("the instance is InService; registering", "targetLifecycleState", state)
	return nil
}

// firstState polls until IMDS has a state, MaxPolls 404s, or another failure.
func firstState(ctx context.Context, o Options) (string, error) {
	for i := 0; ; i++ {
		s, err := read(ctx, o)
		switch {
		case err == nil && s != "":
			return s, nil
		case err != nil && !errors.Is(err, imdsget.ErrNotFound):
			return "", fmt.Errorf("cannot determine the instance's target lifecycle state: %w", err)
		}
		if i+1 >= o.MaxPolls {
			return "", fmt.Errorf("%w after %d polls", ErrNoLifecycleState, o.MaxPolls)
		}
		if err := sleep(ctx, o.Clock, o.PollInterval); err != nil {
			return "", err
		}
	}
}

// read reads the state, retrying any failure but a 404 readAttempts times.
func read(ctx context.Context, o Options) (string, error) {
	var err error
	for attempt := range readAttempts {
		var s string
		s, err = o.Metadata.Get(ctx, Path)
		if err == nil || errors.Is(err, imdsget.ErrNotFound) {
			return s, err
		}
		if attempt < readAttempts-1 {
			if serr := sleep(ctx, o.Clock, readBackoff.Delay(attempt)); serr != nil {
				return "", serr
			}
		}
	}
	return "", err
}

func sleep(ctx context.Context, clk clock.Clock, d time.Duration) error {
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}
