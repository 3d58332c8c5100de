// Package fake is an in-memory runtime.Runtime for unit tests of the controllers: it keeps
// images and containers in maps and runs the same container state machine containerd does
// (created → running → stopped, restart in place, remove), so the engine can be tested
// without root, containerd or a registry. Beside it sit fakes of the other host
// boundaries the controllers use: Network (runtime.Network, addresses and host ports handed
// out in memory), Cgroups (runtime.TaskCgroups) and HostFS (runtime.HostFS).
//
// A test scripts what a real host would decide:
//
//   - the registry (AddImage): which references exist, what they resolve to, and which
//     credentials they need; PullImage counts calls per reference (Pulls);
//   - what a container's process does (ScriptImage, ScriptContainer): run until signalled,
//     exit by itself with a code after a time on the injected clock, ignore SIGTERM, be
//     OOM-killed, fail to execute (CreateContainer returns *runtime.ExecError) or exit at
//     once with a start error;
//   - what a command run with Exec returns (ScriptExec, ScriptImageExec), for health checks;
//   - faults (FailNext, SetHook) and latencies (SetLatency) per method;
//   - a broken event stream (BreakEvents), to test resubscribing.
//
// Time: container timestamps (CreatedAt, StartedAt, FinishedAt, event times) and scripted
// exits (Process.ExitAfter) use the injected clock, so a test with a fake clock decides when a
// process exits by stepping it. Latencies (SetLatency) are real time on purpose: the
// controllers bound runtime calls with context deadlines, which are real time, and a test
// should not have to step a fake clock for every runtime call it makes.
//
// Every method is safe for concurrent use. Events are sent without blocking, so a slow
// consumer cannot stall the fake: a subscriber whose buffer is full has its stream broken,
// as a real runtime's would, and must relist and resubscribe.
package fake
