package report

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// event is the next state change of one task to submit, and the sent statuses to record
// once ECS has it.
type event struct {
	in        *ecs.SubmitTaskStateChangeInput
	taskSent  api.TaskState
	contSent  map[string]api.ContainerState // container object name → status sent
	flushWait time.Duration                 // > 0: a container-only change to send later
}

// nextEvent computes, from objects alone, the oldest state change ECS has not been told.
// Task changes go in order (RUNNING before STOPPED, even when the task already stopped);
// container changes ride on them, each container also in order. A change of containers
// only (the task status unchanged) is sent flushDelay after it happened, so changes close
// in time share one call. It returns nil when nothing is due.
func nextEvent(t *api.Task, cs []*api.Container, cluster string, now time.Time, flushDelay time.Duration) *event {
	known, sent := t.Status.KnownStatus.OrNone(), t.Status.SentStatus.OrNone()
	var status api.TaskState
	switch {
	case sent.Before(api.TaskStatusRunning) && known.AtLeast(api.TaskStatusRunning) && reached(t.Status.History, string(api.TaskStatusRunning)):
		status = api.TaskStatusRunning
	case sent.Before(api.TaskStatusStopped) && known == api.TaskStatusStopped && networkReleased(t, cs):
		status = api.TaskStatusStopped
	}
	ev := &event{contSent: map[string]api.ContainerState{}}
	var entries []types.ContainerStateChange
	var newest time.Time
	for _, c := range cs {
		cstatus, ok := containerNext(c)
		if !ok {
			continue
		}
		entries = append(entries, containerEntry(c, cstatus))
		ev.contSent[c.Name] = cstatus
		if at := lastChange(c); at.After(newest) {
			newest = at
		}
	}
	if status == "" {
		// Only container changes: the task keeps its reported status.
		if len(entries) == 0 || sent.Before(api.TaskStatusRunning) || sent == api.TaskStatusStopped {
			return nil
		}
		if wait := newest.Add(flushDelay).Sub(now); wait > 0 {
			return &event{flushWait: wait}
		}
		status = sent
	}
	ev.taskSent = status
	if cluster == "" || t.Spec.ClusterARN != "" {
		cluster = t.Spec.ClusterARN
	}
	in := &ecs.SubmitTaskStateChangeInput{
		Cluster:    aws.String(cluster),
		Task:       aws.String(t.Spec.ARN),
		Status:     aws.String(status.BackendStatus()),
		Containers: entries,
	}
	if status == api.TaskStatusStopped && t.Status.StoppedReason != "" {
		in.Reason = aws.String(truncate(t.Status.StoppedReason, 1024))
	}
	in.PullStartedAt = timePtr(t.Status.PullStartedAt)
	in.PullStoppedAt = timePtr(t.Status.PullStoppedAt)
	if status == api.TaskStatusStopped {
		in.ExecutionStoppedAt = timePtr(t.Status.ExecutionStoppedAt)
	}
	ev.in = in
	return ev
}

// networkReleased reports whether the task's host ports, addresses and ENI are free again.
// ECS hands a stopped task's ports and ENI address to the next task it places as soon as it
// hears STOPPED, so STOPPED waits for the release, as Docker frees a port before it reports
// the container dead.
func networkReleased(t *api.Task, cs []*api.Container) bool {
	if n := t.Status.Network; n != nil && n.ReleasedAt == nil {
		return false
	}
	for _, c := range cs {
		if n := c.Status.Network; n != nil && n.ReleasedAt == nil {
			return false
		}
	}
	return true
}

// containerNext is the status to send for c, whatever the task event it goes with: RUNNING
// first if it ran and ECS has not heard so, then STOPPED.
func containerNext(c *api.Container) (api.ContainerState, bool) {
	known, sent := c.Status.KnownStatus.OrNone(), c.Status.SentStatus.OrNone()
	if sent.Before(api.ContainerStatusRunning) && known.AtLeast(api.ContainerStatusRunning) && c.Status.StartedAt != nil {
		return api.ContainerStatusRunning, true
	}
	if sent.Before(api.ContainerStatusStopped) && known == api.ContainerStatusStopped {
		return api.ContainerStatusStopped, true
	}
	return "", false
}

func containerEntry(c *api.Container, status api.ContainerState) types.ContainerStateChange {
	e := types.ContainerStateChange{
		ContainerName: aws.String(c.Spec.Name),
		Status:        aws.String(string(status)),
	}
	if id := c.Status.RuntimeID; id != "" {
		e.RuntimeId = aws.String(truncate(id, 255))
	}
	if d := c.Status.ImageDigest; d != "" {
		e.ImageDigest = aws.String(truncate(d, 255))
	}
	if status == api.ContainerStatusStopped {
		if c.Status.ExitCode != nil {
			e.ExitCode = aws.Int32(*c.Status.ExitCode)
		}
		if c.Status.Reason != "" {
			e.Reason = aws.String(truncate(c.Status.Reason, 1024))
		}
	}
	for _, b := range c.Status.NetworkBindings {
		nb := types.NetworkBinding{BindIP: aws.String(b.BindIP), Protocol: types.TransportProtocol(b.Protocol)}
		if b.ContainerPortRange != "" {
			nb.ContainerPortRange = aws.String(b.ContainerPortRange)
			nb.HostPortRange = aws.String(b.HostPortRange)
		} else {
			nb.ContainerPort = aws.Int32(b.ContainerPort)
			nb.HostPort = aws.Int32(b.HostPort)
		}
		e.NetworkBindings = append(e.NetworkBindings, nb)
	}
	return e
}

// reached reports whether a status transition to status was recorded.
func reached(h []api.Transition, status string) bool {
	for _, tr := range h {
		if tr.To == status {
			return true
		}
	}
	return false
}

// lastChange is when c last changed status.
func lastChange(c *api.Container) time.Time {
	if n := len(c.Status.History); n > 0 {
		return c.Status.History[n-1].Time.Time
	}
	return time.Time{}
}

func timePtr(t *metav1.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	v := t.Time
	return &v
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
