// Package containerlog is the core of ecsd-logger, the process that containerd's shim runs
// for every task container (containerd's binary logging, cio.BinaryIO) to take the
// container's stdout and stderr off its pipes and into the container's log file.
//
// Why a process of its own: with the shim writing the file itself (cio.LogFile), a write
// that fails (a full data disk) stops the shim's copy, the pipe fills, and the container
// blocks in write(2); one stayed blocked after space was freed. ecsd-logger always drains
// both pipes, whatever happens to the file:
//
//   - what is read goes into a bounded buffer (MaxBuffer, 1 MiB by default, like Docker's
//     non-blocking mode's max-buffer-size); output that finds the buffer full is dropped
//     and counted, never waited for;
//   - a writer moves the buffer to a Sink (today FileSink: the raw bytes, stdout and stderr
//     interleaved in arrival order, exactly what the shim wrote before). A write that fails
//     (ENOSPC, EDQUOT, EIO, …) drops what could not be written and counts it; every new
//     chunk, and a timer every RetryInterval while nothing comes, tries again, and the
//     first write that succeeds is one marker line saying how much was lost, between
//     which times, and why;
//   - the counts and the current state go to a small status file next to the log
//     (StatusPath), rewritten in place so that updating it needs no new disk space; the
//     agent reads it to report the condition on the container and the instance.
//
// The process lives as long as the container's task (the shim stops it with SIGTERM when
// the task is deleted), independently of agent restarts.
//
// Extension (issue 14): the json-file driver's max-size/max-file rotation and shipping
// drivers (awslogs, …) are meant to be further Sinks. Chunks keep which stream they came
// from (Stream) so a framing sink can tag its records, a sink reports failure through its
// Write error and gets the same drop accounting and marker, and a shipping sink that
// batches can keep its own bounded queue behind Write. Nothing here assumes a file except
// FileSink.
//
// The package depends on the standard library and k8s.io/utils/clock only, so the logger
// binary stays small: hundreds of them run on a busy host.
package containerlog
