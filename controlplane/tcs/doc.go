// Package tcs is the agent's telemetry publisher: the TCS websocket session of the protocol
// spec §4. It does not sample: the agent's one container sampler (internal/stats, which
// the task metadata endpoint reads as well) keeps the publish windows and health, which a
// Session takes as Telemetry. A Session connects to the telemetry endpoint with a SigV4-signed handshake and, every publish
// interval, sends the accumulated CPU and memory statistics (PublishMetricsRequest) and
// the health of the containers that have a health check (PublishHealthRequest), each frame
// individually signed as TCS requires. It keeps the reference agent's batching (ten tasks
// per request, instance metrics only in the first, fin on the last), heartbeat timeout,
// connection lifetime and reconnect backoff.
//
// Telemetry is observation only: nothing here writes the engine's objects, so a TCS outage
// can never disturb a task.
package tcs
