package metadata

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// ErrNotFound is returned (wrapped) when the object asked for does not exist. Callers map it
// to the endpoint's "not found" answer; any other error is an internal failure.
var ErrNotFound = errors.New("not found")

// TaskView is one task with everything its responses need, read in one go so that a single
// response is built from one consistent-enough snapshot.
type TaskView struct {
	Task *api.Task
	// Containers are the task's Container objects in definition order; a container whose
	// object is missing (not written yet, or already cleaned up) is left out.
	Containers []*api.Container
	// ENI is the primary ENI of an awsvpc task, nil when there is none or it is not stored.
	ENI *api.Attachment
}

// TaskIDFromARN returns the task ID, the last segment of a task ARN, which is the Task
// object's name.
func TaskIDFromARN(arn string) string {
	if i := strings.LastIndexByte(arn, '/'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// LoadTask reads the task named name (its task ID) with its containers and primary ENI.
func LoadTask(ctx context.Context, r client.Reader, name string) (*TaskView, error) {
	t := &api.Task{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: api.Namespace, Name: name}, t); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("task %s: %w", name, ErrNotFound)
		}
		return nil, fmt.Errorf("get task %s: %w", name, err)
	}
	v := &TaskView{Task: t}
	for _, cname := range t.Spec.Containers {
		c := &api.Container{}
		err := r.Get(ctx, client.ObjectKey{Namespace: api.Namespace, Name: api.ContainerName(t.Name, cname)}, c)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get container %s of task %s: %w", cname, name, err)
		}
		v.Containers = append(v.Containers, c)
	}
	if IsAWSVPC(t) && len(t.Spec.ENIs) > 0 {
		a := &api.Attachment{}
		err := r.Get(ctx, client.ObjectKey{Namespace: api.Namespace, Name: t.Spec.ENIs[0]}, a)
		switch {
		case err == nil:
			v.ENI = a
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("get ENI %s of task %s: %w", t.Spec.ENIs[0], name, err)
		}
	}
	return v, nil
}

// LoadTaskByARN reads the task with ARN arn. The object name is derived from the ARN and
// the stored ARN is compared, so an ARN from another cluster with the same ID never matches.
func LoadTaskByARN(ctx context.Context, r client.Reader, arn string) (*TaskView, error) {
	v, err := LoadTask(ctx, r, TaskIDFromARN(arn))
	if err != nil {
		return nil, err
	}
	if v.Task.Spec.ARN != arn {
		return nil, fmt.Errorf("task %s: %w", arn, ErrNotFound)
	}
	return v, nil
}

// ListTasks returns every stored task, ordered by ARN so responses are stable.
func ListTasks(ctx context.Context, r client.Reader) ([]api.Task, error) {
	var l api.TaskList
	if err := r.List(ctx, &l, client.InNamespace(api.Namespace)); err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Spec.ARN < l.Items[j].Spec.ARN })
	return l.Items, nil
}

// ListContainers returns every stored container.
func ListContainers(ctx context.Context, r client.Reader) ([]api.Container, error) {
	var l api.ContainerList
	if err := r.List(ctx, &l, client.InNamespace(api.Namespace)); err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	return l.Items, nil
}

// ContainerByEndpointID returns the container whose task metadata endpoint ID is id, found
// through EndpointIDField.
func ContainerByEndpointID(ctx context.Context, r client.Reader, id string) (*api.Container, error) {
	if id == "" {
		return nil, fmt.Errorf("endpoint ID %q: %w", id, ErrNotFound)
	}
	var l api.ContainerList
	if err := listIndexed(ctx, r, &l, EndpointIDField, id, ContainerEndpointID); err != nil {
		return nil, fmt.Errorf("list containers by endpoint ID: %w", err)
	}
	if len(l.Items) == 0 {
		return nil, fmt.Errorf("endpoint ID %q: %w", id, ErrNotFound)
	}
	return &l.Items[0], nil
}

// TasksByAddress returns the tasks whose live task network (awsvpc ENI or endpoints leg)
// has address ip, found through TaskAddressField.
func TasksByAddress(ctx context.Context, r client.Reader, ip netip.Addr) ([]api.Task, error) {
	var l api.TaskList
	if err := listIndexed(ctx, r, &l, TaskAddressField, ip.Unmap().String(), TaskAddresses); err != nil {
		return nil, fmt.Errorf("list tasks by address: %w", err)
	}
	return l.Items, nil
}

// ContainersByAddress returns the containers whose own live network (bridge) has address
// ip, found through ContainerAddressField.
func ContainersByAddress(ctx context.Context, r client.Reader, ip netip.Addr) ([]api.Container, error) {
	var l api.ContainerList
	if err := listIndexed(ctx, r, &l, ContainerAddressField, ip.Unmap().String(), ContainerAddresses); err != nil {
		return nil, fmt.Errorf("list containers by address: %w", err)
	}
	return l.Items, nil
}

// TasksByCredentialsID returns the tasks whose role or execution role credentials ID is
// id, found through CredentialsIDField. IDs are unique, so there is at most one unless the
// store is corrupt.
func TasksByCredentialsID(ctx context.Context, r client.Reader, id string) ([]api.Task, error) {
	if id == "" {
		return nil, nil
	}
	var l api.TaskList
	if err := listIndexed(ctx, r, &l, CredentialsIDField, id, TaskCredentialsIDs); err != nil {
		return nil, fmt.Errorf("list tasks by credentials ID: %w", err)
	}
	return l.Items, nil
}

// listIndexed fills list with the objects whose field index holds value. A reader without
// the index (the store itself answers BadRequest for any field but metadata's, and so does
// the cache for an index never registered) gets a full list filtered with extract, the
// index's own function, so both ways give the same answer.
func listIndexed(ctx context.Context, r client.Reader, list client.ObjectList, field, value string, extract client.IndexerFunc) error {
	err := r.List(ctx, list, client.InNamespace(api.Namespace), client.MatchingFields{field: value})
	if err == nil || !apierrors.IsBadRequest(err) {
		return err
	}
	if err := r.List(ctx, list, client.InNamespace(api.Namespace)); err != nil {
		return err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	kept := items[:0]
	for _, it := range items {
		if o, ok := it.(client.Object); ok && slices.Contains(extract(o), value) {
			kept = append(kept, it)
		}
	}
	return meta.SetList(list, kept)
}

// LoadAll reads every task with its containers and primary ENI in three lists, which is
// cheaper than one read per object when every task is wanted.
func LoadAll(ctx context.Context, r client.Reader) ([]*TaskView, error) {
	tasks, err := ListTasks(ctx, r)
	if err != nil {
		return nil, err
	}
	cs, err := ListContainers(ctx, r)
	if err != nil {
		return nil, err
	}
	var atts api.AttachmentList
	if err := r.List(ctx, &atts, client.InNamespace(api.Namespace)); err != nil {
		return nil, fmt.Errorf("list attachments: %w", err)
	}
	byName := make(map[string]*api.Container, len(cs))
	for i := range cs {
		byName[cs[i].Name] = &cs[i]
	}
	attByName := make(map[string]*api.Attachment, len(atts.Items))
	for i := range atts.Items {
		attByName[atts.Items[i].Name] = &atts.Items[i]
	}
	out := make([]*TaskView, 0, len(tasks))
	for i := range tasks {
		t := &tasks[i]
		v := &TaskView{Task: t}
		for _, cname := range t.Spec.Containers {
			if c, ok := byName[api.ContainerName(t.Name, cname)]; ok {
				v.Containers = append(v.Containers, c)
			}
		}
		if IsAWSVPC(t) && len(t.Spec.ENIs) > 0 {
			v.ENI = attByName[t.Spec.ENIs[0]]
		}
		out = append(out, v)
	}
	return out, nil
}
