// Package spotdrain watches for a Spot interruption notice and drains the container
// instance once (ECS_ENABLE_SPOT_INSTANCE_DRAINING): EC2 publishes the notice in the
// instance metadata (spot/instance-action) about two minutes before it stops, hibernates
// or terminates the instance, and a container instance set to DRAINING in that window
// gets no new tasks while ECS moves its service tasks elsewhere.
//
// As the reference agent does, the path is polled every second (it answers 404 until a
// notice exists), a notice whose action is not stop, hibernate or terminate is logged and
// ignored, and a drain that fails is tried again at the next poll until it succeeds once.
package spotdrain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	"github.com/ecsd/ecsd/internal/imdsget"
)

// Path is the metadata path of the Spot interruption notice.
const Path = "spot/instance-action"

// DefaultInterval is the reference agent's polling period.
const DefaultInterval = time.Second

// Notice is the content of spot/instance-action.
type Notice struct {
	Action string `json:"action"`
	Time   string `json:"time"`
}

// Options configures Run.
type Options struct {
	// Metadata reads IMDS.
	Metadata imdsget.Getter
	// Drain sets the container instance DRAINING (UpdateContainerInstancesState).
	Drain func(ctx context.Context) error
	// Interval is the polling period; zero is DefaultInterval.
	Interval time.Duration
	// Clock paces the polls; nil is the real clock.
	Clock clock.Clock
	Log   logr.Logger
}

// ParseNotice decodes a notice; it is an error unless the action is one EC2 announces.
func ParseNotice(body string) (Notice, error) {
	var n Notice
	if err := json.Unmarshal([]byte(body), &n); err != nil {
		return Notice{}, fmt.Errorf("malformed Spot instance action %q: %w", body, err)
	}
	switch n.Action {
	case "stop", "hibernate", "terminate":
		return n, nil
	}
	return Notice{}, fmt.Errorf("unrecognised Spot instance action %q in %q", n.Action, body)
}

// Run polls until a notice is seen and the instance is drained (it returns nil), or ctx
// ends (it returns ctx's error). It logs a failing IMDS once when the failures start and
// once when they end, not every second.
func Run(ctx context.Context, o Options) error {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	p := poller{o: o}
	for {
		if p.poll(ctx) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-o.Clock.After(o.Interval):
		}
	}
}

// poller is one Run's memory between polls: what was last logged, so a steady failure
// is logged once.
type poller struct {
	o Options
	// failing is the IMDS error being reported ("" when IMDS answers).
	failing string
	// rejected is the last notice body logged as unusable.
	rejected string
	// noticed is set once a valid notice was logged.
	noticed bool
}

// poll looks once and drains on a notice; it reports whether the instance was drained.
func (p *poller) poll(ctx context.Context) bool {
	body, err := p.o.Metadata.Get(ctx, Path)
	switch {
	case errors.Is(err, imdsget.ErrNotFound):
		p.recovered()
		return false
	case err != nil:
		if msg := err.Error(); msg != p.failing {
			p.o.Log.Error(err, "cannot read the Spot instance action; polling on")
			p.failing = msg
		}
		return false
	}
	p.recovered()
	n, err := ParseNotice(body)
	if err != nil {
		if body != p.rejected {
			p.o.Log.Error(err, "ignoring the Spot instance action")
			p.rejected = body
		}
		return false
	}
	if !p.noticed {
		p.o.Log.Info("Spot interruption notice: setting the container instance DRAINING", "action", n.Action, "time", n.Time)
		p.noticed = true
	}
	if err := p.o.Drain(ctx); err != nil {
		p.o.Log.Error(err, "cannot set the container instance DRAINING; trying again", "in", p.o.Interval)
		return false
	}
	p.o.Log.Info("container instance set to DRAINING for the Spot interruption", "action", n.Action, "time", n.Time)
	return true
}

// recovered logs the end of a run of IMDS failures.
func (p *poller) recovered() {
	if p.failing != "" {
		p.o.Log.Info("the instance metadata service answers again; watching for Spot interruption notices")
		p.failing = ""
	}
}
