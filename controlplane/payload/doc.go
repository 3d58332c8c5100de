// Package payload is the wire format of the ECS Agent Communication Service (ACS) and its
// translation into ecsd's typed objects.
//
// It has three parts:
//
//   - Go structs for every ACS message shape (frame.go, messages.go, task.go). Shape names
//     are the websocket frame "type" strings and member names are the JSON keys, exactly as
//     in the ACS model (protocol/acs/api-2.json). Members the model marks as boxed or
//     nullable are pointers so that "absent" and "zero" stay distinguishable.
//   - ToObjects, which turns one ACS task into a v1alpha1.Task and its v1alpha1.Containers,
//     including the Docker Engine API JSON blobs the backend hides in
//     container.dockerConfig (labels, health check, ulimits, log configuration, ...), which a
//     containerd agent has to interpret itself.
//   - Validation. A task that cannot be run exactly as asked is rejected with an error that
//     says why; the caller records it with InvalidTaskObject and reports it STOPPED with
//     InvalidReason(err) instead of silently dropping it, so ECS learns about it.
//
// Credentials never enter an object: Credentials returns them for the credentials manager
// and the objects only carry their IDs. IAMRoleCredentials redacts its secrets when
// formatted, so a stray log line cannot leak them.
//
// The package holds no state; every function is safe for concurrent use.
package payload
