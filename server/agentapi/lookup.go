package agentapi

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/server/metadata"
)

// errNoTask: no task has a container with the endpoint ID (404); any other lookup error
// is the agent's own failure (500).
var errNoTask = errors.New("no task for the endpoint ID")

// taskOf returns the task whose container has endpointID, found through the container
// endpoint ID index (metadata.EndpointIDField) that the task metadata server uses too.
func (h *handler) taskOf(ctx context.Context, endpointID string) (*api.Task, error) {
	c, err := metadata.ContainerByEndpointID(ctx, h.o.Reader, endpointID)
	if errors.Is(err, metadata.ErrNotFound) {
		return nil, errNoTask
	}
	if err != nil {
		return nil, err
	}
	var task api.Task
	err = h.o.Reader.Get(ctx, client.ObjectKey{Namespace: api.Namespace, Name: c.Spec.TaskName}, &task)
	if apierrors.IsNotFound(err) {
		return nil, errNoTask
	}
	if err != nil {
		return nil, fmt.Errorf("get task %s: %w", c.Spec.TaskName, err)
	}
	if task.Spec.ARN == "" {
		return nil, errNoTask
	}
	return &task, nil
}

// roleCredentials returns the task's role (TaskApplication) credentials, if it has a
// task role and ACS delivered them. Execution role credentials are never used: they are
// the agent's, for pulls and logs, not the application's.
func (h *handler) roleCredentials(task *api.Task) (credentials.Entry, bool) {
	if h.o.Credentials == nil || task.Spec.RoleCredentialsID == "" {
		return credentials.Entry{}, false
	}
	e, ok := h.o.Credentials.Get(task.Spec.RoleCredentialsID)
	if !ok || e.RoleType != credentials.TaskApplication || (e.TaskARN != "" && e.TaskARN != task.Spec.ARN) {
		return credentials.Entry{}, false
	}
	return e, true
}
