package localplane

import "slices"

// taskOutput renders a task as DescribeTasks shows it; include is its include list.
func (s *Server) taskOutput(st *state, t *taskRecord, include []string) taskOutput {
	out := taskOutput{
		Attachments:          []attachmentOutput{},
		Attributes:           []attribute{},
		ClusterArn:           s.arn.cluster(t.Cluster),
		ContainerInstanceArn: t.ContainerInstance,
		CreatedAt:            t.CreatedAt,
		DesiredStatus:        t.DesiredStatus,
		ExecutionStoppedAt:   t.ExecutionStoppedAt,
		Group:                t.Group,
		LastStatus:           t.LastStatus,
		LaunchType:           t.launchType(),
		Overrides:            t.Overrides,
		PullStartedAt:        t.PullStartedAt,
		PullStoppedAt:        t.PullStoppedAt,
		StartedAt:            t.StartedAt,
		StartedBy:            t.StartedBy,
		StopCode:             t.StopCode,
		StoppedAt:            t.StoppedAt,
		StoppedReason:        t.StoppedReason,
		StoppingAt:           t.StoppingAt,
		Tags:                 []tag{},
		TaskArn:              t.ARN,
		TaskDefinitionArn:    t.TaskDefinitionArn,
		Version:              t.Version,
	}
	if inst := st.Instances[t.ContainerInstance]; inst != nil {
		out.AvailabilityZone = inst.AvailabilityZone
	}
	if len(s.acs[t.ContainerInstance]) > 0 {
		out.Connectivity = "CONNECTED"
	} else {
		out.Connectivity = "DISCONNECTED"
	}
	if rec, ok := s.taskDef(st, t.TaskDefinitionArn); ok {
		out.CPU = firstNonEmpty(t.Overrides.CPU, rec.Def.CPU)
		out.Memory = firstNonEmpty(t.Overrides.Memory, rec.Def.Memory)
	}
	if contains(include, "TAGS") {
		out.Tags = nonNil(t.Tags)
	}
	// An awsvpc task's ENI is its attachment, and every container's network interface.
	interfaces := []networkInterface{}
	if t.ENI != nil {
		out.Attachments = append(out.Attachments, attachmentOutputOf(t.ENI))
		interfaces = append(interfaces, networkInterface{AttachmentID: lastSegment(t.ENI.AttachmentARN), PrivateIPv4Address: t.ENI.IPv4})
	}
	health := s.health[t.ARN]
	out.HealthStatus = taskHealth(t, health)
	for _, c := range t.Containers {
		co := containerOutput{
			ContainerArn:      c.ARN,
			TaskArn:           t.ARN,
			Name:              c.Name,
			Image:             c.Image,
			ImageDigest:       c.ImageDigest,
			RuntimeID:         c.RuntimeID,
			LastStatus:        c.LastStatus,
			ExitCode:          c.ExitCode,
			Reason:            c.Reason,
			NetworkBindings:   nonNil(c.NetworkBindings),
			NetworkInterfaces: slices.Clone(interfaces),
			HealthStatus:      firstNonEmpty(health[c.Name], "UNKNOWN"),
			CPU:               c.CPU,
			Memory:            c.Memory,
			MemoryReservation: c.MemoryReservation,
		}
		out.Containers = append(out.Containers, co)
	}
	out.Containers = nonNil(out.Containers)
	return out
}

// taskHealth aggregates container health as ECS does: UNHEALTHY if an essential container
// is, HEALTHY if every essential container reporting health is healthy, else UNKNOWN.
func taskHealth(t *taskRecord, health map[string]string) string {
	reported := false
	for _, c := range t.Containers {
		if !c.Essential {
			continue
		}
		switch health[c.Name] {
		case "UNHEALTHY":
			return "UNHEALTHY"
		case "HEALTHY":
			reported = true
		}
	}
	if reported {
		return "HEALTHY"
	}
	return "UNKNOWN"
}
