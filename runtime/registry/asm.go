package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// asmAuth reads the registry credentials from the Secrets Manager secret
// ra.CredentialsParameter with the task's execution role, as the reference agent does. The
// secret is read on every pull, not cached: it is one request per container and a rotated
// secret takes effect at once.
func (r *Resolver) asmAuth(ctx context.Context, ra *api.RegistryAuth, taskARN string) (*runtime.Auth, error) {
	id := ra.CredentialsParameter
	if id == "" {
		return nil, fmt.Errorf("%w: no credentialsParameter", ErrSecret)
	}
	region := cmp.Or(ra.Region, arnRegion(id), r.o.region)
	if region == "" {
		return nil, fmt.Errorf("%w %s: no region", ErrSecret, id)
	}
	s, err := r.executionRole(taskARN)
	if err != nil {
		return nil, err
	}
	client := secretsmanager.NewFromConfig(r.o.aws.Config(region, s.provider), func(o *secretsmanager.Options) {
		if r.o.asmURL != "" {
			o.BaseEndpoint = aws.String(r.o.asmURL)
		}
	})
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrSecret, id, err)
	}
	if out.SecretString == nil {
		return nil, fmt.Errorf("%w %s: not a string secret", ErrSecret, id)
	}
	a, err := parseSecret(*out.SecretString)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrSecret, id, err)
	}
	return a, nil
}

// parseSecret reads {"username": ..., "password": ...}. The JSON decoder's own errors quote
// the offending input, so they are not passed on: the secret must not reach a log.
func parseSecret(s string) (*runtime.Auth, error) {
	var v struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("not a JSON object with string members username and password")
	}
	if v.Username == "" || v.Password == "" {
		return nil, fmt.Errorf("username or password missing")
	}
	return &runtime.Auth{Username: v.Username, Password: v.Password}, nil
}

// arnRegion returns the region of an ARN (arn:partition:service:region:account:resource),
// "" for a plain secret name.
func arnRegion(s string) string {
	parts := strings.SplitN(s, ":", 5)
	if len(parts) < 5 || parts[0] != "arn" {
		return ""
	}
	return parts[3]
}
