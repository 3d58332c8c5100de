package localplane

import (
	"context"
	"errors"
	"time"
)

// statusRank orders task and container statuses; state only moves forward, so a late or
// repeated report never takes a task back.
func statusRank(s string) int {
	switch s {
	case taskPending:
		return 1
	case taskRunning:
		return 2
	case taskStopped:
		return 3
	}
	return 0
}

// reportedStatus maps a reported status to a known one; ok is false for anything else.
// The agent reports MANIFEST_PULLED as PENDING, but accept it either way.
func reportedStatus(s string) (string, bool) {
	switch s {
	case "":
		return "", true
	case taskPending, "MANIFEST_PULLED":
		return taskPending, true
	case taskRunning, taskStopped:
		return s, true
	}
	return "", false
}

func (s *Server) submitTaskStateChange(_ context.Context, in *TaskStateChange) (*acknowledgment, error) {
	var stopped *taskRecord
	err := s.update(func(st *state) error {
		s.recordChangeLocked(StateChange{Operation: OpSubmitTaskStateChange, Received: s.now(), Task: in})
		status, ok := reportedStatus(in.Status)
		if !ok {
			return errInvalidParameter("Invalid task status %q.", in.Status)
		}
		for _, cc := range in.Containers {
			if _, ok := reportedStatus(cc.Status); !ok {
				return errInvalidParameter("Invalid container status %q.", cc.Status)
			}
		}
		t, err := s.reportedTask(st, in.Cluster, in.Task)
		if err != nil {
			return err
		}
		before := t.LastStatus
		if !s.applyTaskStateChange(t, in, status) {
			return errUnchanged
		}
		if before != taskStopped && t.LastStatus == taskStopped {
			stopped = t
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if stopped != nil {
		s.log.Info("task stopped", "task", in.Task, "reason", in.Reason)
	}
	return &acknowledgment{Acknowledgment: "ACK"}, nil
}

// reportedTask finds the task of a state change; an unknown one is
// InvalidParameterException, on which the agent drops the report instead of retrying.
func (s *Server) reportedTask(st *state, cluster, task string) (*taskRecord, error) {
	c := s.cluster(st, cluster)
	if c == nil {
		return nil, errInvalidParameter("Cluster %q not found.", cluster)
	}
	if task == "" {
		return nil, errInvalidParameter("task is required.")
	}
	t := s.task(st, c, task)
	if t == nil {
		return nil, errInvalidParameter("The referenced task %s was not found.", task)
	}
	return t, nil
}

// applyTaskStateChange applies a report to t and says whether anything changed.
func (s *Server) applyTaskStateChange(t *taskRecord, in *TaskStateChange, status string) bool {
	changed := setOnce(&t.PullStartedAt, in.PullStartedAt)
	changed = setOnce(&t.PullStoppedAt, in.PullStoppedAt) || changed
	changed = setOnce(&t.ExecutionStoppedAt, in.ExecutionStoppedAt) || changed
	for i := range in.Containers {
		cc := &in.Containers[i]
		cr := t.container(cc.ContainerName)
		if cr == nil {
			s.log.Info("ignoring a report for an unknown container", "task", t.ARN, "container", cc.ContainerName)
			continue
		}
		st, _ := reportedStatus(cc.Status)
		changed = applyContainerChange(cr, st, cc.RuntimeID, cc.ImageDigest, cc.ExitCode, cc.Reason, cc.NetworkBindings) || changed
	}
	changed = s.applyAttachmentReports(t, in.Attachments) || changed
	if statusRank(status) > statusRank(t.LastStatus) {
		now := s.now()
		switch status {
		case taskRunning:
			t.LastStatus = taskRunning
			setOnce(&t.StartedAt, At(now))
		case taskStopped:
			s.finishTask(t, in.Reason, now)
		default:
			t.LastStatus = status
		}
		changed = true
	}
	if changed {
		t.Version++
	}
	return changed
}

// applyContainerChange applies one container's report.
func applyContainerChange(cr *containerRecord, status, runtimeID, digest string, exitCode *int32, reason string, bindings []NetworkBinding) bool {
	changed := false
	if statusRank(status) > statusRank(cr.LastStatus) {
		cr.LastStatus = status
		changed = true
	}
	for _, f := range []struct {
		dst *string
		v   string
	}{{&cr.RuntimeID, runtimeID}, {&cr.ImageDigest, digest}, {&cr.Reason, reason}} {
		if f.v != "" && *f.dst != f.v {
			*f.dst = f.v
			changed = true
		}
	}
	if exitCode != nil && (cr.ExitCode == nil || *cr.ExitCode != *exitCode) {
		cr.ExitCode = ptr(*exitCode)
		changed = true
	}
	if len(bindings) > 0 {
		cr.NetworkBindings = bindings
		changed = true
	}
	return changed
}

// finishTask marks t STOPPED with ECS's stop code and reason: the user's when the user
// stopped it; TaskFailedToStart with the reported reason when it never ran; "Essential
// container in task exited" when an essential container stopped; else the reported
// reason. Its resources are released (they are only held by tasks not STOPPED), its ENI
// is deleted (its address freed), and there is nothing left to deliver to the agent.
func (s *Server) finishTask(t *taskRecord, reason string, now time.Time) {
	if t.StopCode == "" {
		switch {
		case t.StartedAt.IsZero():
			t.StopCode = stopFailedToStart
			t.StoppedReason = firstNonEmpty(reason, essentialReason(t), "Task failed to start")
		case essentialExited(t):
			t.StopCode = stopEssentialExited
			t.StoppedReason = "Essential container in task exited"
		default:
			t.StoppedReason = firstNonEmpty(reason, t.StoppedReason, "Task stopped")
		}
	}
	t.LastStatus = taskStopped
	t.DesiredStatus = taskStopped
	t.AckedDesired = taskStopped
	setOnce(&t.StoppingAt, At(now))
	setOnce(&t.ExecutionStoppedAt, At(now))
	setOnce(&t.StoppedAt, At(now))
	for _, c := range t.Containers {
		c.LastStatus = taskStopped
	}
	t.ENI.setAttachmentStatus(attachmentDeleted)
}

func essentialExited(t *taskRecord) bool {
	for _, c := range t.Containers {
		if c.Essential && c.LastStatus == taskStopped {
			return true
		}
	}
	return false
}

// essentialReason is the reason of the first essential container that has one (a pull
// or create error, say).
func essentialReason(t *taskRecord) string {
	for _, c := range t.Containers {
		if c.Essential && c.Reason != "" {
			return c.Reason
		}
	}
	return ""
}

// setOnce sets *dst to v if dst is unset and v is set.
func setOnce(dst *Timestamp, v Timestamp) bool {
	if dst.IsZero() && !v.IsZero() {
		*dst = v
		return true
	}
	return false
}

func (s *Server) submitContainerStateChange(_ context.Context, in *ContainerStateChangeRequest) (*acknowledgment, error) {
	err := s.update(func(st *state) error {
		s.recordChangeLocked(StateChange{Operation: OpSubmitContainerStateChange, Received: s.now(), Container: in})
		status, ok := reportedStatus(in.Status)
		if !ok {
			return errClient("Invalid container status %q.", in.Status)
		}
		t, err := s.reportedTask(st, in.Cluster, in.Task)
		if err != nil {
			var ae *apiError
			if errors.As(err, &ae) {
				return errClient("%s", ae.msg)
			}
			return err
		}
		cr := t.container(in.ContainerName)
		if cr == nil {
			return errClient("The referenced container %q was not found.", in.ContainerName)
		}
		if !applyContainerChange(cr, status, in.RuntimeID, "", in.ExitCode, in.Reason, in.NetworkBindings) {
			return errUnchanged
		}
		t.Version++
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &acknowledgment{Acknowledgment: "ACK"}, nil
}

// submitAttachmentStateChanges records the report and applies it to the task ENIs it
// names (ATTACHED, or DETACHED which deletes the ENI and frees its address). Attachments
// this control plane did not create (instance ENIs, EBS volumes) are acknowledged and
// otherwise ignored: nothing here waits for them.
func (s *Server) submitAttachmentStateChanges(_ context.Context, in *AttachmentStateChanges) (*acknowledgment, error) {
	err := s.update(func(st *state) error {
		s.recordChangeLocked(StateChange{Operation: OpSubmitAttachmentStateChanges, Received: s.now(), Attachments: in})
		if len(in.Attachments) == 0 {
			return errInvalidParameter("attachments must not be empty.")
		}
		changed := false
		for _, a := range in.Attachments {
			t := taskByAttachment(st, a.AttachmentArn)
			status, ok := reportedAttachmentStatus(a.Status)
			if t == nil || !ok || !t.ENI.setAttachmentStatus(status) {
				continue
			}
			t.Version++
			changed = true
		}
		if !changed {
			return errUnchanged
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &acknowledgment{Acknowledgment: "ACK"}, nil
}
