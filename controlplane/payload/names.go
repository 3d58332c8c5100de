package payload

import (
	"fmt"
	"strings"
)

// Desired statuses a payload task may carry.
const (
	DesiredRunning = "RUNNING"
	DesiredStopped = "STOPPED"
)

// maxNameLen is ECS's limit for container names; it also bounds the task and attachment
// IDs used in object names.
const maxNameLen = 255

// validName reports whether s can be used in an object name: ECS container names and task
// and attachment IDs are letters, digits, hyphens and underscores. Anything else (a slash,
// a colon, a control character) would make object keys ambiguous, so it is refused rather
// than escaped.
func validName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// arnResource splits an ARN ("arn:partition:service:region:account:resource") and
// returns its resource part.
func arnResource(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" {
		return "", false
	}
	return parts[5], true
}

// TaskID returns the task ID of a task ARN: the last segment of its resource
// ("arn:aws:ecs:us-west-2:111122223333:task/prod/6a1b" → "6a1b"). It is the Task object's
// name, and the prefix of its Container objects' names.
func TaskID(arn string) (string, error) {
	if arn == "" {
		return "", fmt.Errorf("arn: %w", ErrMissing)
	}
	res, ok := arnResource(arn)
	if !ok || !strings.HasPrefix(res, "task/") {
		return "", fmt.Errorf("arn: %w %q (want arn:<partition>:ecs:<region>:<account>:task/...)", ErrInvalidValue, arn)
	}
	id := res[strings.LastIndexByte(res, '/')+1:]
	if !validName(id) {
		return "", fmt.Errorf("arn: %w %q (bad task ID)", ErrInvalidValue, arn)
	}
	return id, nil
}

// AttachmentName returns the Attachment object name for an attachment ARN: its ID, the
// last segment of the resource ("arn:aws:ecs:...:attachment/9e0c..." → "9e0c...").
func AttachmentName(attachmentARN string) (string, error) {
	if attachmentARN == "" {
		return "", fmt.Errorf("attachmentArn: %w", ErrMissing)
	}
	res, ok := arnResource(attachmentARN)
	if !ok || !strings.Contains(res, "/") {
		return "", fmt.Errorf("attachmentArn: %w %q", ErrInvalidValue, attachmentARN)
	}
	id := res[strings.LastIndexByte(res, '/')+1:]
	if !validName(id) {
		return "", fmt.Errorf("attachmentArn: %w %q (bad attachment ID)", ErrInvalidValue, attachmentARN)
	}
	return id, nil
}
