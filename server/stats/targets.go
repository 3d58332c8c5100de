package stats

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// networkModeAWSVPC is the task network mode whose containers share the task's namespace.
const networkModeAWSVPC = api.NetworkModeAWSVPC

// target is a running container to sample and where its network counters come from.
type target struct {
	runtimeID string
	// netNS is the namespace whose interfaces are the container's; "" for host networking.
	netNS string
	// task is the awsvpc task's object name when the namespace is the task's, else "".
	task string
	// shares is how many containers split the task namespace's counters (awsvpc), else 1.
	shares int
}

// runningTargets lists every container the store knows as RUNNING with a runtime ID. Two
// Lists and a join rather than a Get per container: the reader is a cache and this runs
// every poll period.
func runningTargets(ctx context.Context, r client.Reader) ([]target, error) {
	var tasks api.TaskList
	if err := r.List(ctx, &tasks, client.InNamespace(api.Namespace)); err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	var ctrs api.ContainerList
	if err := r.List(ctx, &ctrs, client.InNamespace(api.Namespace)); err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	byName := make(map[string]*api.Task, len(tasks.Items))
	for i := range tasks.Items {
		byName[tasks.Items[i].Name] = &tasks.Items[i]
	}
	var out []target
	for i := range ctrs.Items {
		c := &ctrs.Items[i]
		if c.Status.KnownStatus != api.ContainerStatusRunning || c.Status.RuntimeID == "" {
			continue
		}
		tg := target{runtimeID: c.Status.RuntimeID, shares: 1}
		if t := byName[c.Spec.TaskName]; t != nil && t.NetworkMode() == networkModeAWSVPC {
			tg.netNS = liveNetNS(t.Status.Network)
			tg.task = t.Name
			tg.shares = max(len(t.Spec.Containers), 1)
		} else {
			tg.netNS = liveNetNS(c.Status.Network)
		}
		out = append(out, tg)
	}
	return out, nil
}

// liveNetNS is the namespace path of a network that is set up and not yet released.
func liveNetNS(n *api.NetworkStatus) string {
	if n == nil || n.ReleasedAt != nil {
		return ""
	}
	return n.NetNSPath
}
