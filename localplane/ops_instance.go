package localplane

import (
	"context"
	"strings"
)

// attrAvailabilityZone is the attribute ECS adds at registration; the agent reads its AZ
// from it.
const attrAvailabilityZone = "ecs.availability-zone"

func (s *Server) registerContainerInstance(_ context.Context, in *registerContainerInstanceRequest) (*containerInstanceResponse, error) {
	for _, a := range in.Attributes {
		if err := checkAttribute(a); err != nil {
			return nil, err
		}
	}
	iid := parseIdentityDocument(in.InstanceIdentityDocument)
	var out containerInstanceResponse
	var adopted, reregistered bool
	err := s.update(func(st *state) error {
		c := s.cluster(st, in.Cluster)
		if c == nil {
			// RegisterContainerInstance models no ClusterNotFoundException; the agent
			// recognises this message and creates the default cluster.
			return errClient("Cluster not found.")
		}
		var inst *instanceRecord
		switch {
		case in.ContainerInstanceArn != "":
			arn, ok := s.arn.scoped("container-instance", c.Name, in.ContainerInstanceArn)
			if !ok || !strings.HasPrefix(arn, s.arn.instance(c.Name, "")) || !validName(lastSegment(arn)) {
				return errInvalidParameter("Invalid container instance ARN %q for cluster %s.", in.ContainerInstanceArn, c.Name)
			}
			inst = st.Instances[arn]
			switch {
			case inst == nil:
				// An ARN of this account that the state does not know (its state file was
				// removed while the agent kept its own): take it, rather than making the
				// agent exit and demand a manual clean-up.
				// Its agent may have seen sequence numbers of this plane's earlier life, and
				// would discard every manifest numbered below them: the sequence restarts
				// from the current Unix time, above anything an earlier life sent unless it
				// averaged more than one message a second. (ACS's seqNum is a 32-bit
				// integer, which Unix seconds fit until 2038.)
				inst = &instanceRecord{ARN: arn, Cluster: c.Name, Status: statusActive, RegisteredAt: At(s.now()),
					SeqNum: s.now().Unix()}
				st.Registrations++
				inst.Order = st.Registrations
				st.Instances[arn] = inst
				adopted = true
			case inst.Cluster != c.Name:
				return errInvalidParameter("Container instance %s is registered to cluster %s.", arn, inst.Cluster)
			case !registered(inst.Status):
				return errClient("The container instance %s is %s and cannot be re-registered.", arn, inst.Status)
			default:
				reregistered = true
			}
		case in.ClientToken != "":
			// The same registration retried: answer with the instance it created.
			for _, cand := range st.instancesOf(c.Name, statusActive, statusDraining) {
				if cand.ClientToken == in.ClientToken {
					inst = cand
				}
			}
		}
		if inst == nil {
			inst = &instanceRecord{ARN: s.arn.instance(c.Name, randomHex(16)), Cluster: c.Name,
				Status: statusActive, RegisteredAt: At(s.now()), ClientToken: in.ClientToken}
			st.Registrations++
			inst.Order = st.Registrations
			st.Instances[inst.ARN] = inst
		}
		inst.AvailabilityZone = s.opts.Region + "a"
		if iid.AvailabilityZone != "" {
			inst.AvailabilityZone = iid.AvailabilityZone
		}
		if iid.InstanceID != "" {
			inst.EC2InstanceID = iid.InstanceID
		}
		inst.Attributes = mergeAttributes(inst.Attributes, in.Attributes, inst.AvailabilityZone)
		inst.Resources = normalizeResources(in.TotalResources)
		inst.PlatformDevices = in.PlatformDevices
		if len(in.Tags) > 0 {
			inst.Tags = in.Tags
		}
		if in.VersionInfo != nil {
			inst.VersionInfo = *in.VersionInfo
		}
		inst.Version++
		out.ContainerInstance = s.instanceOutput(st, inst, nil)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("container instance registered", "containerInstance", out.ContainerInstance.ContainerInstanceArn,
		"reregistered", reregistered, "adopted", adopted)
	return &out, nil
}

// instanceOutput renders an instance; include is DescribeContainerInstances' include.
func (s *Server) instanceOutput(st *state, inst *instanceRecord, include []string) containerInstanceOutput {
	out := containerInstanceOutput{
		ContainerInstanceArn: inst.ARN,
		EC2InstanceID:        inst.EC2InstanceID,
		Version:              inst.Version,
		VersionInfo:          inst.VersionInfo,
		RegisteredResources:  nonNil(inst.Resources),
		RemainingResources:   capacityOf(st, inst, nil).remainingResources(inst.Resources),
		Status:               inst.Status,
		AgentConnected:       len(s.acs[inst.ARN]) > 0,
		Attributes:           nonNil(inst.Attributes),
		RegisteredAt:         inst.RegisteredAt,
		Attachments:          []struct{}{},
		Tags:                 []tag{},
	}
	for _, t := range st.tasksOn(inst.ARN) {
		switch t.LastStatus {
		case taskRunning:
			out.RunningTasksCount++
		case taskStopped:
		default:
			out.PendingTasksCount++
		}
	}
	if u := inst.AgentUpdate; u != nil {
		out.AgentUpdateStatus, out.AgentUpdateReason = u.Status, u.Reason
	}
	if contains(include, "TAGS") {
		out.Tags = nonNil(inst.Tags)
	}
	if contains(include, "CONTAINER_INSTANCE_HEALTH") {
		out.HealthStatus = s.instHealth[inst.ARN]
		if out.HealthStatus == nil {
			out.HealthStatus = &instanceHealthStatus{OverallStatus: "INSUFFICIENT_DATA"}
		}
	}
	return out
}

func (s *Server) deregisterContainerInstance(_ context.Context, in *deregisterContainerInstanceRequest) (*containerInstanceResponse, error) {
	var out containerInstanceResponse
	err := s.update(func(st *state) error {
		c := s.cluster(st, in.Cluster)
		if c == nil {
			return errClusterNotFound()
		}
		arn, ok := s.arn.scoped("container-instance", c.Name, in.ContainerInstance)
		inst := st.Instances[arn]
		if !ok || inst == nil || inst.Cluster != c.Name {
			return errInvalidParameter("The referenced container instance %s was not found.", in.ContainerInstance)
		}
		if in.Force == nil || !*in.Force {
			for _, t := range st.tasksOn(arn) {
				if t.LastStatus != taskStopped {
					return errInvalidParameter("Found running tasks on the instance.")
				}
			}
		}
		if inst.Status != statusInactive {
			inst.Status = statusInactive
			inst.Version++
		}
		out.ContainerInstance = s.instanceOutput(st, inst, nil)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Drop its sessions: the agent reconnects and is told InactiveInstanceException.
	s.dropACS(out.ContainerInstance.ContainerInstanceArn)
	s.log.Info("container instance deregistered", "containerInstance", out.ContainerInstance.ContainerInstanceArn)
	return &out, nil
}

func (s *Server) listContainerInstances(_ context.Context, in *listContainerInstancesRequest) (*listContainerInstancesResponse, error) {
	if in.Filter != "" {
		return nil, errInvalidParameter("The cluster query language (filter) is not supported by the local control plane.")
	}
	statuses := []string{statusActive, statusDraining}
	if in.Status != "" {
		statuses = []string{in.Status}
	}
	var arns []string
	var err error
	s.view(func(st *state) {
		c := s.cluster(st, in.Cluster)
		if c == nil {
			err = errClusterNotFound()
			return
		}
		for _, inst := range st.instancesOf(c.Name, statuses...) {
			arns = append(arns, inst.ARN)
		}
	})
	if err != nil {
		return nil, err
	}
	p, next, err := page(arns, in.paging)
	if err != nil {
		return nil, err
	}
	return &listContainerInstancesResponse{ContainerInstanceArns: p, NextToken: next}, nil
}

// instanceIn resolves ref (an ID or an ARN) to a container instance of cluster c: its ARN
// and record, or, when c has no such instance, the ARN to name in a MISSING failure (ref
// itself when it is no valid reference) and nil.
func (s *Server) instanceIn(st *state, c *clusterRecord, ref string) (string, *instanceRecord) {
	arn, ok := s.arn.scoped("container-instance", c.Name, ref)
	if !ok {
		return ref, nil
	}
	if inst := st.Instances[arn]; inst != nil && inst.Cluster == c.Name {
		return arn, inst
	}
	return arn, nil
}

func (s *Server) describeContainerInstances(_ context.Context, in *describeContainerInstancesRequest) (*describeContainerInstancesResponse, error) {
	if len(in.ContainerInstances) == 0 || len(in.ContainerInstances) > 100 {
		return nil, errInvalidParameter("containerInstances must have between 1 and 100 entries.")
	}
	out := describeContainerInstancesResponse{ContainerInstances: []containerInstanceOutput{}, Failures: []failure{}}
	var err error
	s.view(func(st *state) {
		c := s.cluster(st, in.Cluster)
		if c == nil {
			err = errClusterNotFound()
			return
		}
		for _, ref := range in.ContainerInstances {
			arn, inst := s.instanceIn(st, c, ref)
			if inst == nil {
				out.Failures = append(out.Failures, failure{Arn: arn, Reason: "MISSING"})
				continue
			}
			out.ContainerInstances = append(out.ContainerInstances, s.instanceOutput(st, inst, in.Include))
		}
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// discoverPollEndpoint points the agent back at this server: it appends "/ws?..." to
// both, reaching the ACS and TCS handlers.
func (s *Server) discoverPollEndpoint(ctx context.Context, _ *discoverPollEndpointRequest) (*discoverPollEndpointResponse, error) {
	base := baseURL(ctx)
	return &discoverPollEndpointResponse{Endpoint: base + "/acs", TelemetryEndpoint: base + "/tcs"}, nil
}

// maxStateUpdates is UpdateContainerInstancesState's limit on containerInstances.
const maxStateUpdates = 10

// updateContainerInstancesState moves instances between ACTIVE and DRAINING. A draining
// instance gets no new tasks (placement takes ACTIVE instances only) but keeps its agent's
// sessions and its tasks: in ECS a service replaces them, and the local plane has no
// services. An instance that is unknown or deregistered is a failure, not an error, as in
// DescribeContainerInstances.
func (s *Server) updateContainerInstancesState(_ context.Context, in *updateContainerInstancesStateRequest) (*updateContainerInstancesStateResponse, error) {
	if in.Status != statusActive && in.Status != statusDraining {
		return nil, errInvalidParameter("Container instance status should be one of [ACTIVE, DRAINING], not %q.", in.Status)
	}
	if len(in.ContainerInstances) == 0 || len(in.ContainerInstances) > maxStateUpdates {
		return nil, errInvalidParameter("containerInstances must have between 1 and %d entries.", maxStateUpdates)
	}
	out := updateContainerInstancesStateResponse{ContainerInstances: []containerInstanceOutput{}, Failures: []failure{}}
	var changed []string
	err := s.update(func(st *state) error {
		c := s.cluster(st, in.Cluster)
		if c == nil {
			return errClusterNotFound()
		}
		for _, ref := range in.ContainerInstances {
			arn, inst := s.instanceIn(st, c, ref)
			switch {
			case inst == nil:
				out.Failures = append(out.Failures, failure{Arn: arn, Reason: "MISSING"})
				continue
			case !registered(inst.Status):
				out.Failures = append(out.Failures, failure{Arn: arn, Reason: inst.Status,
					Detail: "The container instance is deregistered."})
				continue
			case inst.Status != in.Status:
				inst.Status = in.Status
				inst.Version++
				changed = append(changed, arn)
			}
			out.ContainerInstances = append(out.ContainerInstances, s.instanceOutput(st, inst, nil))
		}
		if len(changed) == 0 {
			return errUnchanged
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, arn := range changed {
		s.log.Info("container instance state updated", "containerInstance", arn, "status", in.Status)
	}
	return &out, nil
}
