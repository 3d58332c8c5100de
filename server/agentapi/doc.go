// Package agentapi serves the ECS agent API a task reaches at ECS_AGENT_URI
// (http://169.254.170.2/api/<endpointId>): task scale-in protection, per
// spec/ECS-AGENT-ENDPOINTS.md §3.2.
//
//	GET /api/<endpointId>/task-protection/v1/state   ECS GetTaskProtection for the caller's task
//	PUT /api/<endpointId>/task-protection/v1/state   ECS UpdateTaskProtection, body
//	                                                 {"ProtectionEnabled":bool,"ExpiresInMinutes":int}
//
// The endpoint ID is the container's unguessable ID from its task metadata URIs; it
// names the task, so a container can only change its own task's protection. The agent
// does not decide anything itself: it calls ECS signed with the task's role credentials,
// so ECS (IAM) decides whether the task may protect itself, exactly as with the reference
// agent. A task without a task role gets 403.
//
// Fault injection (/api/<endpointId>/fault/v1/...) is not implemented: those paths answer
// 404 with the fault API's own error shape, {"Error":"..."}. Any other path under /api/
// answers 404 with the task protection error shape.
package agentapi
