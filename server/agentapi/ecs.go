package agentapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/smithy-go"

	"github.com/ecsd/ecsd/controlplane/ecsapi"
	"github.com/ecsd/ecsd/credentials"
)

// ecsClient returns an ECS client signing with the task's role credentials.
//
// The aws.Config is built by hand, never loaded: config.LoadDefaultConfig would consult
// the environment, shared config files and, failing those, the instance metadata
// service, and a call meant to be made as the task must never be made as the instance
// (or as whoever the agent runs as). The only credentials this client can ever use are
// the static ones given here.
func (h *handler) ecsClient(e credentials.Entry) *ecs.Client {
	cfg := aws.Config{
		Region:     h.o.Region,
		HTTPClient: h.http,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{
				AccessKeyID:     e.AccessKeyID,
				SecretAccessKey: e.SecretAccessKey,
				SessionToken:    e.SessionToken,
				Source:          "ecsd task role credentials",
			}, nil
		}),
	}
	var opts []func(*ecs.Options)
	if ep := ecsapi.BaseEndpoint(h.o.Endpoint); ep != "" {
		opts = append(opts, func(o *ecs.Options) { o.BaseEndpoint = aws.String(ep) })
	}
	return ecs.NewFromConfig(cfg, opts...)
}

// ecsFailure is how a failed ECS call is reported to the task.
type ecsFailure struct {
	status           int
	code, msg, reqID string
}

// classify maps an ECS call error to the §3.2 response: the call's own timeout (or the
// task hanging up) is 504 RequestCanceled; an error ECS answered keeps its code, message,
// HTTP status and request ID; anything else is 500.
func classify(err error) ecsFailure {
	var canceled interface{ CanceledError() bool }
	if (errors.As(err, &canceled) && canceled.CanceledError()) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return ecsFailure{status: http.StatusGatewayTimeout, code: codeRequestCanceled, msg: msgTimedOut}
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		var re *awshttp.ResponseError
		if errors.As(err, &re) {
			return ecsFailure{status: re.HTTPStatusCode(), code: apiErr.ErrorCode(), msg: apiErr.ErrorMessage(), reqID: re.RequestID}
		}
		return ecsFailure{status: http.StatusInternalServerError, code: apiErr.ErrorCode(), msg: apiErr.ErrorMessage()}
	}
	return ecsFailure{status: http.StatusInternalServerError, code: codeServer, msg: err.Error()}
}
