package localplane

// Shapes of UpdateTaskProtection and GetTaskProtection, keyed as in the ECS model.

type updateTaskProtectionRequest struct {
	Cluster string   `json:"cluster,omitempty"`
	Tasks   []string `json:"tasks"`
	// ProtectionEnabled is a pointer because the model requires it: absent must be
	// refused, not read as false (which would silently unprotect the task).
	ProtectionEnabled *bool  `json:"protectionEnabled"`
	ExpiresInMinutes  *int32 `json:"expiresInMinutes,omitempty"`
}

type getTaskProtectionRequest struct {
	Cluster string   `json:"cluster,omitempty"`
	Tasks   []string `json:"tasks,omitempty"`
}

// protectedTask is one task's protection state. protectionEnabled has no omitempty:
// ECS always reports it, false included.
type protectedTask struct {
	TaskArn           string    `json:"taskArn"`
	ProtectionEnabled bool      `json:"protectionEnabled"`
	ExpirationDate    Timestamp `json:"expirationDate,omitzero"`
}

// taskProtectionResponse is the output of both operations.
type taskProtectionResponse struct {
	ProtectedTasks []protectedTask `json:"protectedTasks"`
	Failures       []failure       `json:"failures"`
}
