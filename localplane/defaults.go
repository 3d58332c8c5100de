package localplane

// DefaultAPIAddr is where `ecs-agent --local` serves the embedded plane's ECS API unless
// --local-api says otherwise, shared by the agent and ecsctl so the two cannot drift
// apart. The key pair it accepts is generated per installation (package access).
const DefaultAPIAddr = "127.0.0.1:51680"
