// Package stats serves container statistics in the shape of Docker Engine's
// `GET /containers/{id}/stats` document, which is what the ECS task metadata endpoint returns
// (v2, v3 and v4 stats routes). containerd has no such document, so it is synthesized here
// from two consecutive cgroup samples of the runtime (the previous one supplies "precpu"),
// the host's /proc/stat (system CPU time and online CPUs, as Docker reads them) and the
// interface counters of the container's network namespace.
//
// A Collector samples every running container periodically and keeps only the latest
// document per container, because the endpoint serves "the latest sample the stats engine
// collected", not an on-demand reading: a request never waits for the runtime.
package stats
