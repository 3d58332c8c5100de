package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// describeWriter writes kubectl-describe-style output: "Key:\tvalue" lines indented by
// level, aligned in columns by a tabwriter.
type describeWriter struct {
	tw  *tabwriter.Writer
	now time.Time
}

func newDescribeWriter(out io.Writer) *describeWriter {
	return &describeWriter{tw: tabwriter.NewWriter(out, 0, 8, 2, ' ', 0), now: time.Now()}
}

// line writes one line at an indentation level (two spaces each).
func (w *describeWriter) line(level int, format string, a ...any) {
	fmt.Fprintf(w.tw, strings.Repeat("  ", level)+format+"\n", a...)
}

// field writes "key:<tab>value", with <none> for an empty value as kubectl does.
func (w *describeWriter) field(level int, key string, value any) {
	s := fmt.Sprint(value)
	if s == "" {
		s = "<none>"
	}
	w.line(level, "%s:\t%s", key, s)
}

// optional writes the field only when it has a value: rarely set fields stay out of the way.
func (w *describeWriter) optional(level int, key, value string) {
	if value != "" {
		w.field(level, key, value)
	}
}

func (w *describeWriter) flush() error { return w.tw.Flush() }

// describeMeta writes the object header every describe starts with.
func describeMeta(w *describeWriter, name, ns string, labels, annotations map[string]string, created metav1.Time) {
	w.field(0, "Name", name)
	w.field(0, "Namespace", ns)
	w.field(0, "Labels", joinMap(labels, "\n\t"))
	if len(annotations) > 0 {
		w.field(0, "Annotations", joinMap(annotations, "\n\t"))
	}
	w.field(0, "Created", timestamp(&created, w.now))
}

// joinMap prints k=v pairs sorted by key.
func joinMap(m map[string]string, sep string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, sep)
}

// timestamp is an absolute time and how long ago it was, or "" when unset.
func timestamp(t *metav1.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return fmt.Sprintf("%s (%s ago)", t.Time.Format(time.RFC1123Z), duration.HumanDuration(now.Sub(t.Time)))
}

// event is one status transition of a task or one of its containers.
type event struct {
	api.Transition
	object string
}

// describeEvents writes the Events section: the recorded transitions, oldest first, the
// closest thing ecsd has to Kubernetes events.
func describeEvents(w *describeWriter, events []event) {
	if len(events) == 0 {
		w.field(0, "Events", "")
		return
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time.Before(&events[j].Time) })
	w.line(0, "Events:")
	w.line(1, "Age\tTime\tObject\tTransition\tReason")
	w.line(1, "---\t----\t------\t----------\t------")
	for _, e := range events {
		w.line(1, "%s\t%s\t%s\t%s -> %s\t%s", duration.HumanDuration(w.now.Sub(e.Time.Time)),
			e.Time.UTC().Format(time.RFC3339), e.object, orNone(e.From), orNone(e.To), oneLine(e.Reason))
	}
}

// historyEvents tags each transition of h with the object it belongs to.
func historyEvents(object string, h []api.Transition) []event {
	out := make([]event, 0, len(h))
	for _, t := range h {
		out = append(out, event{Transition: t, object: object})
	}
	return out
}

// orNone prints an empty status as NONE, the state machine's name for "not yet".
func orNone(s string) string {
	if s == "" {
		return "NONE"
	}
	return s
}

// oneLine keeps a multi-line reason (a command's output) on its row.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// portMappings prints a container's port mappings, e.g. "8080->80/tcp".
func portMappings(pm []api.PortMapping) string {
	parts := make([]string, 0, len(pm))
	for _, p := range pm {
		container := fmt.Sprint(p.ContainerPort)
		if p.ContainerPortRange != "" {
			container = p.ContainerPortRange
		}
		host := "dynamic"
		if p.HostPort != 0 {
			host = fmt.Sprint(p.HostPort)
		}
		parts = append(parts, fmt.Sprintf("%s->%s/%s", host, container, protocol(p.Protocol)))
	}
	return strings.Join(parts, ", ")
}

// networkBindings prints bound host ports, e.g. "0.0.0.0:32768->80/tcp".
func networkBindings(nb []api.NetworkBinding) string {
	parts := make([]string, 0, len(nb))
	for _, b := range nb {
		host, container := fmt.Sprint(b.HostPort), fmt.Sprint(b.ContainerPort)
		if b.HostPortRange != "" {
			host = b.HostPortRange
		}
		if b.ContainerPortRange != "" {
			container = b.ContainerPortRange
		}
		parts = append(parts, fmt.Sprintf("%s:%s->%s/%s", b.BindIP, host, container, protocol(b.Protocol)))
	}
	return strings.Join(parts, ", ")
}

func protocol(p string) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(p)
}

// describeNetwork writes a network namespace's addresses.
func describeNetwork(w *describeWriter, level int, n *api.NetworkStatus) {
	w.field(level, "Mode", n.Mode)
	w.optional(level, "IPv4 Address", n.IPv4Address)
	w.optional(level, "IPv4 Gateway", n.IPv4Gateway)
	w.optional(level, "IPv4 Subnet", n.IPv4SubnetCIDR)
	w.optional(level, "ENI Interface", n.InterfaceName)
	w.optional(level, "Endpoint Address", n.EndpointIPv4Address)
	w.optional(level, "Network Namespace", n.NetNSPath)
	w.optional(level, "Released", timestamp(n.ReleasedAt, w.now))
}

// healthString prints a health result, e.g. "UNHEALTHY (3 failures; exit 1: boom)".
func healthString(h *api.Health, now time.Time) string {
	if h == nil {
		return ""
	}
	s := string(h.Status)
	var extra []string
	if h.FailingStreak > 0 {
		extra = append(extra, fmt.Sprintf("%d consecutive failures", h.FailingStreak))
	}
	if h.Output != "" {
		extra = append(extra, fmt.Sprintf("exit %d: %s", h.ExitCode, oneLine(h.Output)))
	}
	if h.Since != nil {
		extra = append(extra, "since "+duration.HumanDuration(now.Sub(h.Since.Time))+" ago")
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, "; ") + ")"
	}
	return s
}

// condition is a kubectl-style condition derived from the status's timestamps: ecsd keeps
// times, not conditions, but "has it pulled? is it running?" is what a reader wants.
type condition struct {
	name   string
	status bool
	at     *metav1.Time
}

func describeConditions(w *describeWriter, conds []condition) {
	w.line(0, "Conditions:")
	w.line(1, "Type\tStatus\tSince")
	w.line(1, "----\t------\t-----")
	for _, c := range conds {
		status := "False"
		if c.status {
			status = "True"
		}
		since := "<none>"
		if c.at != nil && !c.at.IsZero() {
			since = c.at.UTC().Format(time.RFC3339)
		}
		w.line(1, "%s\t%s\t%s", c.name, status, since)
	}
}
