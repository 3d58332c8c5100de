package tmds

import (
	"context"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/server/metadata"
)

// pendingCredentials returns the entry, without secrets, of a credentials ID that a task
// holds in its spec but whose credentials the manager does not have: credentials live in
// memory only, so after an agent restart every task is in this state until ACS sends them
// again (sendCredentials=true on the first connection). The reference agent answers such
// an ID 503 CredentialsUninitialized, which SDKs retry, rather than 400, which they do not.
//
// It is not pending, and stays unknown, when the task is STOPPED (nothing will be sent
// for it any more) or when the manager holds other credentials of the same task and role:
// a refresh carrying a new ID replaced this one.
func (h *handler) pendingCredentials(ctx context.Context, id string) (credentials.Entry, bool) {
	tasks, err := metadata.TasksByCredentialsID(ctx, h.o.Reader, id)
	if err != nil {
		// The error may quote the ID, which must never be logged.
		h.log.Info("cannot look up the task of a credentials ID; answering it as unknown")
		return credentials.Entry{}, false
	}
	if len(tasks) != 1 {
		return credentials.Entry{}, false
	}
	t := &tasks[0]
	if t.Status.KnownStatus == api.TaskStatusStopped {
		return credentials.Entry{}, false
	}
	role := credentials.TaskExecution
	if t.Spec.RoleCredentialsID == id {
		role = credentials.TaskApplication
	}
	if _, ok := h.o.Credentials.ForTask(t.Spec.ARN, role); ok {
		return credentials.Entry{}, false
	}
	return credentials.Entry{ID: id, TaskARN: t.Spec.ARN, RoleType: role}, true
}
