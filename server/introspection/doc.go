// Package introspection is the agent's introspection API on :51678: /v1/metadata (also the
// agent's own health check, HEAD), /v1/tasks (read by Fluent Bit's ecs filter), /license,
// optional pprof, and the mount point of the Kubernetes-style object API.
//
// Response shapes follow spec/ECS-AGENT-ENDPOINTS.md §1 exactly, including the odd ones
// (empty TaskResponse error bodies, backend-style task statuses with blanking rules).
package introspection
