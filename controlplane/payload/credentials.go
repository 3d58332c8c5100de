package payload

import (
	"fmt"
)

// RoleType says which role a set of credentials belongs to.
type RoleType string

// Role types as ACS sends them in IAMRoleCredentialsMessage.roleType.
const (
	// RoleTypeTaskApplication is the task role, served to the task's containers.
	RoleTypeTaskApplication RoleType = "TaskApplication"
	// RoleTypeTaskExecution is the execution role, used by the agent itself (ECR pulls,
	// awslogs, secrets).
	RoleTypeTaskExecution RoleType = "TaskExecution"
)

// IAMRoleCredentials are temporary credentials for a task role. The secret members are
// sent on the wire (JSON marshalling keeps them) but are redacted by String, GoString and
// Format, so printing a message or task never leaks them.
type IAMRoleCredentials struct {
	CredentialsID   string `json:"credentialsId,omitempty"`
	RoleArn         string `json:"roleArn,omitempty"`
	AccessKeyID     string `json:"accessKeyId,omitempty"`
	SecretAccessKey string `json:"secretAccessKey,omitempty"`
	SessionToken    string `json:"sessionToken,omitempty"`
	// Expiration is an RFC 3339 timestamp, echoed back in IAMRoleCredentialsAckRequest.
	Expiration      string `json:"expiration,omitempty"`
	CredentialScope string `json:"credentialScope,omitempty"`
}

const redacted = "<redacted>"

// String shows the identifying members only.
func (c IAMRoleCredentials) String() string {
	return fmt.Sprintf("{credentialsId:%s roleArn:%s accessKeyId:%s secretAccessKey:%s sessionToken:%s expiration:%s}",
		c.CredentialsID, c.RoleArn, redactIfSet(c.AccessKeyID), redactIfSet(c.SecretAccessKey),
		redactIfSet(c.SessionToken), c.Expiration)
}

// GoString keeps %#v from printing the secrets.
func (c IAMRoleCredentials) GoString() string { return "payload.IAMRoleCredentials" + c.String() }

// Format routes every verb (%v, %+v, %#v, %s, %q) through the redacting String, since
// fmt would otherwise print struct fields directly for %+v of a pointer's target.
func (c IAMRoleCredentials) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, c.GoString())
		return
	}
	fmt.Fprint(f, c.String())
}

func redactIfSet(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// RoleCredentials is one set of task credentials to hand to the credentials manager.
type RoleCredentials struct {
	TaskARN     string
	RoleType    RoleType
	Credentials IAMRoleCredentials
}

// Credentials returns the credentials a payload task carries: its task role
// (roleCredentials) and execution role (executionRoleCredentials). The reference agent
// stores them before adding the task, and acknowledges each with an
// IAMRoleCredentialsAckRequest. Sets without a credentialsId are skipped: they could
// neither be looked up nor acknowledged (ToObjects rejects such a task).
func Credentials(t *Task) []RoleCredentials {
	if t == nil {
		return nil
	}
	var out []RoleCredentials
	if c := t.RoleCredentials; c != nil && c.CredentialsID != "" {
		out = append(out, RoleCredentials{TaskARN: t.Arn, RoleType: RoleTypeTaskApplication, Credentials: *c})
	}
	if c := t.ExecutionRoleCredentials; c != nil && c.CredentialsID != "" {
		out = append(out, RoleCredentials{TaskARN: t.Arn, RoleType: RoleTypeTaskExecution, Credentials: *c})
	}
	return out
}

// Ack builds the IAMRoleCredentialsAckRequest for these credentials, answering the
// message (payload or credentials refresh) with ID messageID.
func (c RoleCredentials) Ack(messageID string) IAMRoleCredentialsAckRequest {
	return IAMRoleCredentialsAckRequest{
		MessageID:     messageID,
		Expiration:    c.Credentials.Expiration,
		CredentialsID: c.Credentials.CredentialsID,
	}
}

// Credentials validates a credentials refresh and returns its credentials. The
// reference agent sends no ack for a message that fails here.
func (m *IAMRoleCredentialsMessage) Credentials() (RoleCredentials, error) {
	switch {
	case m == nil:
		return RoleCredentials{}, fmt.Errorf("IAMRoleCredentialsMessage: %w", ErrMissing)
	case m.MessageID == "":
		return RoleCredentials{}, fmt.Errorf("IAMRoleCredentialsMessage.messageId: %w", ErrMissing)
	case m.TaskArn == "":
		return RoleCredentials{}, fmt.Errorf("IAMRoleCredentialsMessage.taskArn: %w", ErrMissing)
	case m.RoleCredentials == nil || m.RoleCredentials.CredentialsID == "":
		return RoleCredentials{}, fmt.Errorf("IAMRoleCredentialsMessage.roleCredentials.credentialsId: %w", ErrMissing)
	}
	rt := RoleType(m.RoleType)
	switch rt {
	case RoleTypeTaskApplication, RoleTypeTaskExecution:
	default:
		return RoleCredentials{}, fmt.Errorf("IAMRoleCredentialsMessage.roleType: %w %q", ErrInvalidValue, m.RoleType)
	}
	return RoleCredentials{TaskARN: m.TaskArn, RoleType: rt, Credentials: *m.RoleCredentials}, nil
}
