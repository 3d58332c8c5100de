// Package sigv4 signs and verifies the AWS Signature Version 4 requests that pass between
// the agent and the ECS control plane: the ECS API calls, the ACS and TCS websocket
// handshakes, and the individually signed TCS frames.
//
// Signing and verifying share one implementation, aws-sdk-go-v2's v4.Signer: a verifier
// rebuilds the request from the headers the client says it signed and signs it again with
// the secret it knows, then compares signatures in constant time. Reusing the SDK signer
// rather than re-implementing canonicalisation means the agent and the local control
// plane cannot drift apart on an edge case (query encoding, header folding, default ports).
//
// Nothing here logs or returns a secret key or session token.
package sigv4
