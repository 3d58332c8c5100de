package payload

import (
	"fmt"
	"math"
	"strings"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// taskContext is what a container's conversion needs to know about its task.
type taskContext struct {
	taskID     string
	volumes    map[string]bool
	containers map[string]bool
}

// containerSpec converts one container in the reference agent's order: first-class ACS
// members, then overrides (command), then the dockerConfig blobs on top, since the
// reference agent JSON-decodes the backend's Config/HostConfig over the ones it builds.
// Errors name the member; the caller prefixes the container name.
func containerSpec(c *Container, tc taskContext) (v1alpha1.ContainerSpec, error) {
	s := v1alpha1.ContainerSpec{
		TaskName:     tc.taskID,
		Name:         c.Name,
		Image:        c.Image,
		Command:      copySlice(c.Command),
		EntryPoint:   copySlice(c.EntryPoint),
		CPU:          c.CPU,
		Memory:       c.Memory,
		Essential:    c.Essential,
		Environment:  copyMap(c.Environment),
		Links:        copySlice(c.Links),
		StartTimeout: c.StartTimeout,
		StopTimeout:  c.StopTimeout,
		ARN:          c.ContainerArn,
	}
	if c.Image == "" {
		return s, fmt.Errorf("image: %w", ErrMissing)
	}
	if err := checkContainerUnsupported(c); err != nil {
		return s, err
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"cpu", c.CPU}, {"memory", c.Memory}, {"startTimeout", c.StartTimeout}, {"stopTimeout", c.StopTimeout}} {
		if f.v < 0 {
			return s, fmt.Errorf("%s: %w %d (want >= 0)", f.name, ErrInvalidValue, f.v)
		}
	}
	if c.Privileged != nil {
		s.Privileged = *c.Privileged
	}
	for k := range c.Environment {
		if err := checkEnvName(k); err != nil {
			return s, fmt.Errorf("environment: %w", err)
		}
	}
	for i, f := range c.EnvironmentFiles {
		if f.Value == "" {
			return s, fmt.Errorf("environmentFiles[%d].value: %w", i, ErrMissing)
		}
		s.EnvironmentFiles = append(s.EnvironmentFiles, v1alpha1.EnvironmentFile{Value: f.Value, Type: f.Type})
	}
	for i, l := range c.Links {
		if err := checkLink(l, c.Name, tc.containers); err != nil {
			return s, fmt.Errorf("links[%d]: %w", i, err)
		}
	}
	for i := range c.PortMappings {
		pm, err := portMapping(&c.PortMappings[i])
		if err != nil {
			return s, fmt.Errorf("portMappings[%d]: %w", i, err)
		}
		s.PortMappings = append(s.PortMappings, pm)
	}
	for i, m := range c.MountPoints {
		switch {
		case m.SourceVolume == "":
			return s, fmt.Errorf("mountPoints[%d].sourceVolume: %w", i, ErrMissing)
		case !tc.volumes[m.SourceVolume]:
			return s, fmt.Errorf("mountPoints[%d].sourceVolume %q: %w (no such task volume)", i, m.SourceVolume, ErrUnknownReference)
		case m.ContainerPath == "":
			return s, fmt.Errorf("mountPoints[%d].containerPath: %w", i, ErrMissing)
		case !strings.HasPrefix(m.ContainerPath, "/"):
			return s, fmt.Errorf("mountPoints[%d].containerPath: %w %q (want an absolute path)", i, ErrInvalidValue, m.ContainerPath)
		}
		s.MountPoints = append(s.MountPoints, v1alpha1.MountPoint{SourceVolume: m.SourceVolume, ContainerPath: m.ContainerPath, ReadOnly: m.ReadOnly})
	}
	for i, v := range c.VolumesFrom {
		switch {
		case v.SourceContainer == "":
			return s, fmt.Errorf("volumesFrom[%d].sourceContainer: %w", i, ErrMissing)
		case !tc.containers[v.SourceContainer]:
			return s, fmt.Errorf("volumesFrom[%d].sourceContainer %q: %w (no such container)", i, v.SourceContainer, ErrUnknownReference)
		}
		s.VolumesFrom = append(s.VolumesFrom, v1alpha1.VolumeFrom{SourceContainer: v.SourceContainer, ReadOnly: v.ReadOnly})
	}
	for i, d := range c.DependsOn {
		dep, err := dependency(d, tc.containers)
		if err != nil {
			return s, fmt.Errorf("dependsOn[%d]: %w", i, err)
		}
		s.DependsOn = append(s.DependsOn, dep)
	}
	if rp := c.RestartPolicy; rp != nil {
		out, err := restartPolicy(rp)
		if err != nil {
			return s, fmt.Errorf("restartPolicy: %w", err)
		}
		s.RestartPolicy = out
	}
	if lp := c.LinuxParameters; lp != nil {
		out, err := linuxParameters(lp)
		if err != nil {
			return s, fmt.Errorf("linuxParameters: %w", err)
		}
		s.LinuxParameters = out
	}
	switch c.HealthCheckType {
	case "", "docker":
	default:
		return s, fmt.Errorf("healthCheckType %q: %w", c.HealthCheckType, ErrUnsupported)
	}
	if ra := c.RegistryAuthentication; ra != nil {
		out, err := registryAuth(ra)
		if err != nil {
			return s, fmt.Errorf("registryAuthentication: %w", err)
		}
		s.RegistryAuth = out
	}
	for i, sec := range c.Secrets {
		ref, err := secretRef(sec)
		if err != nil {
			return s, fmt.Errorf("secrets[%d]: %w", i, err)
		}
		s.Secrets = append(s.Secrets, ref)
	}
	if err := applyOverrides(&s, c.Overrides); err != nil {
		return s, err
	}
	if err := applyDockerConfig(&s, c.DockerConfig); err != nil {
		return s, err
	}
	for i, ref := range s.Secrets {
		if ref.Target == v1alpha1.SecretTargetLogDriver && s.LogConfig == nil {
			return s, fmt.Errorf("secrets[%d] %q: %w (a log driver secret without a log configuration)", i, ref.Name, ErrInvalidValue)
		}
	}
	// Checks that need the merged result (dockerConfig may set either limit).
	if s.MemoryReservation > 0 && s.Memory > 0 && s.MemoryReservation > s.Memory {
		return s, fmt.Errorf("memoryReservation: %w %d MiB (above the %d MiB memory limit)", ErrInvalidValue, s.MemoryReservation, s.Memory)
	}
	s.LinuxParameters = compactLinuxParameters(s.LinuxParameters)
	return s, nil
}

// checkContainerUnsupported rejects container features ecsd does not implement. FireLens
// and credential specs change what the container sees; dropping them would run it
// differently than asked. Managed agents (ECS Exec), network interface names, the logs
// auth strategy are ignored: the container itself runs the same.
func checkContainerUnsupported(c *Container) error {
	switch {
	case c.FirelensConfiguration != nil:
		return fmt.Errorf("firelensConfiguration: %w", ErrUnsupported)
	case len(c.CredentialSpecs) > 0:
		return fmt.Errorf("credentialSpecs: %w", ErrUnsupported)
	}
	return nil
}

// secretRef converts one secret reference. ACS names the provider and region; a provider
// it leaves out is taken from the reference (a Secrets Manager ARN is asm, anything else an
// SSM parameter), a region from the ARN. Only environment-variable secrets exist on Linux.
func secretRef(sec Secret) (v1alpha1.SecretRef, error) {
	ref := v1alpha1.SecretRef{Name: sec.Name, ValueFrom: sec.ValueFrom, Provider: sec.Provider, Region: sec.Region, Target: sec.Target}
	switch {
	case sec.Name == "":
		return ref, fmt.Errorf("name: %w", ErrMissing)
	case sec.ValueFrom == "":
		return ref, fmt.Errorf("valueFrom: %w", ErrMissing)
	}
	arn := strings.SplitN(sec.ValueFrom, ":", 6)
	isARN := len(arn) == 6 && arn[0] == "arn"
	if ref.Provider == "" {
		ref.Provider = v1alpha1.SecretProviderSSM
		if isARN && arn[2] == "secretsmanager" {
			ref.Provider = v1alpha1.SecretProviderASM
		}
	}
	if ref.Region == "" && isARN {
		ref.Region = arn[3]
	}
	switch ref.Provider {
	case v1alpha1.SecretProviderSSM:
	case v1alpha1.SecretProviderASM:
		if !isARN || arn[2] != "secretsmanager" {
			return ref, fmt.Errorf("valueFrom %q: %w (a Secrets Manager secret is named by its ARN)", sec.ValueFrom, ErrInvalidValue)
		}
	default:
		return ref, fmt.Errorf("provider %q: %w", sec.Provider, ErrUnsupported)
	}
	switch sec.Type {
	case "", "ENVIRONMENT_VARIABLE":
	default:
		return ref, fmt.Errorf("type %q: %w (only ENVIRONMENT_VARIABLE secrets exist on Linux)", sec.Type, ErrUnsupported)
	}
	switch ref.Target {
	case "":
		ref.Target = v1alpha1.SecretTargetContainer
	case v1alpha1.SecretTargetContainer, v1alpha1.SecretTargetLogDriver:
	default:
		return ref, fmt.Errorf("target %q: %w (want CONTAINER or LOG_DRIVER)", sec.Target, ErrInvalidValue)
	}
	if ref.Target == v1alpha1.SecretTargetContainer {
		if err := checkEnvName(sec.Name); err != nil {
			return ref, fmt.Errorf("name: %w", err)
		}
	}
	return ref, nil
}

// checkEnvName refuses names a process environment cannot hold.
func checkEnvName(k string) error {
	if k == "" {
		return fmt.Errorf("%w: empty variable name", ErrInvalidValue)
	}
	if strings.ContainsAny(k, "=\x00") {
		return fmt.Errorf("%w: variable name %q", ErrInvalidValue, k)
	}
	return nil
}

// checkLink checks a link "name" or "name:alias" against the task's containers.
func checkLink(l, self string, containers map[string]bool) error {
	name, alias, hasAlias := strings.Cut(l, ":")
	switch {
	case name == "":
		return fmt.Errorf("%w %q (want name or name:alias)", ErrInvalidValue, l)
	case hasAlias && (alias == "" || strings.Contains(alias, ":")):
		return fmt.Errorf("%w %q (want name or name:alias)", ErrInvalidValue, l)
	case name == self:
		return fmt.Errorf("%w %q (a container cannot link to itself)", ErrInvalidValue, l)
	case !containers[name]:
		return fmt.Errorf("%q: %w (no such container)", name, ErrUnknownReference)
	}
	return nil
}

// dependency converts one dependsOn entry.
func dependency(d ContainerDependency, containers map[string]bool) (v1alpha1.Dependency, error) {
	if d.ContainerName == "" {
		return v1alpha1.Dependency{}, fmt.Errorf("containerName: %w", ErrMissing)
	}
	if !containers[d.ContainerName] {
		return v1alpha1.Dependency{}, fmt.Errorf("containerName %q: %w (no such container)", d.ContainerName, ErrUnknownReference)
	}
	cond := v1alpha1.DependencyCondition(d.Condition)
	switch cond {
	case v1alpha1.ConditionCreate, v1alpha1.ConditionStart, v1alpha1.ConditionComplete,
		v1alpha1.ConditionSuccess, v1alpha1.ConditionHealthy:
	case "":
		return v1alpha1.Dependency{}, fmt.Errorf("condition: %w", ErrMissing)
	default:
		return v1alpha1.Dependency{}, fmt.Errorf("condition: %w %q (want CREATE, START, COMPLETE, SUCCESS or HEALTHY)", ErrInvalidValue, d.Condition)
	}
	return v1alpha1.Dependency{ContainerName: d.ContainerName, Condition: cond}, nil
}

func restartPolicy(rp *RestartPolicy) (*v1alpha1.RestartPolicy, error) {
	if rp.RestartAttemptPeriod < 0 {
		return nil, fmt.Errorf("restartAttemptPeriod: %w %d (want >= 0)", ErrInvalidValue, rp.RestartAttemptPeriod)
	}
	out := &v1alpha1.RestartPolicy{Enabled: rp.Enabled, RestartAttemptPeriod: rp.RestartAttemptPeriod}
	for i, code := range rp.IgnoredExitCodes {
		if code < math.MinInt32 || code > math.MaxInt32 {
			return nil, fmt.Errorf("ignoredExitCodes[%d]: %w %d", i, ErrInvalidValue, code)
		}
		out.IgnoredExitCodes = append(out.IgnoredExitCodes, int32(code))
	}
	return out, nil
}

func linuxParameters(lp *LinuxParameters) (*v1alpha1.LinuxParameters, error) {
	out := &v1alpha1.LinuxParameters{}
	if c := lp.Capabilities; c != nil {
		out.CapAdd = copySlice(c.Add)
		out.CapDrop = copySlice(c.Drop)
	}
	for i, d := range lp.Devices {
		if d.HostPath == "" {
			return nil, fmt.Errorf("devices[%d].hostPath: %w", i, ErrMissing)
		}
		for _, p := range d.Permissions {
			switch p {
			case "read", "write", "mknod":
			default:
				return nil, fmt.Errorf("devices[%d].permissions: %w %q (want read, write or mknod)", i, ErrInvalidValue, p)
			}
		}
		out.Devices = append(out.Devices, v1alpha1.Device{HostPath: d.HostPath, ContainerPath: d.ContainerPath, Permissions: copySlice(d.Permissions)})
	}
	if lp.InitProcessEnabled != nil {
		out.InitProcessEnabled = *lp.InitProcessEnabled
	}
	if lp.SharedMemorySize != nil {
		if *lp.SharedMemorySize < 0 {
			return nil, fmt.Errorf("sharedMemorySize: %w %d (want >= 0)", ErrInvalidValue, *lp.SharedMemorySize)
		}
		out.SharedMemorySize = *lp.SharedMemorySize
	}
	return out, nil
}

// compactLinuxParameters drops an all-zero LinuxParameters so specs compare and print
// cleanly.
func compactLinuxParameters(lp *v1alpha1.LinuxParameters) *v1alpha1.LinuxParameters {
	if lp == nil || (len(lp.CapAdd) == 0 && len(lp.CapDrop) == 0 && len(lp.Devices) == 0 &&
		!lp.InitProcessEnabled && lp.SharedMemorySize == 0 && len(lp.Tmpfs) == 0) {
		return nil
	}
	return lp
}

func registryAuth(ra *RegistryAuthenticationData) (*v1alpha1.RegistryAuth, error) {
	switch ra.Type {
	case "":
		if ra.ECRAuthData != nil || ra.ASMAuthData != nil {
			return nil, fmt.Errorf("type: %w", ErrMissing)
		}
		return nil, nil
	case "ecr":
		out := &v1alpha1.RegistryAuth{Type: "ecr"}
		if d := ra.ECRAuthData; d != nil {
			out.RegistryID = d.RegistryID
			out.Region = d.Region
			out.UseExecutionRole = d.UseExecutionRole
		}
		return out, nil
	case "asm":
		if ra.ASMAuthData == nil || ra.ASMAuthData.CredentialsParameter == "" {
			return nil, fmt.Errorf("asmAuthData.credentialsParameter: %w", ErrMissing)
		}
		return &v1alpha1.RegistryAuth{Type: "asm", CredentialsParameter: ra.ASMAuthData.CredentialsParameter, Region: ra.ASMAuthData.Region}, nil
	}
	return nil, fmt.Errorf("type %q: %w", ra.Type, ErrUnsupported)
}

// copySlice copies s; an empty slice becomes nil, since on the wire and in the objects an
// empty list and an absent one mean the same.
func copySlice[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}
