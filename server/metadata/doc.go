// Package metadata turns ecsd's stored objects into the building blocks of the agent's local
// HTTP endpoints: the introspection API (:51678) and the task metadata server (:51679).
//
// The JSON shapes here are a wire contract with clients the project does not control (AWS
// SDK credential providers, OpenTelemetry and Datadog ECS detectors, Fluent Bit), so field
// names, casing and omitempty rules follow spec/ECS-AGENT-ENDPOINTS.md exactly and must not
// be "tidied". Everything in this package is read-only: objects come from a client.Reader and
// are never written back.
package metadata
