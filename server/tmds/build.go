package tmds

import (
	"context"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/server/metadata"
)

// docOptions selects the variant of a document: the versions differ only in which members
// they carry, never in how a member is computed.
type docOptions struct {
	v4 bool
	// runtimeNetworks adds bridge/host/none networks to non-awsvpc containers; the v2 task
	// document is the one place the reference agent leaves them out.
	runtimeNetworks bool
	withTags        bool
}

// minimumCPUUnits is what the runtime gets for a container without (or with 1) CPU units,
// and so what its limits report.
const minimumCPUUnits = 2

// taskResponse builds the task document from v.
func (h *handler) taskResponse(ctx context.Context, v *metadata.TaskView, in Instance, o docOptions) TaskResponse {
	t := v.Task
	resp := TaskResponse{
		Cluster:            in.Cluster,
		TaskARN:            t.Spec.ARN,
		Family:             t.Spec.Family,
		Revision:           t.Spec.Version,
		DesiredStatus:      metadata.TaskStatus(t.DesiredStatus()),
		KnownStatus:        metadata.TaskStatus(t.Status.KnownStatus),
		PullStartedAt:      metadata.Time(t.Status.PullStartedAt),
		PullStoppedAt:      metadata.Time(t.Status.PullStoppedAt),
		ExecutionStoppedAt: metadata.Time(t.Status.ExecutionStoppedAt),
		AvailabilityZone:   in.AvailabilityZone,
	}
	if t.Spec.CPU != 0 || t.Spec.Memory != 0 {
		resp.Limits = &LimitsResponse{}
		if t.Spec.CPU != 0 {
			cpu := t.Spec.CPU
			resp.Limits.CPU = &cpu
		}
		if t.Spec.Memory != 0 {
			mem := t.Spec.Memory
			resp.Limits.Memory = &mem
		}
	}
	for _, c := range v.Containers {
		if metadata.Created(c) {
			resp.Containers = append(resp.Containers, h.containerResponse(v, c, in, o))
		}
	}
	if o.v4 {
		for _, c := range v.Containers {
			if metadata.PulledNotCreated(c) {
				resp.Containers = append(resp.Containers, h.containerResponse(v, c, in, o))
			}
		}
		resp.LaunchType = t.Spec.LaunchType
		if resp.LaunchType == "" {
			resp.LaunchType = in.LaunchType
		}
		resp.VPCID = in.VPCID
		resp.ServiceName = t.Spec.ServiceName
		resp.FaultInjectionEnabled = new(bool)
		resp.AvailabilityZoneID = in.AvailabilityZoneID
	}
	if o.withTags {
		h.addTags(ctx, &resp, in, o.v4)
	}
	return resp
}

// containerResponse builds the document of container c of task v.
func (h *handler) containerResponse(v *metadata.TaskView, c *api.Container, in Instance, o docOptions) ContainerResponse {
	t := v.Task
	created := metadata.Created(c)
	cpu := float64(max(c.Spec.CPU, minimumCPUUnits))
	mem := c.Spec.Memory
	resp := ContainerResponse{
		ID:            c.Status.RuntimeID,
		Name:          c.Spec.Name,
		DockerName:    metadata.DockerName(t, c),
		Image:         c.Spec.Image,
		ImageID:       metadata.ImageID(c),
		Ports:         metadata.Ports(t, c, metadata.PortOptions{HostIP: o.v4}),
		DesiredStatus: metadata.ContainerDesiredStatus(c),
		KnownStatus:   metadata.ContainerStatus(c.Status.KnownStatus),
		Limits:        LimitsResponse{CPU: &cpu, Memory: &mem},
		CreatedAt:     metadata.Time(c.Status.CreatedAt),
		StartedAt:     metadata.Time(c.Status.StartedAt),
		FinishedAt:    metadata.Time(c.Status.FinishedAt),
		Type:          "NORMAL",
		Health:        health(c),
		Volumes:       metadata.Volumes(t, c, v.Containers, h.o.DataDir),
	}
	if c.Status.ExitCode != nil {
		code := int(*c.Status.ExitCode)
		resp.ExitCode = &code
	}
	if created {
		resp.Labels = api.RuntimeLabels(t, c, in.Cluster, h.o.AgentVersion)
		switch {
		case metadata.IsAWSVPC(t):
			resp.Networks = []metadata.Network{metadata.AWSVPCNetwork(v, o.v4)}
		case o.runtimeNetworks:
			resp.Networks = metadata.RuntimeNetworks(t, c)
		}
	}
	if o.v4 {
		if lc := c.Spec.LogConfig; lc != nil {
			resp.LogDriver = lc.Driver
			resp.LogOptions = lc.Options
		}
		resp.ContainerARN = c.Spec.ARN
		resp.RestartCount = metadata.RestartCount(c)
	}
	return resp
}

// health is reported only for a container with a health check, as in the reference agent;
// status is left out while still unknown.
func health(c *api.Container) *HealthResponse {
	hc := c.Spec.HealthCheck
	if hc == nil || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
		return nil
	}
	out := &HealthResponse{}
	if s := c.Status.Health; s != nil {
		if s.Status == api.HealthHealthy || s.Status == api.HealthUnhealthy {
			out.Status = string(s.Status)
		}
		out.Since = metadata.Time(s.Since)
		out.ExitCode = int(s.ExitCode)
		out.Output = s.Output
	}
	return out
}
