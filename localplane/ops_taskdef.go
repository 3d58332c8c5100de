package localplane

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

func (s *Server) registerTaskDefinition(ctx context.Context, in *registerTaskDefinitionRequest) (*taskDefinitionResponse, error) {
	if err := checkTaskDefinitionSize(ctx); err != nil {
		return nil, err
	}
	def, err := s.checkTaskDefinition(in)
	if err != nil {
		return nil, err
	}
	if err := checkFieldSupport(in); err != nil {
		return nil, err
	}
	var out taskDefinitionResponse
	err = s.update(func(st *state) error {
		fam := st.Families[in.Family]
		if fam == nil {
			fam = &familyRecord{}
			st.Families[in.Family] = fam
		}
		d := def
		d.Revision = int32(len(fam.Revisions) + 1)
		d.TaskDefinitionArn = s.arn.taskDefinition(in.Family, d.Revision)
		d.RegisteredAt = At(s.now())
		rec := &taskDefRecord{Def: d, Tags: in.Tags}
		fam.Revisions = append(fam.Revisions, rec)
		out = taskDefinitionResponse{TaskDefinition: &d, Tags: nonNil(rec.Tags)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("task definition registered", "taskDefinition", out.TaskDefinition.TaskDefinitionArn)
	return &out, nil
}

// checkTaskDefinition validates a registration the way ECS does for the EC2 launch type
// and returns the definition to store, with ECS's defaults filled in (essential true,
// protocol tcp, host ports of host and awsvpc mode equal to the container ports).
func (s *Server) checkTaskDefinition(in *registerTaskDefinitionRequest) (taskDefinition, error) {
	var d taskDefinition
	if !validName(in.Family) {
		return d, errClient("Family must be 1-255 letters (uppercase and lowercase), numbers, hyphens and underscores.")
	}
	if len(in.ContainerDefinitions) == 0 {
		return d, errClient("Container list cannot be empty.")
	}
	if len(in.ContainerDefinitions) > maxContainersPerTaskDefinition {
		return d, errClient("Too many containers.")
	}
	switch in.NetworkMode {
	case "", "bridge", "host", "awsvpc", "none":
	default:
		return d, errClient("Invalid networkMode %q.", in.NetworkMode)
	}
	if _, ok := parseTaskCPU(in.CPU); !ok {
		return d, errClient("Invalid 'cpu' setting for task.")
	}
	taskMem, ok := parseTaskMemory(in.Memory)
	if !ok {
		return d, errClient("Invalid 'memory' setting for task.")
	}
	volumes := map[string]bool{}
	for _, v := range in.Volumes {
		if !validName(v.Name) || volumes[v.Name] {
			return d, errClient("Invalid or duplicate volume name %q.", v.Name)
		}
		volumes[v.Name] = true
	}
	names := map[string]bool{}
	essential := false
	defs := make([]containerDefinition, len(in.ContainerDefinitions))
	for i, c := range in.ContainerDefinitions {
		switch {
		case c.Name == "":
			return d, errClient("Container.name should not be null or empty.")
		case !validName(c.Name):
			return d, errClient("Container name %q contains invalid characters.", c.Name)
		case names[c.Name]:
			return d, errClient("Duplicate container name %q.", c.Name)
		case c.Image == "":
			return d, errClient("Container.image should not be null or empty.")
		case taskMem == 0 && c.Memory == nil && c.MemoryReservation == nil:
			return d, errClient("Invalid setting for container '%s'. At least one of 'memory' or 'memoryReservation' must be specified.", c.Name)
		case c.Memory != nil && *c.Memory < 6:
			return d, errClient("Invalid setting for container '%s'. The 'memory' must be at least 6 MiB.", c.Name)
		case c.Memory != nil && c.MemoryReservation != nil && *c.MemoryReservation > *c.Memory:
			return d, errClient("Invalid setting for container '%s'. 'memoryReservation' must be less than or equal to 'memory'.", c.Name)
		case c.CPU < 0:
			return d, errClient("Invalid setting for container '%s'. 'cpu' must not be negative.", c.Name)
		}
		names[c.Name] = true
		if c.Essential == nil {
			c.Essential = ptr(true)
		}
		essential = essential || *c.Essential
		for _, m := range c.MountPoints {
			if !volumes[m.SourceVolume] {
				return d, errClient("Invalid 'mountPoints' setting for container '%s'. Unknown volume '%s'.", c.Name, m.SourceVolume)
			}
		}
		pms, err := normalizePortMappings(c.Name, c.PortMappings, in.NetworkMode)
		if err != nil {
			return d, err
		}
		c.PortMappings = nonNil(pms)
		c.Environment = nonNil(c.Environment)
		c.MountPoints = nonNil(c.MountPoints)
		c.VolumesFrom = nonNil(c.VolumesFrom)
		c.SystemControls = nonNil(c.SystemControls)
		defs[i] = c
	}
	if !essential {
		return d, errClient("Task definition must have at least one essential container.")
	}
	for _, c := range defs {
		for _, dep := range c.DependsOn {
			if !names[dep.ContainerName] || dep.ContainerName == c.Name {
				return d, errClient("Invalid 'dependsOn' setting for container '%s'. Unknown container '%s'.", c.Name, dep.ContainerName)
			}
		}
	}
	d = taskDefinition{
		ContainerDefinitions:    defs,
		Family:                  in.Family,
		TaskRoleArn:             in.TaskRoleArn,
		ExecutionRoleArn:        in.ExecutionRoleArn,
		NetworkMode:             in.NetworkMode,
		Volumes:                 nonNil(in.Volumes),
		Status:                  statusActive,
		RequiresAttributes:      []attribute{},
		PlacementConstraints:    nonNil(in.PlacementConstraints),
		Compatibilities:         []string{"EC2", "EXTERNAL"},
		RuntimePlatform:         in.RuntimePlatform,
		RequiresCompatibilities: in.RequiresCompatibilities,
		CPU:                     in.CPU,
		Memory:                  in.Memory,
		PIDMode:                 in.PIDMode,
		IPCMode:                 in.IPCMode,
		ProxyConfiguration:      in.ProxyConfiguration,
		RegisteredBy:            "arn:aws:iam::" + s.opts.AccountID + ":root",
		EphemeralStorage:        in.EphemeralStorage,
	}
	d.RequiresAttributes = requiredAttributes(&d)
	return d, nil
}

// normalizePortMappings applies ECS's defaults and checks: protocol tcp, and in host and
// awsvpc mode a host port equal to the container port.
func normalizePortMappings(container string, pms []portMapping, networkMode string) ([]portMapping, error) {
	out := make([]portMapping, len(pms))
	for i, pm := range pms {
		if pm.Protocol == "" {
			pm.Protocol = "tcp"
		}
		if pm.Protocol != "tcp" && pm.Protocol != "udp" {
			return nil, errClient("Invalid 'portMappings' setting for container '%s'. Protocol must be tcp or udp.", container)
		}
		if pm.ContainerPort == nil && pm.ContainerPortRange == "" {
			return nil, errClient("Invalid 'portMappings' setting for container '%s'. containerPort or containerPortRange is required.", container)
		}
		if (networkMode == "host" || networkMode == "awsvpc") && pm.ContainerPort != nil {
			if pm.HostPort != nil && *pm.HostPort != 0 && *pm.HostPort != *pm.ContainerPort {
				return nil, errClient("When networkMode=%s, the containerPort and hostPort values must match.", networkMode)
			}
			pm.HostPort = ptr(*pm.ContainerPort)
		}
		out[i] = pm
	}
	return out, nil
}

// taskDef resolves a task definition reference ("family", "family:revision" or an ARN).
// A bare family means its latest ACTIVE revision.
func (s *Server) taskDef(st *state, ref string) (*taskDefRecord, bool) {
	if strings.HasPrefix(ref, "arn:") {
		typ, rest, ok := s.arn.resource(ref)
		if !ok || typ != "task-definition" {
			return nil, false
		}
		ref = rest
	}
	family, rev, hasRev := strings.Cut(ref, ":")
	fam := st.Families[family]
	if fam == nil {
		return nil, false
	}
	if hasRev {
		n, err := strconv.Atoi(rev)
		if err != nil || n < 1 || n > len(fam.Revisions) {
			return nil, false
		}
		return fam.Revisions[n-1], true
	}
	for i := len(fam.Revisions) - 1; i >= 0; i-- {
		if fam.Revisions[i].Def.Status == statusActive {
			return fam.Revisions[i], true
		}
	}
	return nil, false
}

func (s *Server) describeTaskDefinition(_ context.Context, in *describeTaskDefinitionRequest) (*taskDefinitionResponse, error) {
	var out *taskDefinitionResponse
	s.view(func(st *state) {
		if rec, ok := s.taskDef(st, in.TaskDefinition); ok {
			def := rec.Def
			out = &taskDefinitionResponse{TaskDefinition: &def}
			if contains(in.Include, "TAGS") {
				out.Tags = nonNil(rec.Tags)
			}
		}
	})
	if out == nil {
		return nil, errClient("Unable to describe task definition.")
	}
	return out, nil
}

func (s *Server) listTaskDefinitions(_ context.Context, in *listTaskDefinitionsRequest) (*listTaskDefinitionsResponse, error) {
	status := in.Status
	if status == "" {
		status = statusActive
	}
	type entry struct {
		family string
		rev    int32
		arn    string
	}
	var entries []entry
	s.view(func(st *state) {
		for family, fam := range st.Families {
			if in.FamilyPrefix != "" && family != in.FamilyPrefix {
				continue
			}
			for _, r := range fam.Revisions {
				if r.Def.Status == status {
					entries = append(entries, entry{family, r.Def.Revision, r.Def.TaskDefinitionArn})
				}
			}
		}
	})
	desc := strings.EqualFold(in.Sort, "DESC")
	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if desc {
			a, b = b, a
		}
		if a.family != b.family {
			return a.family < b.family
		}
		return a.rev < b.rev
	})
	arns := make([]string, len(entries))
	for i, e := range entries {
		arns[i] = e.arn
	}
	p, next, err := page(arns, in.paging)
	if err != nil {
		return nil, err
	}
	return &listTaskDefinitionsResponse{TaskDefinitionArns: p, NextToken: next}, nil
}

func (s *Server) deregisterTaskDefinition(_ context.Context, in *deregisterTaskDefinitionRequest) (*taskDefinitionResponse, error) {
	ref := in.TaskDefinition
	if !strings.Contains(ref, ":") {
		return nil, errClient("The specified task definition must include a revision.")
	}
	var out *taskDefinitionResponse
	err := s.update(func(st *state) error {
		rec, ok := s.taskDef(st, ref)
		if !ok {
			return errClient("The specified task definition does not exist.")
		}
		if rec.Def.Status == statusActive {
			rec.Def.Status = statusInactive
			rec.Def.DeregisteredAt = At(s.now())
		}
		def := rec.Def
		out = &taskDefinitionResponse{TaskDefinition: &def}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("task definition deregistered", "taskDefinition", out.TaskDefinition.TaskDefinitionArn)
	return out, nil
}

func ptr[T any](v T) *T { return &v }

// familyRevision renders "family:revision".
func familyRevision(family string, rev int32) string { return fmt.Sprintf("%s:%d", family, rev) }
