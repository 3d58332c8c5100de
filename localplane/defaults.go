package localplane

// DefaultAPIAddr is where `ecs-agent --local` serves the embedded plane's ECS API unless
// --local-api says otherwise, shared by the agent and ecsctl so the two cannot drift
// apart. The key pair it accepts is generated per installation (package access). It is
// not 51680, the reference agent's Prometheus metrics port (ECS_ENABLE_PROMETHEUS_METRICS),
// so that a local agent can serve both.
const DefaultAPIAddr = "127.0.0.1:51690"
