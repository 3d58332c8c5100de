package localplane

import "context"

// ECS's documented limits that the plane enforces, with ECS's error messages where they
// are known (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html
// and the API reference). Enforcing them here means a definition or call that works
// locally also works against ECS.
const (
	// maxContainersPerTaskDefinition: "Containers per task definition: 10".
	maxContainersPerTaskDefinition = 10
	// maxTaskDefinitionSize: "Task definition size: 64 KiB", measured, as ECS reports it,
	// on the definition's JSON as sent.
	maxTaskDefinitionSize = 64 << 10
	// maxRunTaskCount: "Tasks launched (count) per run-task: 10".
	maxRunTaskCount = 10
	// maxClientTokenLen: RunTask's clientToken is up to 64 characters in 33-126.
	maxClientTokenLen = 64
	// maxStartedByLen: RunTask's startedBy is up to 128 letters, digits, '-', '/', '_'.
	maxStartedByLen = 128
)

// bodySizeKey carries the request body's size into the operation, for the limits that
// ECS measures on the JSON as sent.
type bodySizeKey struct{}

// bodySize is the size of the request ctx belongs to (0 outside one).
func bodySize(ctx context.Context) int {
	n, _ := ctx.Value(bodySizeKey{}).(int)
	return n
}

// checkTaskDefinitionSize refuses a registration over 64 KiB.
func checkTaskDefinitionSize(ctx context.Context) error {
	if n := bodySize(ctx); n > maxTaskDefinitionSize {
		return errClient("Actual length: '%d'. Max allowed length is '%d' bytes.", n, maxTaskDefinitionSize)
	}
	return nil
}

// checkRunTaskCount checks RunTask's count (default 1).
func checkRunTaskCount(count int) error {
	switch {
	case count > maxRunTaskCount:
		return errInvalidParameter("Task count can not be greater than %d.", maxRunTaskCount)
	case count < 1:
		return errInvalidParameter("Task count must be at least 1.")
	}
	return nil
}

// checkClientToken checks RunTask's idempotency token.
func checkClientToken(tok string) error {
	if len(tok) > maxClientTokenLen {
		return errInvalidParameter("clientToken can have at most %d characters.", maxClientTokenLen)
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < 33 || tok[i] > 126 {
			return errInvalidParameter("clientToken may only contain characters in the range 33-126.")
		}
	}
	return nil
}

// checkStartedBy checks a startedBy value.
func checkStartedBy(s string) error {
	if len(s) > maxStartedByLen {
		return errInvalidParameter("startedBy can have at most %d characters.", maxStartedByLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '/' || c == '_') {
			return errInvalidParameter("startedBy may only contain letters, numbers, hyphens (-), forward slashes (/) and underscores (_).")
		}
	}
	return nil
}
