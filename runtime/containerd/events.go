package containerd

import (
	"context"
	"fmt"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/v2/core/events"
	"github.com/containerd/typeurl/v2"

	"github.com/ecsd/ecsd/runtime"
)

// eventTopics are the containerd topics translated into runtime events.
var eventTopics = []string{
	"/tasks/start",
	"/tasks/exit",
	"/tasks/oom",
	"/containers/create",
	"/containers/delete",
}

// eventBuffer decouples a slow consumer from containerd's stream for short bursts.
const eventBuffer = 128

// Events streams lifecycle events for the runtime's namespace until ctx ends, when the
// event channel is closed. A broken stream sends one error on the error channel and closes
// both; callers relist and resubscribe. Exits of exec processes are filtered out. An OOM
// event is also recorded on the container (best effort) so InspectContainer reports it.
func (r *Runtime) Events(ctx context.Context) (<-chan runtime.Event, <-chan error) {
	out := make(chan runtime.Event, eventBuffer)
	errc := make(chan error, 1)
	ctx = r.withNS(ctx)
	filters := make([]string, 0, len(eventTopics))
	for _, t := range eventTopics {
		filters = append(filters, fmt.Sprintf(`namespace==%q,topic==%q`, r.namespace, t))
	}
	envC, subErrC := r.client.Subscribe(ctx, filters...)
	go func() {
		defer close(errc)
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case err, ok := <-subErrC:
				if ctx.Err() != nil {
					return
				}
				if !ok {
					err = fmt.Errorf("event stream closed")
				}
				errc <- wrapErr(err, "containerd event stream")
				return
			case env, ok := <-envC:
				if !ok {
					continue // subErrC reports why
				}
				ev, ok := r.translate(ctx, env)
				if !ok {
					continue
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, errc
}

// translate decodes one envelope; ok is false for events that are not ours to report.
func (r *Runtime) translate(ctx context.Context, env *events.Envelope) (runtime.Event, bool) {
	if env.Event == nil {
		return runtime.Event{}, false
	}
	v, err := typeurl.UnmarshalAny(env.Event)
	if err != nil {
		r.log.Error(err, "decoding containerd event", "topic", env.Topic)
		return runtime.Event{}, false
	}
	ev := runtime.Event{Time: env.Timestamp}
	switch e := v.(type) {
	case *apievents.TaskStart:
		ev.Type, ev.ContainerID = runtime.EventStart, e.ContainerID
	case *apievents.TaskExit:
		if e.ID != e.ContainerID {
			return runtime.Event{}, false // an exec process, not the container
		}
		ev.Type, ev.ContainerID, ev.ExitCode = runtime.EventExit, e.ContainerID, int32(e.ExitStatus)
		if e.ExitedAt != nil {
			ev.Time = e.ExitedAt.AsTime()
		}
	case *apievents.TaskOOM:
		ev.Type, ev.ContainerID = runtime.EventOOM, e.ContainerID
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		r.markOOM(mctx, e.ContainerID)
		cancel()
	case *apievents.ContainerCreate:
		ev.Type, ev.ContainerID = runtime.EventCreate, e.ID
	case *apievents.ContainerDelete:
		ev.Type, ev.ContainerID = runtime.EventDelete, e.ID
	default:
		return runtime.Event{}, false
	}
	return ev, true
}
