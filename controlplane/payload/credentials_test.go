package payload

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestCredentials(t *testing.T) {
	if Credentials(nil) != nil {
		t.Fatal("nil task")
	}
	task := baseTask()
	if got := Credentials(task); len(got) != 0 {
		t.Fatalf("no credentials: %v", got)
	}
	task.RoleCredentials = &IAMRoleCredentials{CredentialsID: "r", Expiration: "2026-07-01T12:00:00Z"}
	task.ExecutionRoleCredentials = &IAMRoleCredentials{} // no ID: skipped
	got := Credentials(task)
	if len(got) != 1 || got[0].RoleType != RoleTypeTaskApplication || got[0].TaskARN != testTaskARN {
		t.Fatalf("%v", got)
	}
	ack := got[0].Ack("pm-1")
	if ack != (IAMRoleCredentialsAckRequest{MessageID: "pm-1", Expiration: "2026-07-01T12:00:00Z", CredentialsID: "r"}) {
		t.Fatalf("ack %+v", ack)
	}
	// Credentials copies: changing the task later does not change what was handed out.
	task.RoleCredentials.CredentialsID = "changed"
	if got[0].Credentials.CredentialsID != "r" {
		t.Fatal("credentials alias the task")
	}
}

// TestCredentialsRedacted checks that no formatting verb prints the secrets, directly or
// nested in a message, while JSON (the wire) keeps them.
func TestCredentialsRedacted(t *testing.T) {
	c := IAMRoleCredentials{CredentialsID: "id-1", RoleArn: "arn:aws:iam::1:role/r", AccessKeyID: "AKIDSECRETISH",
		SecretAccessKey: "topsecretkey", SessionToken: "sessiontokenvalue", Expiration: "2026"}
	msg := IAMRoleCredentialsMessage{TaskArn: "t", RoleCredentials: &c, MessageID: "m"}
	task := Task{Arn: "a", RoleCredentials: &c, ExecutionRoleCredentials: &c}
	rc := RoleCredentials{TaskARN: "t", Credentials: c}
	for _, v := range []any{c, &c, msg, &msg, task, &task, rc, []RoleCredentials{rc}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			out := fmt.Sprintf(verb, v)
			for _, secret := range []string{"AKIDSECRETISH", "topsecretkey", "sessiontokenvalue"} {
				if strings.Contains(out, secret) {
					t.Fatalf("%s of %T leaks %q: %s", verb, v, secret, out)
				}
			}
		}
	}
	if s := c.String(); !strings.Contains(s, "id-1") || !strings.Contains(s, redacted) {
		t.Fatalf("String() = %s", s)
	}
	b, _ := json.Marshal(c)
	if !strings.Contains(string(b), "topsecretkey") {
		t.Fatal("JSON must keep the secret: it is the wire format")
	}
}

func TestCredentialsMessage(t *testing.T) {
	good := func() *IAMRoleCredentialsMessage {
		return &IAMRoleCredentialsMessage{TaskArn: testTaskARN, MessageID: "m1", RoleType: "TaskExecution",
			RoleCredentials: &IAMRoleCredentials{CredentialsID: "c1"}}
	}
	rc, err := good().Credentials()
	if err != nil || rc.RoleType != RoleTypeTaskExecution || rc.TaskARN != testTaskARN || rc.Credentials.CredentialsID != "c1" {
		t.Fatalf("%+v %v", rc, err)
	}
	for name, tc := range map[string]struct {
		mutate   func(*IAMRoleCredentialsMessage)
		sentinel error
	}{
		"no message id":     {func(m *IAMRoleCredentialsMessage) { m.MessageID = "" }, ErrMissing},
		"no task arn":       {func(m *IAMRoleCredentialsMessage) { m.TaskArn = "" }, ErrMissing},
		"no credentials":    {func(m *IAMRoleCredentialsMessage) { m.RoleCredentials = nil }, ErrMissing},
		"no credentials id": {func(m *IAMRoleCredentialsMessage) { m.RoleCredentials.CredentialsID = "" }, ErrMissing},
		"no role type":      {func(m *IAMRoleCredentialsMessage) { m.RoleType = "" }, ErrInvalidValue},
		"bad role type":     {func(m *IAMRoleCredentialsMessage) { m.RoleType = "Instance" }, ErrInvalidValue},
	} {
		m := good()
		tc.mutate(m)
		if _, err := m.Credentials(); !errorsIs(err, tc.sentinel) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var nilMsg *IAMRoleCredentialsMessage
	if _, err := nilMsg.Credentials(); !errorsIs(err, ErrMissing) {
		t.Fatal(err)
	}
}
