// Package logship is the common part of ecsd-logger-ship's log drivers (fluentd, syslog,
// gelf):
// a containerlog.Sink that cuts a container's output into messages (one per line, longer
// lines split at MaxLine as Docker's partial messages are), queues them in a queue bounded
// in bytes (max-buffer-size) and hands them, in order, to a driver's Sender from one
// goroutine of its own.
//
// In non-blocking mode (ecsd's default, as Docker's mode=non-blocking) a message that finds
// the queue full is dropped and counted, so the container never waits for the receiver;
// in blocking mode the write waits for room, and the container with it. A batch the
// Sender fails to deliver is retried with backoff until it is delivered or the logger
// stops; a stream transport may therefore deliver a message twice when a connection broke
// after the receiver took it, which no client of these protocols without acknowledgements
// can rule out.
//
// The driver-specific parts (encoding, transport) live in the sub-packages; the flags the
// agent passes and the logger parses are in flags.go, so both agree on them.
package logship
