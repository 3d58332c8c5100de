package stats

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// networkModeAWSVPC is the task network mode whose containers share the task's namespace.
const networkModeAWSVPC = api.NetworkModeAWSVPC

// TaskRef is what the views say about a container's task.
type TaskRef struct {
	ARN, Cluster, Family, Version string
}

// target is a running container to sample, what its views report about it, and where its
// network counters come from.
type target struct {
	runtimeID string
	// netNS is the namespace whose interfaces are the container's; "" for host networking.
	netNS string
	// awsvpcTask is the awsvpc task's object name when the namespace is the task's, else "".
	awsvpcTask string
	// shares is how many containers split the task namespace's counters (awsvpc), else 1.
	shares int

	task TaskRef
	// name is the container's name within its task.
	name string
	// telemetry: the container is RUNNING in a RUNNING task with an ARN, which is what TCS
	// reports on; other running containers (a task still starting or already stopping)
	// have documents but no publish window.
	telemetry bool
	// restartPolicy: only containers with a restart policy report restart counts.
	restartPolicy bool
	restartCount  int32
}

// runningTask is a RUNNING task and its RUNNING containers, in definition order.
type runningTask struct {
	task       *api.Task
	containers []*api.Container
}

// listing is the store's view of what runs, read once per pass.
type listing struct {
	// targets are every container the store knows as RUNNING with a runtime ID.
	targets []target
	// tasks are the RUNNING tasks with an ARN, sorted by ARN.
	tasks []runningTask
}

// list reads the running tasks and containers. Two Lists and a join rather than a Get per
// container: the reader is a cache, and this runs every poll period.
func list(ctx context.Context, r client.Reader) (listing, error) {
	var tasks api.TaskList
	if err := r.List(ctx, &tasks, client.InNamespace(api.Namespace)); err != nil {
		return listing{}, fmt.Errorf("list tasks: %w", err)
	}
	var ctrs api.ContainerList
	if err := r.List(ctx, &ctrs, client.InNamespace(api.Namespace)); err != nil {
		return listing{}, fmt.Errorf("list containers: %w", err)
	}
	ctrByName := make(map[string]*api.Container, len(ctrs.Items))
	for i := range ctrs.Items {
		ctrByName[ctrs.Items[i].Name] = &ctrs.Items[i]
	}
	taskByName := make(map[string]*api.Task, len(tasks.Items))
	var l listing
	for i := range tasks.Items {
		t := &tasks.Items[i]
		taskByName[t.Name] = t
		if t.Status.KnownStatus != api.TaskStatusRunning || t.Spec.ARN == "" {
			continue
		}
		rt := runningTask{task: t}
		for _, name := range t.Spec.Containers {
			c := ctrByName[api.ContainerName(t.Name, name)]
			if c == nil || c.Spec.TaskName != t.Name || c.Status.KnownStatus != api.ContainerStatusRunning {
				continue
			}
			rt.containers = append(rt.containers, c)
		}
		l.tasks = append(l.tasks, rt)
	}
	slices.SortFunc(l.tasks, func(a, b runningTask) int { return strings.Compare(a.task.Spec.ARN, b.task.Spec.ARN) })
	for i := range ctrs.Items {
		c := &ctrs.Items[i]
		if c.Status.KnownStatus != api.ContainerStatusRunning || c.Status.RuntimeID == "" {
			continue
		}
		l.targets = append(l.targets, targetOf(c, taskByName[c.Spec.TaskName]))
	}
	return l, nil
}

// targetOf describes running container c of task t (nil if the store has no such task).
func targetOf(c *api.Container, t *api.Task) target {
	tg := target{runtimeID: c.Status.RuntimeID, shares: 1, name: c.Spec.Name,
		restartPolicy: c.Spec.RestartPolicy != nil && c.Spec.RestartPolicy.Enabled,
		restartCount:  c.Status.RestartCount}
	if t == nil {
		tg.netNS = liveNetNS(c.Status.Network)
		return tg
	}
	tg.task = refOf(t)
	tg.telemetry = t.Status.KnownStatus == api.TaskStatusRunning && t.Spec.ARN != "" &&
		slices.Contains(t.Spec.Containers, c.Spec.Name) && c.Name == api.ContainerName(t.Name, c.Spec.Name)
	if t.NetworkMode() == networkModeAWSVPC {
		tg.netNS = liveNetNS(t.Status.Network)
		tg.awsvpcTask = t.Name
		tg.shares = max(len(t.Spec.Containers), 1)
	} else {
		tg.netNS = liveNetNS(c.Status.Network)
	}
	return tg
}

func refOf(t *api.Task) TaskRef {
	return TaskRef{ARN: t.Spec.ARN, Cluster: t.Spec.ClusterARN, Family: t.Spec.Family, Version: t.Spec.Version}
}

// liveNetNS is the namespace path of a network that is set up and not yet released.
func liveNetNS(n *api.NetworkStatus) string {
	if n == nil || n.ReleasedAt != nil {
		return ""
	}
	return n.NetNSPath
}
