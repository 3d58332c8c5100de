package tcs

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// taskRef is what TCS needs to know about a task.
type taskRef struct {
	arn, cluster, family, version string
}

// target is a running container to sample.
type target struct {
	// key is the Container object name, unique on the instance.
	key  string
	task taskRef
	// name is the container's name within its task.
	name      string
	runtimeID string
	// restartPolicy: only containers with a restart policy report restart counts.
	restartPolicy bool
	restartCount  int32
}

// runningTask is a RUNNING task and its RUNNING containers, in definition order.
type runningTask struct {
	task       *api.Task
	containers []*api.Container
}

// runningTasks lists the RUNNING tasks and their RUNNING containers, sorted by task ARN.
// Two Lists and a join rather than a Get per container: the reader is a cache, and this
// runs every few seconds.
func runningTasks(ctx context.Context, r client.Reader) ([]runningTask, error) {
	var tasks api.TaskList
	if err := r.List(ctx, &tasks, client.InNamespace(api.Namespace)); err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	var ctrs api.ContainerList
	if err := r.List(ctx, &ctrs, client.InNamespace(api.Namespace)); err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	byName := make(map[string]*api.Container, len(ctrs.Items))
	for i := range ctrs.Items {
		byName[ctrs.Items[i].Name] = &ctrs.Items[i]
	}
	var out []runningTask
	for i := range tasks.Items {
		t := &tasks.Items[i]
		if t.Status.KnownStatus != api.TaskStatusRunning || t.Spec.ARN == "" {
			continue
		}
		rt := runningTask{task: t}
		for _, name := range t.Spec.Containers {
			c := byName[api.ContainerName(t.Name, name)]
			if c == nil || c.Spec.TaskName != t.Name || c.Status.KnownStatus != api.ContainerStatusRunning {
				continue
			}
			rt.containers = append(rt.containers, c)
		}
		out = append(out, rt)
	}
	slices.SortFunc(out, func(a, b runningTask) int { return strings.Compare(a.task.Spec.ARN, b.task.Spec.ARN) })
	return out, nil
}

// runningContainers lists the containers to sample: running, with a runtime ID.
func runningContainers(ctx context.Context, r client.Reader) ([]target, error) {
	tasks, err := runningTasks(ctx, r)
	if err != nil {
		return nil, err
	}
	var out []target
	for _, rt := range tasks {
		ref := refOf(rt.task)
		for _, c := range rt.containers {
			if c.Status.RuntimeID == "" {
				continue
			}
			out = append(out, target{
				key: c.Name, task: ref, name: c.Spec.Name, runtimeID: c.Status.RuntimeID,
				restartPolicy: c.Spec.RestartPolicy != nil && c.Spec.RestartPolicy.Enabled,
				restartCount:  c.Status.RestartCount,
			})
		}
	}
	return out, nil
}

func refOf(t *api.Task) taskRef {
	return taskRef{arn: t.Spec.ARN, cluster: t.Spec.ClusterARN, family: t.Spec.Family, version: t.Spec.Version}
}
