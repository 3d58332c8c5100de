// Package tcs is the agent's telemetry publisher: the TCS websocket session of the protocol
// spec §4. A Collector samples the cgroup usage of every running task container; a Session
// connects to the telemetry endpoint with a SigV4-signed handshake and, every publish
// interval, sends the accumulated CPU and memory statistics (PublishMetricsRequest) and
// the health of the containers that have a health check (PublishHealthRequest), each frame
// individually signed as TCS requires. It keeps the reference agent's batching (ten tasks
// per request, instance metrics only in the first, fin on the last), heartbeat timeout,
// connection lifetime and reconnect backoff.
//
// The package reads the engine's objects through a controller-runtime client.Reader and
// never writes them: telemetry is observation only, so a TCS outage can never disturb a task.
package tcs
