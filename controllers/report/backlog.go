package report

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// Backlog is what ECS has not yet acknowledged: the state changes the report controller
// still has to send, derived from objects exactly as the controller derives them, so
// that it can be read at any moment (the agent's metrics) without asking the
// controller.
type Backlog struct {
	// Changes counts the unsent changes: each task status (RUNNING, STOPPED) and each
	// container status not yet acknowledged is one.
	Changes int
	// Oldest is when the oldest of them happened; zero when there is none.
	Oldest time.Time
}

// Add counts the unsent changes of task t, whose Container objects are cs, into b. A
// change counts as soon as it happened, including one the controller holds back on
// purpose (a container change waiting to share a call, a STOPPED waiting for the
// network's release): it is waiting either way.
func (b *Backlog) Add(t *api.Task, cs []*api.Container) {
	if t.Spec.ARN == "" {
		return // never reported (see Reconcile)
	}
	known, sent := t.Status.KnownStatus.OrNone(), t.Status.SentStatus.OrNone()
	if sent.Before(api.TaskStatusRunning) && known.AtLeast(api.TaskStatusRunning) && reached(t.Status.History, string(api.TaskStatusRunning)) {
		b.add(transitionTime(t.Status.History, string(api.TaskStatusRunning), nil))
	}
	if sent.Before(api.TaskStatusStopped) && known == api.TaskStatusStopped {
		b.add(transitionTime(t.Status.History, string(api.TaskStatusStopped), t.Status.KnownStatusTime))
	}
	for _, c := range cs {
		known, sent := c.Status.KnownStatus.OrNone(), c.Status.SentStatus.OrNone()
		if sent.Before(api.ContainerStatusRunning) && known.AtLeast(api.ContainerStatusRunning) && c.Status.StartedAt != nil {
			b.add(c.Status.StartedAt.Time)
		}
		if sent.Before(api.ContainerStatusStopped) && known == api.ContainerStatusStopped {
			b.add(transitionTime(c.Status.History, string(api.ContainerStatusStopped), c.Status.FinishedAt))
		}
	}
}

func (b *Backlog) add(at time.Time) {
	b.Changes++
	if !at.IsZero() && (b.Oldest.IsZero() || at.Before(b.Oldest)) {
		b.Oldest = at
	}
}

// transitionTime is when the history recorded the move to status, else fallback (the
// history keeps the last api.MaxHistory entries only), else zero.
func transitionTime(h []api.Transition, status string, fallback *metav1.Time) time.Time {
	for _, tr := range h {
		if tr.To == status {
			return tr.Time.Time
		}
	}
	if fallback != nil {
		return fallback.Time
	}
	return time.Time{}
}
