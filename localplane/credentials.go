package localplane

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"time"

	"github.com/ecsd/ecsd/controlplane/payload"
)

// Task role credentials. There is no IAM here, so the credentials are random strings of
// the right shape: the agent stores and serves them to the task exactly as it would real
// ones, which is what tests of the credentials endpoint need. They are refreshed
// (same credentialsId, new keys) before they expire, as ECS does.

const (
	// credentialLifetime is how long a set of credentials is valid.
	credentialLifetime = 6 * time.Hour
	// credentialRefreshBefore is how long before expiry a set is replaced.
	credentialRefreshBefore = time.Hour
)

// newRoleCredentials returns fresh credentials for roleARN with a new credentialsId.
func newRoleCredentials(roleARN string, now time.Time) *payload.IAMRoleCredentials {
	c := &payload.IAMRoleCredentials{CredentialsID: newUUID(), RoleArn: roleARN}
	rotateCredentials(c, now)
	return c
}

// rotateCredentials gives c new keys and a new expiration, keeping its credentialsId so
// the task's reference to it stays valid.
func rotateCredentials(c *payload.IAMRoleCredentials, now time.Time) {
	c.AccessKeyID = "ASIA" + randomBase32(10)[:16]
	c.SecretAccessKey = randomBase64(30)
	c.SessionToken = randomBase64(180)
	c.Expiration = now.Add(credentialLifetime).UTC().Format(time.RFC3339)
}

// needsRotation reports whether c expires within credentialRefreshBefore of now.
func needsRotation(c *payload.IAMRoleCredentials, now time.Time) bool {
	exp, err := time.Parse(time.RFC3339, c.Expiration)
	return err != nil || exp.Sub(now) < credentialRefreshBefore
}

func randomBase32(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
}

func randomBase64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func cloneCredentials(c *payload.IAMRoleCredentials) *payload.IAMRoleCredentials {
	if c == nil {
		return nil
	}
	return ptr(*c)
}
