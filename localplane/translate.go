package localplane

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/ecsd/ecsd/controlplane/payload"
)

// This file turns a task (its definition plus the RunTask overrides) into the ACS payload
// task ECS would send: first-class members where the ACS model has them, the rest in the
// dockerConfig documents (dockerconfig.go), the command override in the container's
// "overrides" JSON string, environment overrides merged into "environment", and CPU and
// memory overrides applied to the members.

// effectiveContainers returns the task's container definitions with the container
// overrides applied (CPU, memory, reservation, environment, environment files), and the
// command overrides by container name.
func effectiveContainers(def *taskDefinition, ov *taskOverride) ([]containerDefinition, map[string][]string) {
	byName := map[string]*containerOverride{}
	if ov != nil {
		for i := range ov.ContainerOverrides {
			byName[ov.ContainerOverrides[i].Name] = &ov.ContainerOverrides[i]
		}
	}
	out := make([]containerDefinition, len(def.ContainerDefinitions))
	commands := map[string][]string{}
	for i, c := range def.ContainerDefinitions {
		if o := byName[c.Name]; o != nil {
			if o.CPU != nil {
				c.CPU = *o.CPU
			}
			if o.Memory != nil {
				c.Memory = o.Memory
			}
			if o.MemoryReservation != nil {
				c.MemoryReservation = o.MemoryReservation
			}
			if len(o.Environment) > 0 {
				c.Environment = mergeEnvironment(c.Environment, o.Environment)
			}
			c.EnvironmentFiles = append(append([]environmentFile{}, c.EnvironmentFiles...), o.EnvironmentFiles...)
			if len(o.ResourceRequirements) > 0 {
				c.ResourceRequirements = o.ResourceRequirements
			}
			if o.Command != nil {
				commands[c.Name] = o.Command
			}
		}
		out[i] = c
	}
	return out, commands
}

// mergeEnvironment overlays over on base, keeping base's order and appending new names.
func mergeEnvironment(base, over []keyValuePair) []keyValuePair {
	out := append([]keyValuePair{}, base...)
	idx := map[string]int{}
	for i, kv := range out {
		idx[kv.Name] = i
	}
	for _, kv := range over {
		if i, ok := idx[kv.Name]; ok {
			out[i] = kv
			continue
		}
		idx[kv.Name] = len(out)
		out = append(out, kv)
	}
	return out
}

// taskDemand is what a task needs from an instance: the task-level CPU and memory when
// set (overrides first), else the sum over its containers (memory, or the reservation
// when only that is set), and the static host ports of its port mappings.
func taskDemand(def *taskDefinition, ov *taskOverride, containers []containerDefinition) demand {
	var d demand
	cpuStr, memStr := def.CPU, def.Memory
	if ov != nil && ov.CPU != "" {
		cpuStr = ov.CPU
	}
	if ov != nil && ov.Memory != "" {
		memStr = ov.Memory
	}
	taskCPU, _ := parseTaskCPU(cpuStr)
	taskMem, _ := parseTaskMemory(memStr)
	for _, c := range containers {
		if taskCPU == 0 {
			d.CPU += int64(c.CPU)
		}
		if taskMem == 0 {
			if c.Memory != nil {
				d.Memory += int64(*c.Memory)
			} else if c.MemoryReservation != nil {
				d.Memory += int64(*c.MemoryReservation)
			}
		}
		for _, rr := range c.ResourceRequirements {
			if rr.Type == "GPU" {
				n, _ := strconv.ParseInt(rr.Value, 10, 64)
				d.GPUs += n
			}
		}
		if def.NetworkMode == "awsvpc" || def.NetworkMode == "none" {
			continue // ports live on the task's own interface
		}
		for _, pm := range c.PortMappings {
			if pm.HostPort == nil || *pm.HostPort == 0 {
				continue // dynamic
			}
			if pm.Protocol == "udp" {
				d.UDP = append(d.UDP, *pm.HostPort)
			} else {
				d.TCP = append(d.TCP, *pm.HostPort)
			}
		}
	}
	d.CPU += taskCPU
	d.Memory += taskMem
	return d
}

// payloadTask renders a task for a PayloadMessage.
func (s *Server) payloadTask(st *state, t *taskRecord) (payload.Task, error) {
	rec, ok := s.taskDef(st, t.TaskDefinitionArn)
	if !ok {
		return payload.Task{}, fmt.Errorf("task %s: task definition %s is gone", t.ARN, t.TaskDefinitionArn)
	}
	def := &rec.Def
	containers, commands := effectiveContainers(def, &t.Overrides)
	out := payload.Task{
		Arn:                     t.ARN,
		TaskClusterArn:          s.arn.cluster(t.Cluster),
		DesiredStatus:           t.DesiredStatus,
		Family:                  def.Family,
		Version:                 strconv.Itoa(int(def.Revision)),
		TaskDefinitionAccountID: s.opts.AccountID,
		LaunchType:              t.launchType(),
		NetworkMode:             def.NetworkMode,
		PIDMode:                 def.PIDMode,
		IPCMode:                 def.IPCMode,
		Group:                   t.Group,
		// Copies: the records rotate in place while the payload is being written.
		RoleCredentials:          cloneCredentials(t.RoleCredentials),
		ExecutionRoleCredentials: cloneCredentials(t.ExecutionRoleCredentials),
	}
	if out.NetworkMode == "" {
		out.NetworkMode = "bridge" // ECS's default for the EC2 launch type
	}
	if t.ENI != nil {
		out.ElasticNetworkInterfaces = []payload.ElasticNetworkInterface{payloadENI(t.ENI)}
	}
	cpuStr, memStr := def.CPU, def.Memory
	if t.Overrides.CPU != "" {
		cpuStr = t.Overrides.CPU
	}
	if t.Overrides.Memory != "" {
		memStr = t.Overrides.Memory
	}
	if units, _ := parseTaskCPU(cpuStr); units > 0 {
		out.CPU = float64(units) / 1024
	}
	out.Memory, _ = parseTaskMemory(memStr)
	for _, v := range def.Volumes {
		pv, err := payloadVolume(v)
		if err != nil {
			return payload.Task{}, fmt.Errorf("task %s: volume %s: %w", t.ARN, v.Name, err)
		}
		out.Volumes = append(out.Volumes, pv)
	}
	execRole := def.ExecutionRoleArn != "" || t.Overrides.ExecutionRoleArn != ""
	for i := range containers {
		pc, err := s.payloadContainer(&containers[i], commands[containers[i].Name], execRole)
		if err != nil {
			return payload.Task{}, fmt.Errorf("task %s: container %s: %w", t.ARN, containers[i].Name, err)
		}
		if cr := t.container(containers[i].Name); cr != nil {
			pc.ContainerArn = cr.ARN
		}
		out.Containers = append(out.Containers, pc)
	}
	return out, nil
}

// payloadContainer renders one container definition (overrides applied; command is the
// command override, nil if none).
func (s *Server) payloadContainer(c *containerDefinition, command []string, execRole bool) (payload.Container, error) {
	out := payload.Container{
		Name:            c.Name,
		Image:           c.Image,
		CPU:             int64(c.CPU),
		Memory:          int64(deref(c.Memory)),
		Essential:       derefOr(c.Essential, true),
		Command:         c.Command,
		EntryPoint:      c.EntryPoint,
		Links:           c.Links,
		Privileged:      c.Privileged,
		CredentialSpecs: c.CredentialSpecs,
	}
	if len(c.Environment) > 0 {
		out.Environment = map[string]string{}
		for _, kv := range c.Environment {
			out.Environment[kv.Name] = kv.Value
		}
	}
	for _, f := range c.EnvironmentFiles {
		out.EnvironmentFiles = append(out.EnvironmentFiles, payload.EnvironmentFile{Value: f.Value, Type: f.Type})
	}
	for _, pm := range c.PortMappings {
		out.PortMappings = append(out.PortMappings, payload.PortMapping{ContainerPort: int64(deref(pm.ContainerPort)),
			HostPort: int64(deref(pm.HostPort)), ContainerPortRange: pm.ContainerPortRange, Protocol: pm.Protocol})
	}
	for _, m := range c.MountPoints {
		out.MountPoints = append(out.MountPoints, payload.MountPoint{SourceVolume: m.SourceVolume,
			ContainerPath: m.ContainerPath, ReadOnly: deref(m.ReadOnly)})
	}
	for _, v := range c.VolumesFrom {
		out.VolumesFrom = append(out.VolumesFrom, payload.VolumeFrom{SourceContainer: v.SourceContainer, ReadOnly: deref(v.ReadOnly)})
	}
	for _, d := range c.DependsOn {
		out.DependsOn = append(out.DependsOn, payload.ContainerDependency{ContainerName: d.ContainerName, Condition: d.Condition})
	}
	out.StartTimeout = int64(deref(c.StartTimeout))
	out.StopTimeout = int64(deref(c.StopTimeout))
	if rp := c.RestartPolicy; rp != nil {
		prp := &payload.RestartPolicy{Enabled: deref(rp.Enabled), RestartAttemptPeriod: int64(deref(rp.RestartAttemptPeriod))}
		for _, code := range rp.IgnoredExitCodes {
			prp.IgnoredExitCodes = append(prp.IgnoredExitCodes, int64(code))
		}
		out.RestartPolicy = prp
	}
	if lp := c.LinuxParameters; lp != nil {
		plp := &payload.LinuxParameters{InitProcessEnabled: lp.InitProcessEnabled}
		if lp.Capabilities != nil {
			plp.Capabilities = &payload.KernelCapabilities{Add: lp.Capabilities.Add, Drop: lp.Capabilities.Drop}
		}
		for _, d := range lp.Devices {
			plp.Devices = append(plp.Devices, payload.Device{HostPath: d.HostPath, ContainerPath: d.ContainerPath, Permissions: d.Permissions})
		}
		if lp.SharedMemorySize != nil {
			plp.SharedMemorySize = ptr(int64(*lp.SharedMemorySize))
		}
		out.LinuxParameters = plp
	}
	if c.HealthCheck != nil {
		out.HealthCheckType = "docker"
	}
	for _, sec := range c.Secrets {
		out.Secrets = append(out.Secrets, s.payloadSecret(sec, "CONTAINER"))
	}
	if lc := c.LogConfiguration; lc != nil {
		for _, sec := range lc.SecretOptions {
			out.Secrets = append(out.Secrets, s.payloadSecret(sec, "LOG_DRIVER"))
		}
	}
	if fc := c.FirelensConfiguration; fc != nil {
		out.FirelensConfiguration = &payload.FirelensConfiguration{Type: fc.Type, Options: fc.Options}
	}
	out.RegistryAuthentication = s.registryAuth(c, execRole)
	if command != nil {
		o, err := json.Marshal(struct {
			Command []string `json:"command"`
		}{command})
		if err != nil {
			return out, err
		}
		out.Overrides = payload.Ptr(payload.EmbeddedJSON(o))
	} else {
		out.Overrides = payload.Ptr(payload.EmbeddedJSON("{}"))
	}
	dc, err := dockerConfig(c)
	if err != nil {
		return out, err
	}
	out.DockerConfig = dc
	return out, nil
}

// payloadSecret renders a secret: provider and region come from the parameter's ARN. A
// bare SSM parameter name is in the instance's region, which the plane leaves to the
// agent: the plane's own region ("local") names no SSM endpoint.
func (s *Server) payloadSecret(sec secret, target string) payload.Secret {
	out := payload.Secret{Name: sec.Name, ValueFrom: sec.ValueFrom, Provider: "ssm",
		Type: "ENVIRONMENT_VARIABLE", Target: target}
	if parts := strings.SplitN(sec.ValueFrom, ":", 6); len(parts) == 6 && parts[0] == "arn" {
		if parts[2] == "secretsmanager" {
			out.Provider = "asm"
		}
		out.Region = parts[3]
	}
	return out
}

// registryAuth says how the agent authenticates the image pull: Secrets Manager
// credentials when the definition names some, ECR when the image is in ECR, else nothing.
func (s *Server) registryAuth(c *containerDefinition, execRole bool) *payload.RegistryAuthenticationData {
	if rc := c.RepositoryCredentials; rc != nil {
		region := s.opts.Region
		if parts := strings.SplitN(rc.CredentialsParameter, ":", 6); len(parts) == 6 {
			region = parts[3]
		}
		return &payload.RegistryAuthenticationData{Type: "asm",
			ASMAuthData: &payload.ASMAuthData{CredentialsParameter: rc.CredentialsParameter, Region: region}}
	}
	if registry, region, ok := ecrImage(c.Image); ok {
		return &payload.RegistryAuthenticationData{Type: "ecr",
			ECRAuthData: &payload.ECRAuthData{RegistryID: registry, Region: region, UseExecutionRole: execRole}}
	}
	return nil
}

// ecrImage recognises "<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]/repo".
func ecrImage(image string) (registry, region string, ok bool) {
	host, _, found := strings.Cut(image, "/")
	if !found {
		return "", "", false
	}
	labels := strings.Split(host, ".")
	if len(labels) < 5 || !isAccountID(labels[0]) || labels[1] != "dkr" ||
		(labels[2] != "ecr" && labels[2] != "ecr-fips") || labels[4] != "amazonaws" {
		return "", "", false
	}
	return labels[0], labels[3], true
}

// payloadVolume renders a task volume.
func payloadVolume(v volume) (payload.Volume, error) {
	out := payload.Volume{Name: v.Name}
	switch {
	case v.DockerVolumeConfiguration != nil:
		dc := v.DockerVolumeConfiguration
		scope := dc.Scope
		if scope == "" {
			scope = "task"
		}
		out.Type = "docker"
		out.DockerVolumeConfiguration = &payload.DockerVolumeConfiguration{Scope: scope,
			Autoprovision: deref(dc.Autoprovision), Driver: dc.Driver, DriverOpts: dc.DriverOpts, Labels: dc.Labels}
	case v.EFSVolumeConfiguration != nil:
		e := v.EFSVolumeConfiguration
		out.Type = "efs"
		out.EFSVolumeConfiguration = &payload.EFSVolumeConfiguration{FileSystemID: e.FileSystemID, RootDirectory: e.RootDirectory,
			TransitEncryption: e.TransitEncryption, TransitEncryptionPort: deref(e.TransitEncryptionPort)}
		if a := e.AuthorizationConfig; a != nil {
			out.EFSVolumeConfiguration.AuthorizationConfig = &payload.EFSAuthorizationConfig{AccessPointID: a.AccessPointID, IAM: a.IAM}
		}
	case len(v.FSxWindowsFileServerVolumeConfiguration) > 0:
		out.Type = "fsxWindowsFileServer"
		out.FSxWindowsFileServerVolumeConfiguration = &payload.FSxWindowsFileServerVolumeConfiguration{}
		if err := json.Unmarshal(v.FSxWindowsFileServerVolumeConfiguration, out.FSxWindowsFileServerVolumeConfiguration); err != nil {
			return out, err
		}
	default:
		out.Type = "host"
		if v.Host != nil && v.Host.SourcePath != "" {
			out.Host = &payload.HostVolumeProperties{SourcePath: v.Host.SourcePath}
		}
	}
	return out, nil
}

// container returns the task's container record by name.
func (t *taskRecord) container(name string) *containerRecord {
	for _, c := range t.Containers {
		if c.Name == name {
			return c
		}
	}
	return nil
}
