package objectapi

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// The tables of each kind: what an operator checks first in priority 0, the rest with
// -o wide. Cells never derive state of their own; they show what the objects say.

func col(name, typ, desc string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: desc}
}

func wide(c metav1.TableColumnDefinition) metav1.TableColumnDefinition {
	c.Priority = 1
	return c
}

var taskTable = tableDef{
	columns: []metav1.TableColumnDefinition{
		nameColumn,
		col("Family:Revision", "string", "Task definition family and revision."),
		col("Desired", "string", "Effective desired status: the later of what ECS asked and what the agent decided."),
		col("Known", "string", "Status the agent observed."),
		col("Network", "string", "Network mode."),
		col("Ready", "string", "Containers running / containers in the task."),
		ageColumn,
		wide(col("ARN", "string", "Task ARN.")),
		wide(col("IP", "string", "Addresses of the task (awsvpc) or of its containers (bridge).")),
		wide(col("Stopped Reason", "string", "Why the task stopped.")),
	},
	cells: func(rc *rowContext, obj runtime.Object) []any {
		t := obj.(*api.Task)
		ctrs := rc.containersOf(t)
		running := 0
		var ips []string
		for _, c := range ctrs {
			if c.Status.KnownStatus == api.ContainerStatusRunning {
				running++
			}
			if n := c.Status.Network; n != nil && n.IPv4Address != "" {
				ips = append(ips, n.IPv4Address)
			}
		}
		if n := t.Status.Network; n != nil && n.IPv4Address != "" {
			ips = []string{n.IPv4Address}
		}
		return []any{
			t.Name,
			t.Spec.Family + ":" + t.Spec.Version,
			string(t.DesiredStatus()),
			string(t.Status.KnownStatus.OrNone()),
			t.NetworkMode(),
			fmt.Sprintf("%d/%d", running, len(t.Spec.Containers)),
			rc.age(t.CreationTimestamp),
			orNone(t.Spec.ARN),
			joinOrNone(ips),
			orNone(t.Status.StoppedReason),
		}
	},
}

var containerTable = tableDef{
	columns: []metav1.TableColumnDefinition{
		nameColumn,
		col("Task", "string", "Name of the owning Task (the task ID)."),
		col("Image", "string", "Image as the task definition names it."),
		col("Desired", "string", "Desired status the task controller derived."),
		col("Known", "string", "Status the agent observed."),
		col("Health", "string", "Last health check result; <none> without a health check."),
		col("Exit Code", "string", "Exit code once the container stopped."),
		col("Restarts", "integer", "Restarts under the container's restart policy."),
		ageColumn,
		wide(col("Runtime ID", "string", "containerd container ID.")),
		wide(col("IP", "string", "Address of the container's own network (bridge mode).")),
		wide(col("Ports", "string", "Host ports bound to container ports.")),
		wide(col("Reason", "string", "Why the container stopped or what its last failed step was.")),
	},
	cells: func(rc *rowContext, obj runtime.Object) []any {
		c := obj.(*api.Container)
		s := &c.Status
		health := none
		if c.Spec.HealthCheck != nil {
			health = string(api.HealthUnknown)
			if s.Health != nil && s.Health.Status != "" {
				health = string(s.Health.Status)
			}
		}
		exit := none
		if s.ExitCode != nil {
			exit = strconv.Itoa(int(*s.ExitCode))
		}
		ip := ""
		if s.Network != nil {
			ip = s.Network.IPv4Address
		}
		var ports []string
		for _, b := range s.NetworkBindings {
			ports = append(ports, fmt.Sprintf("%s:%d->%d/%s", b.BindIP, b.HostPort, b.ContainerPort, b.Protocol))
		}
		reason := s.Reason
		if reason == "" {
			reason = s.LastError
		}
		return []any{
			c.Name,
			c.Spec.TaskName,
			c.Spec.Image,
			string(s.DesiredStatus.OrNone()),
			string(s.KnownStatus.OrNone()),
			health,
			exit,
			int64(s.RestartCount),
			rc.age(c.CreationTimestamp),
			orNone(s.RuntimeID),
			orNone(ip),
			joinOrNone(ports),
			orNone(reason),
		}
	},
}

var imageTable = tableDef{
	columns: []metav1.TableColumnDefinition{
		nameColumn,
		col("References", "string", "Names the image was pulled as."),
		col("Size", "string", "Size of the image's content."),
		col("Users", "integer", "Containers using the image; image cleanup skips it while any do."),
		col("Pulled", "string", "Time since the image was pulled."),
		col("Last Used", "string", "Time since a container last used the image."),
		col("Cleanup", "string", "When image cleanup may remove the image (in 40m, due), or why it keeps it."),
		ageColumn,
		wide(col("Digest", "string", "Manifest digest.")),
		wide(col("Kept Because", "string", "Why image cleanup keeps the image, in full.")),
	},
	cells: func(rc *rowContext, obj runtime.Object) []any {
		im := obj.(*api.Image)
		return []any{
			im.Name,
			joinOrNone(im.Status.References),
			byteSize(im.Status.Size),
			int64(len(im.Status.Users)),
			rc.ageOf(im.Status.PulledAt),
			rc.ageOf(im.Status.LastUsedAt),
			rc.cleanup(im),
			rc.age(im.CreationTimestamp),
			orNone(im.Spec.Digest),
			orNone(im.Status.KeptBecause),
		}
	},
}

// cleanup is the image's Cleanup cell: "in 40m" while it is too recently used, "due" once
// the next cycle (or disk pressure) may remove it, otherwise why it is kept.
func (rc *rowContext) cleanup(im *api.Image) string {
	after := im.Status.CleanupAfter
	switch {
	case after != nil && after.After(rc.now):
		return "in " + duration.HumanDuration(after.Sub(rc.now))
	case after != nil && strings.HasPrefix(im.Status.KeptBecause, "waiting"):
		return "due"
	}
	return orNone(im.Status.KeptBecause)
}

var attachmentTable = tableDef{
	columns: []metav1.TableColumnDefinition{
		nameColumn,
		col("Status", "string", "NONE, ATTACHED or DETACHED."),
		col("MAC", "string", "MAC address of the ENI."),
		col("IPv4", "string", "IPv4 addresses of the ENI."),
		col("Task", "string", "Task the ENI is attached to."),
		col("Interface", "string", "Host interface name once found by MAC."),
		ageColumn,
		wide(col("ARN", "string", "Attachment ARN.")),
		wide(col("Expires", "string", "When an unused attachment expires.")),
		wide(col("Sent", "string", "Status ECS acknowledged.")),
		wide(col("Reason", "string", "Why the attachment failed.")),
	},
	cells: func(rc *rowContext, obj runtime.Object) []any {
		a := obj.(*api.Attachment)
		task := ""
		if arn := a.Spec.TaskARN; arn != "" {
			task = arn[strings.LastIndex(arn, "/")+1:]
		}
		expires := none
		if a.Spec.ExpiresAt != nil {
			expires = a.Spec.ExpiresAt.UTC().Format(time.RFC3339)
		}
		status := a.Status.Status
		if status == "" {
			status = api.AttachmentNone
		}
		return []any{
			a.Name,
			status,
			orNone(a.Spec.MACAddress),
			joinOrNone(a.Spec.IPv4Addresses),
			orNone(task),
			orNone(a.Status.InterfaceName),
			rc.age(a.CreationTimestamp),
			orNone(a.Spec.AttachmentARN),
			expires,
			orNone(a.Status.SentStatus),
			orNone(a.Status.Reason),
		}
	},
}

var instanceTable = tableDef{
	columns: []metav1.TableColumnDefinition{
		nameColumn,
		col("Cluster", "string", "Cluster the instance is registered in."),
		col("Container Instance", "string", "Container instance ID."),
		col("ACS", "string", "Whether the ACS session is connected."),
		col("TCS", "string", "Whether the TCS session is connected."),
		col("Registered", "string", "Time since the instance registered."),
		ageColumn,
		wide(col("ARN", "string", "Container instance ARN.")),
		wide(col("EC2 Instance", "string", "EC2 instance ID.")),
		wide(col("Availability Zone", "string", "Availability zone.")),
	},
	cells: func(rc *rowContext, obj runtime.Object) []any {
		in := obj.(*api.Instance)
		s := &in.Status
		id := s.ContainerInstanceARN[strings.LastIndex(s.ContainerInstanceARN, "/")+1:]
		return []any{
			in.Name,
			orNone(in.Spec.Cluster),
			orNone(id),
			connected(s.ACSConnected),
			connected(s.TCSConnected),
			rc.ageOf(s.RegisteredAt),
			rc.age(in.CreationTimestamp),
			orNone(s.ContainerInstanceARN),
			orNone(s.EC2InstanceID),
			orNone(s.AvailabilityZone),
		}
	},
}

func connected(b bool) string {
	if b {
		return "Connected"
	}
	return "Disconnected"
}

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

func joinOrNone(ss []string) string { return orNone(strings.Join(ss, ",")) }

// byteSize formats a size in binary units, e.g. 12.3MiB.
func byteSize(n int64) string {
	if n <= 0 {
		return none
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
