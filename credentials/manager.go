// Package credentials holds the task IAM role credentials ACS delivers, in memory only.
//
// They are never written to the checkpoint: on its first connection after a start the agent
// asks ACS to send every task's credentials again (sendCredentials=true), as the reference
// agent does, so a copy on disk would only widen the exposure.
package credentials

import (
	"fmt"
	"sync"
	"time"
)

// RoleType says which role a set of credentials belongs to.
type RoleType string

const (
	// TaskApplication is the task role, served to the task's containers.
	TaskApplication RoleType = "TaskApplication"
	// TaskExecution is the execution role, used by the agent itself (ECR pulls, secrets).
	TaskExecution RoleType = "TaskExecution"
)

// Entry is one set of temporary role credentials. Its String method redacts the secrets.
type Entry struct {
	// ID is the unguessable credentials ID the credentials endpoint is queried with.
	ID              string
	TaskARN         string
	RoleARN         string
	RoleType        RoleType
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// String never prints the secret members.
func (e Entry) String() string {
	return fmt.Sprintf("{id:%s task:%s role:%s type:%s expiration:%s}", e.ID, e.TaskARN, e.RoleARN, e.RoleType, e.Expiration.UTC().Format(time.RFC3339))
}

// GoString keeps %#v from printing the secrets.
func (e Entry) GoString() string { return "credentials.Entry" + e.String() }

// Expired reports whether the credentials are no longer valid at now. Credentials without
// an expiration never expire.
func (e Entry) Expired(now time.Time) bool {
	return !e.Expiration.IsZero() && !now.Before(e.Expiration)
}

// Manager is a concurrency-safe map of credentials by ID, with an index by task and role.
type Manager struct {
	mu     sync.RWMutex
	byID   map[string]Entry
	byTask map[taskRole]string
}

type taskRole struct {
	task string
	role RoleType
}

// NewManager returns an empty Manager.
func NewManager() *Manager {
	return &Manager{byID: map[string]Entry{}, byTask: map[taskRole]string{}}
}

// Set stores e, replacing the task's previous credentials of the same role (a refresh
// carries a new ID; the old one stops being served).
func (m *Manager) Set(e Entry) error {
	if e.ID == "" {
		return fmt.Errorf("credentials without an ID for task %s", e.TaskARN)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := taskRole{e.TaskARN, e.RoleType}
	if old, ok := m.byTask[k]; ok && old != e.ID {
		delete(m.byID, old)
	}
	m.byID[e.ID] = e
	m.byTask[k] = e.ID
	return nil
}

// Get returns the credentials with id.
func (m *Manager) Get(id string) (Entry, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.byID[id]
	return e, ok
}

// ForTask returns the task's current credentials for role.
func (m *Manager) ForTask(taskARN string, role RoleType) (Entry, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	id, ok := m.byTask[taskRole{taskARN, role}]
	if !ok {
		return Entry{}, false
	}
	e, ok := m.byID[id]
	return e, ok
}

// RemoveTask forgets every credential of the task (on task cleanup).
func (m *Manager) RemoveTask(taskARN string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range []RoleType{TaskApplication, TaskExecution} {
		k := taskRole{taskARN, r}
		if id, ok := m.byTask[k]; ok {
			delete(m.byID, id)
			delete(m.byTask, k)
		}
	}
}

// Len is the number of credential sets held.
func (m *Manager) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.byID)
}
