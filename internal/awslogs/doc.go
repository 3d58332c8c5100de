// Package awslogs is the awslogs log driver of ecsd-logger: a containerlog.Sink that turns
// a container's output into CloudWatch Logs events and ships them with PutLogEvents.
//
// It runs inside the container's logger, in the shim's process tree, not in the agent:
// output written before an agent restart, or while the agent is down, is shipped by the
// same process that read it, once. The agent is only asked for credentials (package
// server/logcreds); the sink keeps the ones it has until shortly before they expire and
// goes on shipping with them while the agent cannot be reached.
//
// Events are cut at line ends (or, with a multiline pattern, where a line matching it
// starts a new event), time-stamped when read, queued in arrival order in a queue bounded
// by max-buffer-size and shipped in batches within CloudWatch's limits (10,000 events,
// 1 MiB counting 26 bytes per event, a 24 hour span, 256 KiB per event: longer lines are
// split). A failed batch is retried with backoff until it is accepted, so events are
// shipped in order; a batch whose request fails after CloudWatch received it (a lost
// response) may be shipped twice, which no client of PutLogEvents can rule out.
//
// In non-blocking mode (the ECS default) an event that finds the queue full is dropped
// and counted, so the container never waits for CloudWatch; in blocking mode the write
// waits for room, and the container with it, as with Docker's blocking mode.
package awslogs
