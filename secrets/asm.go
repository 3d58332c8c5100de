package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// asmRef is a Secrets Manager reference, the task definition's format:
// arn:aws:secretsmanager:region:account:secret:name[:json-key[:version-stage[:version-id]]].
type asmRef struct {
	secretID, jsonKey, versionStage, versionID string
}

// parseASMRef splits valueFrom into the secret's ARN and the optional selectors.
func parseASMRef(valueFrom string) (asmRef, error) {
	parts := strings.Split(valueFrom, ":")
	if len(parts) < 7 || len(parts) > 10 || parts[0] != "arn" || parts[2] != "secretsmanager" || parts[5] != "secret" || parts[6] == "" {
		return asmRef{}, fmt.Errorf("%q is not a Secrets Manager secret ARN, optionally followed by :json-key:version-stage:version-id", valueFrom)
	}
	r := asmRef{secretID: strings.Join(parts[:7], ":")}
	rest := append(parts[7:], "", "", "")
	r.jsonKey, r.versionStage, r.versionID = rest[0], rest[1], rest[2]
	return r, nil
}

// readASM reads one secret, and the JSON key of it when the reference names one. Errors
// never quote the secret's value.
func readASM(ctx context.Context, c SecretsManagerClient, valueFrom string) (string, error) {
	ref, err := parseASMRef(valueFrom)
	if err != nil {
		return "", err
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref.secretID)}
	if ref.versionStage != "" {
		in.VersionStage = aws.String(ref.versionStage)
	}
	if ref.versionID != "" {
		in.VersionId = aws.String(ref.versionID)
	}
	out, err := c.GetSecretValue(ctx, in)
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			// The reference agent's wording for the most common mistake.
			return "", fmt.Errorf("ResourceInitializationError: The task can't retrieve the secret with ARN '%s' from AWS Secrets Manager. Check that the secret ARN is correct: %w", ref.secretID, err)
		}
		return "", fmt.Errorf("secret %s: %w", ref.secretID, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("secret %s: not a string secret (binary secrets cannot be environment variables)", ref.secretID)
	}
	if ref.jsonKey == "" {
		return *out.SecretString, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*out.SecretString), &m); err != nil {
		// The decoder's message may quote the value: not passed on.
		return "", fmt.Errorf("secret %s: the value is not a JSON object, so it has no json key %s", ref.secretID, ref.jsonKey)
	}
	raw, ok := m[ref.jsonKey]
	if !ok {
		return "", fmt.Errorf("retrieved secret from Secrets Manager did not contain json key %s", ref.jsonKey)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	// Numbers, booleans, objects: as written in the secret.
	return string(raw), nil
}
