package controllers

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/envfiles"
	"github.com/ecsd/ecsd/internal/logdriver"
	"github.com/ecsd/ecsd/runtime"
)

// minCPUShares is the smallest cpu.shares the kernel accepts; Docker and the reference agent
// raise a container's cpu of 0 or 1 to it.
const minCPUShares = 2

// taskDir is where a task's agent-managed files live: volumes and logs. Cleanup removes it.
func taskDir(dataDir, taskID string) string {
	return filepath.Join(dataDir, "tasks", taskID)
}

// containerConfig resolves a container definition into a runtime configuration for the
// runtime container id (see chooseRuntimeID). Errors are definition errors: they stop the
// container with a CannotCreateContainerError.
func (r *CreateReconciler) containerConfig(ctx context.Context, s *containerScope, id string, in containerInputs) (runtime.ContainerConfig, error) {
	c, t := s.c, s.task
	spec := c.Spec
	if spec.Privileged && r.Options.DisablePrivileged {
		return runtime.ContainerConfig{}, fmt.Errorf("%w: privileged containers are disabled on this instance (ECS_DISABLE_PRIVILEGED)", errInvalidDefinition)
	}
	cfg := runtime.ContainerConfig{
		ID:                id,
		Image:             spec.Image,
		Labels:            api.RuntimeLabels(t, c, r.Options.Cluster, r.Options.AgentVersion),
		Entrypoint:        spec.EntryPoint,
		Command:           spec.Command,
		User:              spec.User,
		WorkingDir:        spec.WorkingDir,
		Hostname:          spec.Hostname,
		ReadonlyRootFS:    spec.ReadonlyRootFS,
		Privileged:        spec.Privileged,
		Sysctls:           spec.Sysctls,
		CPUShares:         uint64(max(spec.CPU, minCPUShares)),
		MemoryLimit:       spec.Memory << 20,
		MemoryReservation: spec.MemoryReservation << 20,
		LogPath:           api.ContainerLogPath(r.DataDir, t.Name, spec.Name),
	}
	logging, err := logdriver.Settings(spec.LogConfig, r.logDriverEnv(t, c, id))
	if err != nil {
		return runtime.ContainerConfig{}, fmt.Errorf("%w: %w", errInvalidDefinition, err)
	}
	cfg.Logging = logging
	if cfg.MemoryLimit == 0 && t.Spec.Memory > 0 && r.Options.CgroupV2 && r.Options.PropagateTaskMemoryV2 {
		cfg.MemoryLimit = t.Spec.Memory << 20
		r.Log.Info("cgroup v2: the container has no memory limit; giving it the task's",
			"task", t.Name, "container", spec.Name, "bytes", cfg.MemoryLimit)
	}

	cfg.Env = environment(spec, in, r.agentEnv(t, c))
	if r.Options.Region != "" {
		cfg.DefaultEnv = []string{"AWS_DEFAULT_REGION=" + r.Options.Region, "AWS_REGION=" + r.Options.Region}
	}

	if err := applySecurityOptions(spec.SecurityOptions, r.Security, &cfg); err != nil {
		return runtime.ContainerConfig{}, err
	}
	applyNamespaceModes(t, s.ns, &cfg)

	if lp := spec.LinuxParameters; lp != nil {
		cfg.CapAdd, cfg.CapDrop = lp.CapAdd, lp.CapDrop
		cfg.Init = lp.InitProcessEnabled
		cfg.ShmSize = lp.SharedMemorySize << 20
		for _, d := range lp.Devices {
			cfg.Devices = append(cfg.Devices, runtime.Device{HostPath: d.HostPath, ContainerPath: d.ContainerPath, Permissions: strings.Join(d.Permissions, "")})
		}
		for _, tm := range lp.Tmpfs {
			opts := append([]string{fmt.Sprintf("size=%dm", tm.Size)}, tm.MountOptions...)
			cfg.Mounts = append(cfg.Mounts, runtime.Mount{Type: "tmpfs", Source: "tmpfs", Destination: tm.ContainerPath, Options: opts})
		}
	}
	for _, u := range spec.Ulimits {
		if u.Soft < 0 || u.Hard < 0 {
			return runtime.ContainerConfig{}, fmt.Errorf("%w: ulimit %s: negative value", errInvalidDefinition, u.Name)
		}
		cfg.Ulimits = append(cfg.Ulimits, runtime.Ulimit{Name: u.Name, Soft: uint64(u.Soft), Hard: uint64(u.Hard)})
	}

	mounts, err := r.mounts(ctx, t, spec.MountPoints, false)
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	cfg.Mounts = append(cfg.Mounts, mounts...)
	for _, vf := range spec.VolumesFrom {
		src, ok := s.siblings[vf.SourceContainer]
		if !ok {
			return runtime.ContainerConfig{}, fmt.Errorf("%w: volumesFrom: no container %q in the task", errInvalidDefinition, vf.SourceContainer)
		}
		m, err := r.mounts(ctx, t, src.Spec.MountPoints, vf.ReadOnly)
		if err != nil {
			return runtime.ContainerConfig{}, err
		}
		cfg.Mounts = append(cfg.Mounts, m...)
	}

	if parent, err := r.taskCgroup(t, s.siblings); err != nil {
		return runtime.ContainerConfig{}, err
	} else {
		cfg.CgroupParent = parent
	}

	if err := r.joinNetwork(s, &cfg); err != nil {
		return runtime.ContainerConfig{}, err
	}
	if err := mountMetadataFile(r.DataDir, r.Metadata, t, c, &cfg); err != nil {
		return runtime.ContainerConfig{}, err
	}
	return cfg, nil
}

// logDriverEnv is what the container's log driver takes from the agent and the task.
func (r *CreateReconciler) logDriverEnv(t *api.Task, c *api.Container, runtimeID string) logdriver.Env {
	return logdriver.Env{
		TaskARN:            t.Spec.ARN,
		TaskID:             t.Name,
		Container:          c.Spec.Name,
		RuntimeID:          runtimeID,
		DockerName:         api.DockerName(t, c),
		ImageName:          c.Spec.Image,
		ImageID:            c.Status.ImageID,
		Region:             r.Options.Region,
		Endpoint:           r.Options.CloudWatchLogsEndpoint,
		CredentialsSocket:  r.Options.LogCredentialsSocket,
		AWSLogsUnavailable: r.Options.AWSLogsUnavailable,
		ShipUnavailable:    r.Options.ShipUnavailable,
		SecretOptions:      logSecretOptions(c.Spec.Secrets),
	}
}

// logSecretOptions are the names of the log-driver options that come from secrets
// (secretOptions): the logger asks the agent for their values.
func logSecretOptions(refs []api.SecretRef) []string {
	var names []string
	for _, r := range refs {
		if r.Target == api.SecretTargetLogDriver {
			names = append(names, r.Name)
		}
	}
	return names
}

// agentEnv is what the agent tells every task container about its endpoints. The metadata
// URIs carry the container's unguessable endpoint ID; the credentials URI is given only to
// containers of a task with a task role.
func (r *CreateReconciler) agentEnv(t *api.Task, c *api.Container) map[string]string {
	env := map[string]string{}
	if id := c.Spec.EndpointID; id != "" {
		base := "http://" + runtime.EndpointsAddress
		env["ECS_CONTAINER_METADATA_URI"] = base + "/v3/" + id
		env["ECS_CONTAINER_METADATA_URI_V4"] = base + "/v4/" + id
		env["ECS_AGENT_URI"] = base + "/api/" + id
	}
	if id := t.Spec.RoleCredentialsID; id != "" {
		env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = "/v2/credentials/" + id
	}
	return env
}

// environment merges, lowest first: environment files (the first file that sets a variable
// wins, as in the reference agent), the definition's environment, its secrets, and the
// agent's variables: a definition cannot point a container's SDK at other credentials or
// metadata than its own.
func environment(spec api.ContainerSpec, in containerInputs, agent map[string]string) []string {
	env := envfiles.Merge(spec.Environment, in.files)
	for k, v := range in.secrets {
		env[k] = v
	}
	for k, v := range agent {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// mounts resolves mount points against the task's volumes: each becomes a bind mount of
// the host directory TaskVolumes makes ready (a host path, a task directory, a mounted EFS
// file system or local-driver volume, a shared volume).
func (r *CreateReconciler) mounts(ctx context.Context, t *api.Task, mps []api.MountPoint, forceRO bool) ([]runtime.Mount, error) {
	var out []runtime.Mount
	for _, mp := range mps {
		var vol *api.Volume
		for i := range t.Spec.Volumes {
			if t.Spec.Volumes[i].Name == mp.SourceVolume {
				vol = &t.Spec.Volumes[i]
			}
		}
		if vol == nil {
			return nil, fmt.Errorf("%w: mount point %s: no volume %q in the task", errInvalidDefinition, mp.ContainerPath, mp.SourceVolume)
		}
		src, err := r.Volumes.Source(ctx, t, vol)
		if err != nil {
			return nil, err
		}
		opts := []string{"rbind"}
		if mp.ReadOnly || forceRO {
			opts = append(opts, "ro")
		} else {
			opts = append(opts, "rw")
		}
		out = append(out, runtime.Mount{Type: "bind", Source: src, Destination: mp.ContainerPath, Options: opts})
	}
	return out, nil
}

// taskCgroup makes sure the task's cgroup exists with its task-level limits and returns
// the cgroup parent for its containers. Every task gets its own cgroup, limits or not, as
// the reference agent does: a container's cgroup is then <root>/<task>/<runtime ID>, the
// path OpenTelemetry's ECS detector (and other tools) read the container ID from, in the
// pattern /ecs/<task>/<64 hex>. A task without a CPU quota gets the sum of its containers'
// CPU shares. Only with task cgroups off do containers sit directly beneath the root.
// Ensure is idempotent, so every container of the task may call it.
func (r *CreateReconciler) taskCgroup(t *api.Task, containers map[string]*api.Container) (string, error) {
	if !r.Options.TaskCgroups {
		// Still beneath the root: the agent matches task traffic by it (host-network
		// tasks' IMDS block), so no task container may live outside it.
		return r.Cgroups.Path(""), nil
	}
	l := runtime.CgroupLimits{MemoryBytes: t.Spec.Memory << 20, Period: r.Options.CgroupCPUPeriod, PidsLimit: int64(r.Options.TaskPidsLimit)}
	if t.Spec.CPU > 0 {
		l.CPUQuota = time.Duration(t.Spec.CPU * float64(r.Options.CgroupCPUPeriod))
	} else {
		for _, c := range containers {
			l.CPUShares += uint64(max(c.Spec.CPU, minCPUShares))
		}
	}
	if err := r.Cgroups.Ensure(t.Name, l); err != nil {
		return "", fmt.Errorf("task cgroup: %w", err)
	}
	return r.Cgroups.Path(t.Name), nil
}

// ensureTaskNamespaces starts the task's namespace holder (in the task's cgroup) for the
// container about to be created, with a shared /dev/shm as large as the largest
// sharedMemorySize of the task's containers.
func (r *CreateReconciler) ensureTaskNamespaces(ctx context.Context, s *containerScope) (taskNamespaces, error) {
	parent, err := r.taskCgroup(s.task, s.siblings)
	if err != nil {
		return taskNamespaces{}, err
	}
	var shm int64
	for _, c := range s.siblings {
		if lp := c.Spec.LinuxParameters; lp != nil {
			shm = max(shm, lp.SharedMemorySize<<20)
		}
	}
	return r.Namespaces.Ensure(ctx, s.task, parent, shm)
}
