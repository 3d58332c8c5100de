// Package stats is the agent's one container sampler. Every running container is read
// through the runtime (containerd's metrics API, a shim RPC and a namespace switch each) once
// per interval, and every consumer reads views of what that one pass collected:
//
//   - TCS: Flush hands over, per task, the CPU and memory statistic sets accumulated since
//     the previous Flush (the publish window), and Health the health of the running tasks'
//     checked containers (see telemetry.go, health.go);
//   - task metadata: ContainerStats serves the latest Docker Engine-shaped stats document of
//     a container (`GET /containers/{id}/stats`, what the v2, v3 and v4 stats routes return),
//     synthesized from two consecutive samples (the previous one supplies "precpu"), the
//     host's /proc/stat and the interface counters of the container's network namespace;
//   - metrics: Snapshot returns the latest plain figures of every sampled container, for an
//     exposition endpoint to format (see snapshot.go).
//
// There is one sampler rather than one per consumer because each sample costs the runtime
// work, and because two samplers on their own schedules would disagree with each other. The
// views are fed by one pass and read without calling the runtime: a request never waits for
// a shim.
//
// Memory is bounded per running container, whatever the publish window or outage: the last
// sample (the base of precpu, CPU percentages and network rates), the latest document, and
// the TCS sets folded into min/max/sum/count accumulators. Containers no longer running are
// forgotten at the next pass.
package stats
