package local

// How `ecs-agent --local` serves the embedded control plane, shared by the agent and ecsctl
// so the two cannot drift apart. The key pair protects nothing (the plane listens on
// loopback and exists for development and tests); it keeps SigV4 verification honest, and
// a user's AWS CLI pointed at the plane with --endpoint-url signs with it too.
const (
	// DefaultAPIAddr is where the plane's ECS API listens unless --local-api says otherwise.
	DefaultAPIAddr = "127.0.0.1:51680"
	// DevAccessKeyID and DevSecretAccessKey are the key pair the plane accepts.
	DevAccessKeyID     = "ECSDLOCALACCESSKEY"
	DevSecretAccessKey = "ecsd-local-secret-access-key"
)
