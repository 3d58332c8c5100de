package registry

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/ecsd/ecsd/credentials"
)

// signer is the AWS identity a request is signed with, and the name tokens fetched with it
// are cached under: tokens are shared by everything that signs as the same role, never
// across roles.
type signer struct {
	provider aws.CredentialsProvider
	identity string
}

// executionRole returns the task's execution role credentials. Missing or expired ones are
// waited for (ErrCredentialsPending) up to the configured wait, then ErrNoCredentials.
func (r *Resolver) executionRole(taskARN string) (signer, error) {
	if r.o.creds == nil {
		return signer{}, fmt.Errorf("task execution role credentials: %w (no credentials source)", ErrNoCredentials)
	}
	now := r.o.now()
	e, ok := r.o.creds.ForTask(taskARN, credentials.TaskExecution)
	if ok && !e.Expired(now) && e.AccessKeyID != "" {
		r.waits.done(taskARN)
		id := "role:" + e.RoleARN
		if e.RoleARN == "" {
			id = "key:" + e.AccessKeyID
		}
		// Static: the entry is a snapshot; a refresh from ACS is read on the next pull.
		return signer{provider: awscreds.NewStaticCredentialsProvider(e.AccessKeyID, e.SecretAccessKey, e.SessionToken), identity: id}, nil
	}
	if r.o.credsWait > 0 && r.waits.waiting(taskARN, now, r.o.credsWait) {
		return signer{}, fmt.Errorf("task %s: %w", taskARN, ErrCredentialsPending)
	}
	return signer{}, fmt.Errorf("task %s has %w: its execution role credentials did not arrive within %s", taskARN, ErrNoCredentials, r.o.credsWait)
}

// agentRole returns the agent's own credentials.
func (r *Resolver) agentRole() (signer, error) {
	if r.o.agentCreds == nil {
		return signer{}, fmt.Errorf("agent credentials: %w", ErrNoCredentials)
	}
	return signer{provider: r.o.agentCreds, identity: "agent"}, nil
}
