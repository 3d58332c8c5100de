package localplane

import (
	"context"
	"sort"
)

func (s *Server) runTask(_ context.Context, in *runTaskRequest) (*tasksResponse, error) {
	count := 1
	if in.Count != nil {
		count = int(*in.Count)
	}
	if err := checkRunTaskCount(count); err != nil {
		return nil, err
	}
	launchType := in.LaunchType
	switch launchType {
	case "":
		launchType = launchEC2
	case launchEC2, launchExternal:
	default:
		return nil, errInvalidParameter("Launch type %s is not supported by the local control plane.", in.LaunchType)
	}
	if isSet(in.CapacityProviderStrategy) {
		return nil, errInvalidParameter("Capacity providers are not supported by the local control plane.")
	}
	if len(in.PlacementConstraints) > 0 {
		return nil, errInvalidParameter("Placement constraints are not supported by the local control plane.")
	}
	if err := checkClientToken(in.ClientToken); err != nil {
		return nil, err
	}
	if err := checkStartedBy(in.StartedBy); err != nil {
		return nil, err
	}
	req := launchRequest{in.Cluster, in.TaskDefinition, in.Overrides, in.NetworkConfiguration, in.StartedBy, in.Group, in.Tags, in.PropagateTags, in.ClientToken, runTaskFingerprint(*in, count)}
	return s.launch(req, func(st *state, c *clusterRecord, spec *taskSpec, out *tasksResponse) ([]placement, error) {
		if err := checkCompatibility(spec.def, launchType); err != nil {
			return nil, err
		}
		// Only instances of the launch type: EXTERNAL tasks go to ECS Anywhere instances.
		var instances []*instanceRecord
		for _, inst := range st.instancesOf(c.Name, statusActive) {
			if instanceLaunchType(inst) == launchType {
				instances = append(instances, inst)
			}
		}
		if len(instances) == 0 {
			return nil, errInvalidParameter("No Container Instances were found in your cluster.")
		}
		extra := map[string][]demand{}
		reported := map[failure]bool{}
		var targets []placement
		spread := newSpread(st, instances)
		for range count {
			for _, inst := range spread.order() {
				f := s.placementFailure(st, inst, spec.def, spec.demand, extra[inst.ARN])
				if f.Reason == "" {
					extra[inst.ARN] = append(extra[inst.ARN], spec.demand)
					spread.placed(inst)
					targets = append(targets, placement{inst, launchType})
					break
				}
				if !reported[f] {
					reported[f] = true
					out.Failures = append(out.Failures, f)
				}
			}
		}
		return targets, nil
	})
}

func (s *Server) startTask(_ context.Context, in *startTaskRequest) (*tasksResponse, error) {
	if len(in.ContainerInstances) == 0 || len(in.ContainerInstances) > 10 {
		return nil, errInvalidParameter("containerInstances must have between 1 and 10 entries.")
	}
	if err := checkStartedBy(in.StartedBy); err != nil {
		return nil, err
	}
	req := launchRequest{in.Cluster, in.TaskDefinition, in.Overrides, in.NetworkConfiguration, in.StartedBy, in.Group, in.Tags, in.PropagateTags, "", ""}
	return s.launch(req, func(st *state, c *clusterRecord, spec *taskSpec, out *tasksResponse) ([]placement, error) {
		extra := map[string][]demand{}
		var targets []placement
		for _, ref := range in.ContainerInstances {
			arn, inst := s.instanceIn(st, c, ref)
			if inst == nil {
				out.Failures = append(out.Failures, failure{Arn: arn, Reason: "MISSING"})
				continue
			}
			if f := s.placementFailure(st, inst, spec.def, spec.demand, extra[arn]); f.Reason != "" {
				f.Arn = arn
				out.Failures = append(out.Failures, f)
				continue
			}
			extra[arn] = append(extra[arn], spec.demand)
			// StartTask names no launch type: the task has its instance's.
			targets = append(targets, placement{inst, instanceLaunchType(inst)})
		}
		return targets, nil
	})
}

// launchRequest is what RunTask and StartTask share.
type launchRequest struct {
	cluster, taskDefinition string
	overrides               *taskOverride
	networkConfiguration    *networkConfiguration
	startedBy, group        string
	tags                    []tag
	// propagateTags is RunTask's and StartTask's: TASK_DEFINITION adds the definition's tags.
	propagateTags string
	// clientToken is RunTask's idempotency token ("" for none) and fingerprint the digest
	// of its parameters.
	clientToken, fingerprint string
}

// placement is an instance chosen for a task, and the task's launch type.
type placement struct {
	inst       *instanceRecord
	launchType string
}

// launch resolves the cluster and task definition and builds the task spec, then creates
// one task on each instance place picks (place records failures in out), each awsvpc task
// with a new ENI, and wakes those instances' ACS sessions. With a client token it is
// idempotent: a token already used answers with the tasks it placed. The tasks, their
// ENIs and the token are one state change: saved together before RunTask answers or any
// payload is sent, or not at all.
func (s *Server) launch(in launchRequest, place func(st *state, c *clusterRecord, spec *taskSpec, out *tasksResponse) ([]placement, error)) (*tasksResponse, error) {
	out := &tasksResponse{Tasks: []taskOutput{}, Failures: []failure{}}
	var placed []*taskRecord
	err := s.update(func(st *state) error {
		c := s.cluster(st, in.cluster)
		if c == nil {
			return errClusterNotFound()
		}
		s.pruneLocked(st)
		if in.clientToken != "" {
			if rec := st.RunTokens[runTokenKey(c.Name, in.clientToken)]; rec != nil {
				replay, err := s.replayRunTask(st, rec, in.fingerprint)
				if err != nil {
					return err
				}
				out = replay
				return errUnchanged
			}
		}
		rec, ok := s.taskDef(st, in.taskDefinition)
		if !ok {
			return errClient("TaskDefinition not found.")
		}
		tags, err := launchTags(rec, in.propagateTags, in.tags)
		if err != nil {
			return err
		}
		spec, err := newTaskSpec(rec, in.overrides, in.networkConfiguration, in.startedBy, in.group, tags)
		if err != nil {
			return err
		}
		targets, err := place(st, c, spec, out)
		if err != nil {
			return err
		}
		for _, p := range targets {
			var eni *eniRecord
			if spec.network != nil {
				var ok bool
				if eni, ok = s.allocateENI(st, spec.network); !ok {
					// ECS's reason when an instance cannot take another task ENI.
					out.Failures = append(out.Failures, failure{Arn: p.inst.ARN, Reason: "RESOURCE:ENI",
						Detail: "no free address in " + s.opts.ENISubnet.String()})
					continue
				}
			}
			t := s.createTask(st, c, p.inst, spec, p.launchType, eni)
			placed = append(placed, t)
			out.Tasks = append(out.Tasks, s.taskOutput(st, t, nil))
		}
		if len(placed) == 0 {
			// Nothing placed, nothing to remember: a retry tries again.
			return errUnchanged
		}
		if in.clientToken != "" {
			tok := &runToken{Fingerprint: in.fingerprint, Failures: out.Failures, CreatedAt: At(s.now())}
			for _, t := range placed {
				tok.Tasks = append(tok.Tasks, t.ARN)
			}
			st.RunTokens[runTokenKey(c.Name, in.clientToken)] = tok
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.announce(placed)
	return out, nil
}

// announce logs new tasks and wakes their instances' ACS sessions.
func (s *Server) announce(tasks []*taskRecord) {
	for _, t := range tasks {
		s.log.Info("task placed", "task", t.ARN, "taskDefinition", familyRevision(t.Family, t.Revision),
			"containerInstance", t.ContainerInstance)
		s.notify(t.ContainerInstance)
	}
}

func (s *Server) stopTask(_ context.Context, in *stopTaskRequest) (*stopTaskResponse, error) {
	var out stopTaskResponse
	var instance string
	var stopped bool
	err := s.update(func(st *state) error {
		c := s.cluster(st, in.Cluster)
		if c == nil {
			return errClusterNotFound()
		}
		t := s.task(st, c, in.Task)
		if t == nil {
			return errInvalidParameter("The referenced task was not found.")
		}
		if t.DesiredStatus == taskStopped {
			out.Task = s.taskOutput(st, t, nil)
			return errUnchanged
		}
		now := s.now()
		t.DesiredStatus = taskStopped
		t.StopCode = stopUserInitiated
		t.StoppedReason = firstNonEmpty(in.Reason, "Task stopped by user")
		t.StoppingAt = At(now)
		t.Version++
		if inst := st.Instances[t.ContainerInstance]; inst == nil || !registered(inst.Status) {
			// No agent will ever report it: it is stopped as far as ECS knows.
			s.finishTask(t, "", now)
		}
		out.Task = s.taskOutput(st, t, nil)
		instance, stopped = t.ContainerInstance, true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if stopped {
		s.log.Info("task stop requested", "task", out.Task.TaskArn, "reason", out.Task.StoppedReason)
		s.notify(instance)
	}
	return &out, nil
}

// task resolves a task reference (ID or ARN) in cluster c, or nil.
func (s *Server) task(st *state, c *clusterRecord, ref string) *taskRecord {
	arn, ok := s.arn.scoped("task", c.Name, ref)
	if !ok {
		return nil
	}
	t := st.Tasks[arn]
	if t == nil || t.Cluster != c.Name {
		return nil
	}
	return t
}

func (s *Server) describeTasks(_ context.Context, in *describeTasksRequest) (*tasksResponse, error) {
	if len(in.Tasks) == 0 || len(in.Tasks) > 100 {
		return nil, errInvalidParameter("Tasks cannot be empty and can have at most 100 entries.")
	}
	out := tasksResponse{Tasks: []taskOutput{}, Failures: []failure{}}
	var err error
	s.view(func(st *state) {
		c := s.cluster(st, in.Cluster)
		if c == nil {
			err = errClusterNotFound()
			return
		}
		for _, ref := range in.Tasks {
			t := s.task(st, c, ref)
			if t == nil {
				arn, ok := s.arn.scoped("task", c.Name, ref)
				if !ok {
					arn = ref
				}
				out.Failures = append(out.Failures, failure{Arn: arn, Reason: "MISSING"})
				continue
			}
			out.Tasks = append(out.Tasks, s.taskOutput(st, t, in.Include))
		}
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (s *Server) listTasks(_ context.Context, in *listTasksRequest) (*listTasksResponse, error) {
	desired := in.DesiredStatus
	if desired == "" {
		desired = taskRunning
	}
	var tasks []*taskRecord
	var err error
	s.view(func(st *state) {
		c := s.cluster(st, in.Cluster)
		if c == nil {
			err = errClusterNotFound()
			return
		}
		instance := ""
		if in.ContainerInstance != "" {
			arn, ok := s.arn.scoped("container-instance", c.Name, in.ContainerInstance)
			if !ok {
				err = errInvalidParameter("Invalid containerInstance %q.", in.ContainerInstance)
				return
			}
			instance = arn
		}
		for _, t := range st.Tasks {
			switch {
			case t.Cluster != c.Name,
				t.DesiredStatus != desired,
				instance != "" && t.ContainerInstance != instance,
				in.Family != "" && t.Family != in.Family,
				in.StartedBy != "" && t.StartedBy != in.StartedBy,
				in.ServiceName != "", // no services here
				in.LaunchType != "" && in.LaunchType != t.launchType():
				continue
			}
			tasks = append(tasks, t)
		}
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(tasks, func(i, j int) bool {
		if !tasks[i].CreatedAt.Equal(tasks[j].CreatedAt.Time) {
			return tasks[i].CreatedAt.Before(tasks[j].CreatedAt.Time)
		}
		return tasks[i].ARN < tasks[j].ARN
	})
	arns := make([]string, len(tasks))
	for i, t := range tasks {
		arns[i] = t.ARN
	}
	p, next, err := page(arns, in.paging)
	if err != nil {
		return nil, err
	}
	return &listTasksResponse{TaskArns: p, NextToken: next}, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// isSet reports whether an optional raw JSON member was sent with a value.
func isSet(raw []byte) bool {
	return len(raw) > 0 && string(raw) != "null" && string(raw) != "[]"
}
