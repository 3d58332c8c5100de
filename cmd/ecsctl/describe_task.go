package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// describeTask writes a task, its containers (nil for one that could not be read) and the
// merged history of both as events.
func describeTask(out io.Writer, t *api.Task, containers []*api.Container) error {
	w := newDescribeWriter(out)
	describeMeta(w, t.Name, t.Namespace, t.Labels, t.Annotations, t.CreationTimestamp)
	s, st := &t.Spec, &t.Status
	w.field(0, "ARN", s.ARN)
	w.optional(0, "Cluster", s.ClusterARN)
	w.field(0, "Task Definition", s.Family+":"+s.Version)
	w.optional(0, "Launch Type", s.LaunchType)
	w.optional(0, "Service", s.ServiceName)
	w.optional(0, "Group", s.Group)
	w.field(0, "Network Mode", s.NetworkMode)
	w.field(0, "CPU", taskCPU(s.CPU))
	w.field(0, "Memory", mib(s.Memory))
	w.optional(0, "Invalid", s.Invalid)
	w.field(0, "Desired Status", t.DesiredStatus())
	w.field(0, "Known Status", st.KnownStatus.OrNone())
	w.optional(0, "Known Status Since", timestamp(st.KnownStatusTime, w.now))
	w.field(0, "Sent Status", st.SentStatus.OrNone())
	w.optional(0, "Stopped Reason", st.StoppedReason)
	w.optional(0, "Pull Started", timestamp(st.PullStartedAt, w.now))
	w.optional(0, "Pull Stopped", timestamp(st.PullStoppedAt, w.now))
	w.optional(0, "Execution Stopped", timestamp(st.ExecutionStoppedAt, w.now))
	w.optional(0, "Cleanup At", timestamp(st.CleanupAt, w.now))
	if h := taskHealth(containers); h != "" {
		w.field(0, "Health", h)
	}
	describeConditions(w, taskConditions(t))
	describeTaskNetwork(w, t, containers)
	describeVolumes(w, s.Volumes)

	w.line(0, "Containers:")
	events := historyEvents("task", st.History)
	for i, name := range s.Containers {
		w.line(1, "%s:", name)
		c := containers[i]
		if c == nil {
			w.field(2, "Container", api.ContainerName(t.Name, name)+" (not found)")
			continue
		}
		describeContainerBody(w, 2, c)
		events = append(events, historyEvents("container/"+name, c.Status.History)...)
	}
	describeEvents(w, events)
	return w.flush()
}

// taskConditions derives the task's conditions from its status.
func taskConditions(t *api.Task) []condition {
	st := &t.Status
	known := st.KnownStatus
	return []condition{
		{"Pulled", known.AtLeast(api.TaskStatusPulled) || st.PullStoppedAt != nil, st.PullStoppedAt},
		{"Running", known == api.TaskStatusRunning, runningSince(t)},
		{"Stopped", known.AtLeast(api.TaskStatusStopped), st.ExecutionStoppedAt},
		// Acknowledged: ECS knows the task's current status (the report controller caught up).
		{"Acknowledged", st.SentStatus != "" && !st.SentStatus.Before(known), nil},
	}
}

// runningSince is when the task reached RUNNING, from its history.
func runningSince(t *api.Task) *metav1.Time {
	for i := len(t.Status.History) - 1; i >= 0; i-- {
		if t.Status.History[i].To == string(api.TaskStatusRunning) {
			return &t.Status.History[i].Time
		}
	}
	return nil
}

// describeTaskNetwork writes the task's network: the awsvpc namespace, its ENIs, each
// bridge container's own address, and every bound host port.
func describeTaskNetwork(w *describeWriter, t *api.Task, containers []*api.Container) {
	w.line(0, "Network:")
	if n := t.Status.Network; n != nil {
		describeNetwork(w, 1, n)
	} else {
		w.field(1, "Mode", t.Spec.NetworkMode)
	}
	if len(t.Spec.ENIs) > 0 {
		w.field(1, "ENI Attachments", strings.Join(t.Spec.ENIs, ", "))
	}
	var addrs, bindings []string
	for _, c := range containers {
		if c == nil {
			continue
		}
		if n := c.Status.Network; n != nil && n.IPv4Address != "" {
			addrs = append(addrs, c.Spec.Name+"="+n.IPv4Address)
		}
		if b := networkBindings(c.Status.NetworkBindings); b != "" {
			bindings = append(bindings, c.Spec.Name+": "+b)
		}
	}
	if len(addrs) > 0 {
		w.field(1, "Container Addresses", strings.Join(addrs, ", "))
	}
	w.field(1, "Port Bindings", strings.Join(bindings, "\n\t"))
}

// describeVolumes writes the task's volumes, if any.
func describeVolumes(w *describeWriter, vols []api.Volume) {
	if len(vols) == 0 {
		return
	}
	w.line(0, "Volumes:")
	for _, v := range vols {
		kind := v.Type
		if kind == "" {
			kind = "host"
		}
		src := v.HostSourcePath
		switch {
		case src != "":
		case v.EFS != nil:
			src = v.EFS.FileSystemID + ":" + v.EFS.RootDirectory
		case v.Scope == "shared":
			src = "(shared, agent-managed)"
		default:
			src = "(agent-managed)"
		}
		w.line(1, "%s:\t%s %s", v.Name, kind, src)
	}
}

// taskHealth aggregates the containers' health the way ECS does: any essential container
// unhealthy makes the task unhealthy; all checked essential containers healthy make it
// healthy. Empty when no container has a health check.
func taskHealth(containers []*api.Container) string {
	checked, healthy := 0, 0
	for _, c := range containers {
		if c == nil || c.Spec.HealthCheck == nil || !c.Spec.Essential {
			continue
		}
		checked++
		if c.Status.Health == nil {
			continue
		}
		switch c.Status.Health.Status {
		case api.HealthUnhealthy:
			return string(api.HealthUnhealthy)
		case api.HealthHealthy:
			healthy++
		}
	}
	switch {
	case checked == 0:
		return ""
	case healthy == checked:
		return string(api.HealthHealthy)
	}
	return string(api.HealthUnknown)
}

// taskCPU prints the task-level CPU (vCPUs) with its CPU units.
func taskCPU(vcpu float64) string {
	if vcpu == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%s vCPU (%d units)", strconv.FormatFloat(vcpu, 'f', -1, 64), int64(vcpu*1024))
}

// mib prints a memory size in MiB; zero is no limit.
func mib(n int64) string {
	if n == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%d MiB", n)
}
