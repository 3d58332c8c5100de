package localplane

import (
	"context"
	"time"
)

// Task scale-in protection. ECS only honours it for service tasks and answers
// TASK_NOT_VALID for standalone ones; this control plane has no services, so every task
// may be protected, which is what lets the agent's task protection endpoint be exercised
// end to end. Protection has no effect here beyond being reported.

const (
	opUpdateTaskProtection = "UpdateTaskProtection"
	opGetTaskProtection    = "GetTaskProtection"

	// defaultProtectionMinutes applies when UpdateTaskProtection enables protection
	// without expiresInMinutes; maxProtectionMinutes is ECS's 48-hour limit.
	defaultProtectionMinutes = 120
	maxProtectionMinutes     = 2880

	maxUpdateProtectionTasks = 10
	maxGetProtectionTasks    = 100
)

// taskRoleOperation reports whether a task's role credentials may call op.
func taskRoleOperation(op string) bool {
	return op == opUpdateTaskProtection || op == opGetTaskProtection
}

func (s *Server) updateTaskProtection(ctx context.Context, in *updateTaskProtectionRequest) (*taskProtectionResponse, error) {
	if in.ProtectionEnabled == nil {
		return nil, errInvalidParameter("protectionEnabled must be specified.")
	}
	if len(in.Tasks) == 0 || len(in.Tasks) > maxUpdateProtectionTasks {
		return nil, errInvalidParameter("tasks must have between 1 and %d entries.", maxUpdateProtectionTasks)
	}
	minutes := int32(defaultProtectionMinutes)
	if in.ExpiresInMinutes != nil {
		minutes = *in.ExpiresInMinutes
		if minutes < 1 || minutes > maxProtectionMinutes {
			return nil, errInvalidParameter("expiresInMinutes must be between 1 and %d.", maxProtectionMinutes)
		}
	}
	who := principalOf(ctx)
	out := &taskProtectionResponse{ProtectedTasks: []protectedTask{}, Failures: []failure{}}
	var changed []protectedTask
	err := s.update(func(st *state) error {
		targets, err := s.protectionTargets(st, who, opUpdateTaskProtection, in.Cluster, in.Tasks)
		if err != nil {
			return err
		}
		now := s.now()
		var until Timestamp
		if *in.ProtectionEnabled {
			until = At(now.Add(time.Duration(minutes) * time.Minute))
		}
		for _, tg := range targets {
			if tg.task == nil {
				out.Failures = append(out.Failures, failure{Arn: tg.arn, Reason: "MISSING"})
				continue
			}
			if !tg.task.ProtectedUntil.Equal(until.Time) {
				tg.task.ProtectedUntil = until
				changed = append(changed, protectionOf(tg.task, now))
			}
			out.ProtectedTasks = append(out.ProtectedTasks, protectionOf(tg.task, now))
		}
		if len(changed) == 0 {
			return errUnchanged
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range changed {
		s.log.Info("task protection updated", "task", p.TaskArn, "protectionEnabled", p.ProtectionEnabled,
			"expirationDate", p.ExpirationDate.Time, "byTaskRole", who.isTask())
	}
	return out, nil
}

func (s *Server) getTaskProtection(ctx context.Context, in *getTaskProtectionRequest) (*taskProtectionResponse, error) {
	if len(in.Tasks) == 0 || len(in.Tasks) > maxGetProtectionTasks {
		return nil, errInvalidParameter("tasks must have between 1 and %d entries.", maxGetProtectionTasks)
	}
	who := principalOf(ctx)
	out := &taskProtectionResponse{ProtectedTasks: []protectedTask{}, Failures: []failure{}}
	var err error
	s.view(func(st *state) {
		var targets []protectionTarget
		targets, err = s.protectionTargets(st, who, opGetTaskProtection, in.Cluster, in.Tasks)
		if err != nil {
			return
		}
		now := s.now()
		for _, tg := range targets {
			if tg.task == nil {
				out.Failures = append(out.Failures, failure{Arn: tg.arn, Reason: "MISSING"})
				continue
			}
			out.ProtectedTasks = append(out.ProtectedTasks, protectionOf(tg.task, now))
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// protectionTarget is one entry of a request's tasks: its ARN (the reference itself when
// it cannot be resolved) and the task, nil when there is none in the cluster.
type protectionTarget struct {
	arn  string
	task *taskRecord
}

// protectionTargets resolves the cluster and the task references. A caller signing with
// a task's role credentials may only name that task: anything else is refused as a
// whole, before a task is touched and whether or not it exists, as IAM refuses the call
// without revealing what is in the cluster.
func (s *Server) protectionTargets(st *state, who principal, op, clusterRef string, refs []string) ([]protectionTarget, error) {
	c := s.cluster(st, clusterRef)
	if c == nil {
		if who.isTask() {
			return nil, errAccessDenied(who, s.opts.AccountID, op, clusterRef)
		}
		return nil, errClusterNotFound()
	}
	out := make([]protectionTarget, 0, len(refs))
	for _, ref := range refs {
		arn, ok := s.arn.scoped("task", c.Name, ref)
		if !ok {
			arn = ref
		}
		if who.isTask() && arn != who.task {
			return nil, errAccessDenied(who, s.opts.AccountID, op, arn)
		}
		out = append(out, protectionTarget{arn: arn, task: s.task(st, c, ref)})
	}
	return out, nil
}

// protectionOf is t's protection as the operations report it at now: a lapsed protection
// reads as disabled, without an expiration date.
func protectionOf(t *taskRecord, now time.Time) protectedTask {
	p := protectedTask{TaskArn: t.ARN}
	if !t.ProtectedUntil.IsZero() && now.Before(t.ProtectedUntil.Time) {
		p.ProtectionEnabled = true
		p.ExpirationDate = t.ProtectedUntil
	}
	return p
}
