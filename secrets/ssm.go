package secrets

import (
	"context"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// readSSM reads the SSM parameters refs name, grouped by region, ssmBatch names per
// GetParameters call, decrypted. The result is keyed by region + "\x00" + valueFrom. Like
// the reference agent, a parameter SSM reports invalid (missing, or not readable by the
// role) fails the task with "invalid parameters: " and the names.
func (r *Resolver) readSSM(ctx context.Context, creds aws.CredentialsProvider, refs []api.SecretRef) (map[string]string, error) {
	byRegion := map[string][]string{}
	seen := map[string]bool{}
	for _, ref := range refs {
		region := r.region(ref)
		key := region + "\x00" + ref.ValueFrom
		if seen[key] {
			continue
		}
		seen[key] = true
		byRegion[region] = append(byRegion[region], ref.ValueFrom)
	}
	regions := make([]string, 0, len(byRegion))
	for region := range byRegion {
		regions = append(regions, region)
	}
	sort.Strings(regions)
	out := map[string]string{}
	for _, region := range regions {
		client := r.o.NewSSM(r.o.AWS.Config(region, creds))
		names := byRegion[region]
		for start := 0; start < len(names); start += ssmBatch {
			batch := names[start:min(start+ssmBatch, len(names))]
			got, err := getParameters(ctx, client, batch)
			if err != nil {
				return nil, unreadable(err, "fetching secret data from SSM Parameter Store in %s: %v", region, err)
			}
			for name, v := range got {
				out[region+"\x00"+name] = v
			}
		}
	}
	return out, nil
}

// invalidParametersError is SSM's list of parameters it could not return.
type invalidParametersError []string

func (e invalidParametersError) Error() string { return "invalid parameters: " + strings.Join(e, ",") }

// getParameters reads names (parameter names or ARNs) and returns their values by the name
// asked for. SSM answers a parameter asked for by ARN under its name, so both are matched.
//
// An endpoint that does not take ARNs in GetParameters (moto, some compatible services)
// reports them invalid; those are asked for once more by the name in the ARN, which is
// the same parameter in the account and region the client calls.
func getParameters(ctx context.Context, c SSMClient, names []string) (map[string]string, error) {
	res, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: names, WithDecryption: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	if len(res.InvalidParameters) > 0 {
		var retry []string
		for _, n := range res.InvalidParameters {
			name, ok := parameterName(n)
			if !ok {
				return nil, invalidParametersError(res.InvalidParameters)
			}
			retry = append(retry, name)
		}
		again, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: retry, WithDecryption: aws.Bool(true)})
		if err != nil {
			return nil, err
		}
		if len(again.InvalidParameters) > 0 {
			return nil, invalidParametersError(res.InvalidParameters)
		}
		res.Parameters = append(res.Parameters, again.Parameters...)
	}
	out := make(map[string]string, len(names))
	for _, want := range names {
		for _, p := range res.Parameters {
			if parameterMatches(want, p.Name, p.ARN) {
				out[want] = aws.ToString(p.Value)
				break
			}
		}
		if _, ok := out[want]; !ok {
			return nil, invalidParametersError{want}
		}
	}
	return out, nil
}

// parameterMatches tells whether a returned parameter (name, ARN) is the one asked for as
// want: by name, by ARN, or by the name at the end of want's ARN
// (arn:…:parameter/name for "/name" and "name" alike).
func parameterMatches(want string, name, arn *string) bool {
	n, a := aws.ToString(name), aws.ToString(arn)
	if want == n || (a != "" && want == a) {
		return true
	}
	if !strings.HasPrefix(want, "arn:") {
		return false
	}
	_, res, ok := strings.Cut(want, ":parameter")
	return ok && n != "" && (res == n || res == "/"+n)
}

// parameterName is the parameter name an SSM parameter ARN stands for: "/a/b" for
// arn:…:parameter/a/b (names with a path start with "/"), "n" for arn:…:parameter/n.
func parameterName(arn string) (string, bool) {
	if !strings.HasPrefix(arn, "arn:") {
		return "", false
	}
	_, res, ok := strings.Cut(arn, ":parameter/")
	if !ok || res == "" {
		return "", false
	}
	if strings.Contains(res, "/") {
		return "/" + res, true
	}
	return res, true
}

// arnRegion returns the region of an ARN (arn:partition:service:region:account:resource),
// "" for a plain name.
func arnRegion(s string) string {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[3]
}
