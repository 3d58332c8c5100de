package localplane

import (
	"strconv"
	"time"
)

// Creating, placing and forgetting task records; the API handlers are in ops_task.go.

// Task stop codes.
const (
	stopUserInitiated   = "UserInitiated"
	stopEssentialExited = "EssentialContainerExited"
	stopFailedToStart   = "TaskFailedToStart"
)

// taskSpec is a validated request to start tasks of one definition.
type taskSpec struct {
	def        *taskDefinition
	overrides  taskOverride
	containers []containerDefinition
	demand     demand
	startedBy  string
	group      string
	tags       []tag
	// network is the awsvpc configuration of an awsvpc task, nil otherwise.
	network *awsVpcConfiguration
}

// newTaskSpec validates the overrides against the definition and computes the demand.
func newTaskSpec(rec *taskDefRecord, ov *taskOverride, nc *networkConfiguration, startedBy, group string, tags []tag) (*taskSpec, error) {
	def := &rec.Def
	if def.Status != statusActive {
		return nil, errClient("TaskDefinition is inactive")
	}
	network, err := taskNetwork(def.NetworkMode, nc)
	if err != nil {
		return nil, err
	}
	spec := &taskSpec{def: def, startedBy: startedBy, group: group, tags: tags, network: network}
	if ov != nil {
		spec.overrides = *ov
	}
	if _, ok := parseTaskCPU(spec.overrides.CPU); !ok {
		return nil, errClient("Invalid 'cpu' setting for task.")
	}
	if _, ok := parseTaskMemory(spec.overrides.Memory); !ok {
		return nil, errClient("Invalid 'memory' setting for task.")
	}
	byName := map[string]containerOverride{}
	for _, co := range spec.overrides.ContainerOverrides {
		found := false
		for _, c := range def.ContainerDefinitions {
			found = found || c.Name == co.Name
		}
		if !found {
			return nil, errInvalidParameter("Override for container named %s is not a container in the TaskDefinition.", co.Name)
		}
		byName[co.Name] = co
	}
	// ECS echoes an override entry for every container.
	all := make([]containerOverride, 0, len(def.ContainerDefinitions))
	for _, c := range def.ContainerDefinitions {
		co, ok := byName[c.Name]
		if !ok {
			co = containerOverride{Name: c.Name}
		}
		all = append(all, co)
	}
	spec.overrides.ContainerOverrides = all
	spec.overrides.InferenceAcceleratorOverrides = nonNil(spec.overrides.InferenceAcceleratorOverrides)
	spec.containers, _ = effectiveContainers(def, &spec.overrides)
	spec.demand = taskDemand(def, &spec.overrides, spec.containers)
	if spec.group == "" {
		spec.group = "family:" + def.Family
	}
	return spec, nil
}

// placementFailure returns the zero failure if a task of definition def and demand d can go
// on inst now (extra being the tasks placed on it by the same request), else ECS's failure
// for inst: its reason, and for ATTRIBUTE the attribute missing in the detail.
func (s *Server) placementFailure(st *state, inst *instanceRecord, def *taskDefinition, d demand, extra []demand) failure {
	if inst.Status != statusActive {
		return failure{Arn: inst.ARN, Reason: "MISSING"}
	}
	if len(s.acs[inst.ARN]) == 0 {
		// ECS does not place tasks on an instance whose agent is disconnected.
		return failure{Arn: inst.ARN, Reason: "AGENT"}
	}
	// ECS places a task only where every attribute it requires was registered; its
	// failure reason is ATTRIBUTE. Computed from the definition rather than read from the
	// stored record, so definitions registered before the rules existed are checked too.
	if name := missingAttribute(inst, requiredAttributes(def)); name != "" {
		return failure{Arn: inst.ARN, Reason: "ATTRIBUTE", Detail: "the container instance lacks the required attribute " + name}
	}
	if reason := capacityOf(st, inst, extra).fit(d); reason != "" {
		return failure{Arn: inst.ARN, Reason: reason}
	}
	return failure{}
}

// stoppedRetention is how long a STOPPED task stays describable; ECS keeps them for
// about an hour.
const stoppedRetention = time.Hour

// pruneLocked forgets tasks that have been STOPPED longer than stoppedRetention, so a
// long-running control plane does not accumulate them.
func (s *Server) pruneLocked(st *state) {
	cutoff := s.now().Add(-stoppedRetention)
	for arn, t := range st.Tasks {
		if t.LastStatus == taskStopped && !t.StoppedAt.IsZero() && t.StoppedAt.Before(cutoff) {
			delete(st.Tasks, arn)
			delete(s.health, arn)
		}
	}
	s.pruneRunTokens(st)
}

// createTask records a new task of spec and launchType on inst, with eni (nil unless
// awsvpc).
func (s *Server) createTask(st *state, c *clusterRecord, inst *instanceRecord, spec *taskSpec, launchType string, eni *eniRecord) *taskRecord {
	id := randomHex(16)
	now := s.now()
	t := &taskRecord{
		ARN:               s.arn.task(c.Name, id),
		Cluster:           c.Name,
		ContainerInstance: inst.ARN,
		TaskDefinitionArn: spec.def.TaskDefinitionArn,
		LaunchType:        launchType,
		Family:            spec.def.Family,
		Revision:          spec.def.Revision,
		Overrides:         spec.overrides,
		StartedBy:         spec.startedBy,
		Group:             spec.group,
		Tags:              spec.tags,
		DesiredStatus:     taskRunning,
		LastStatus:        taskPending,
		Version:           1,
		CreatedAt:         At(now),
		Demand:            spec.demand,
		ENI:               eni,
	}
	for _, cd := range spec.containers {
		cr := &containerRecord{Name: cd.Name, ARN: s.arn.container(c.Name, id), Image: cd.Image,
			Essential: derefOr(cd.Essential, true), CPU: strconv.Itoa(int(cd.CPU)), LastStatus: taskPending}
		if cd.Memory != nil {
			cr.Memory = strconv.Itoa(int(*cd.Memory))
		}
		if cd.MemoryReservation != nil {
			cr.MemoryReservation = strconv.Itoa(int(*cd.MemoryReservation))
		}
		t.Containers = append(t.Containers, cr)
	}
	if role := firstNonEmpty(spec.overrides.TaskRoleArn, spec.def.TaskRoleArn); role != "" {
		t.RoleCredentials = newRoleCredentials(role, now)
	}
	if role := firstNonEmpty(spec.overrides.ExecutionRoleArn, spec.def.ExecutionRoleArn); role != "" {
		t.ExecutionRoleCredentials = newRoleCredentials(role, now)
	}
	st.Tasks[t.ARN] = t
	return t
}
