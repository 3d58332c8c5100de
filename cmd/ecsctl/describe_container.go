package main

import (
	"fmt"
	"io"
	"strings"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// describeContainer writes one container object and its history as events.
func describeContainer(out io.Writer, c *api.Container) error {
	w := newDescribeWriter(out)
	describeMeta(w, c.Name, c.Namespace, c.Labels, c.Annotations, c.CreationTimestamp)
	w.field(0, "Task", c.Spec.TaskName)
	w.field(0, "Container Name", c.Spec.Name)
	describeContainerBody(w, 0, c)
	if n := c.Status.Network; n != nil {
		w.line(0, "Network:")
		describeNetwork(w, 1, n)
	}
	describeEvents(w, historyEvents("container/"+c.Spec.Name, c.Status.History))
	return w.flush()
}

// describeContainerBody writes a container's definition summary and status at level; the
// task's describe nests it under the container's name.
func describeContainerBody(w *describeWriter, level int, c *api.Container) {
	s, st := &c.Spec, &c.Status
	w.optional(level, "Container", containerObjectName(c))
	w.optional(level, "ARN", s.ARN)
	w.field(level, "Image", s.Image)
	w.optional(level, "Image Digest", st.ImageDigest)
	w.optional(level, "Runtime ID", st.RuntimeID)
	w.field(level, "Essential", s.Essential)
	if len(s.EntryPoint) > 0 {
		w.field(level, "Entry Point", strings.Join(s.EntryPoint, " "))
	}
	if len(s.Command) > 0 {
		w.field(level, "Command", strings.Join(s.Command, " "))
	}
	w.field(level, "CPU", containerCPU(s.CPU))
	mem := mib(s.Memory)
	if s.MemoryReservation > 0 {
		mem += fmt.Sprintf(" (reservation %d MiB)", s.MemoryReservation)
	}
	w.field(level, "Memory", mem)
	if len(s.DependsOn) > 0 {
		deps := make([]string, 0, len(s.DependsOn))
		for _, d := range s.DependsOn {
			deps = append(deps, d.ContainerName+" "+string(d.Condition))
		}
		w.field(level, "Depends On", strings.Join(deps, ", "))
	}
	w.optional(level, "Port Mappings", portMappings(s.PortMappings))
	w.optional(level, "Port Bindings", networkBindings(st.NetworkBindings))
	w.field(level, "Desired Status", st.DesiredStatus.OrNone())
	w.field(level, "Known Status", st.KnownStatus.OrNone())
	w.field(level, "Sent Status", st.SentStatus.OrNone())
	w.optional(level, "Created", timestamp(st.CreatedAt, w.now))
	w.optional(level, "Started", timestamp(st.StartedAt, w.now))
	w.optional(level, "Finished", timestamp(st.FinishedAt, w.now))
	if st.ExitCode != nil {
		w.field(level, "Exit Code", *st.ExitCode)
	}
	w.optional(level, "Reason", st.Reason)
	if s.HealthCheck != nil {
		h := healthString(st.Health, w.now)
		if h == "" {
			h = string(api.HealthUnknown)
		}
		w.field(level, "Health", h)
		w.field(level, "Health Check", strings.Join(s.HealthCheck.Test, " "))
	}
	if st.RestartCount > 0 || (s.RestartPolicy != nil && s.RestartPolicy.Enabled) {
		w.field(level, "Restart Count", st.RestartCount)
	}
	w.optional(level, "Last Error", st.LastError)
	w.optional(level, "Log Path", st.LogPath)
}

// containerObjectName is the object's name, or the derived one if the name is unset.
func containerObjectName(c *api.Container) string {
	if c.Name != "" {
		return c.Name
	}
	return api.ContainerName(c.Spec.TaskName, c.Spec.Name)
}

// containerCPU prints a container's CPU units (1024 per vCPU); zero means shares only.
func containerCPU(units int64) string {
	if units == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%d units", units)
}
