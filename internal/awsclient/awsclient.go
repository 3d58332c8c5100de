// Package awsclient builds the configuration of the agent's own AWS clients (ECR, Secrets
// Manager, SSM Parameter Store, S3) the way the AWS SDKs do, so the SDK's standard endpoint
// settings apply to them: AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE> (ECR, SECRETS_MANAGER,
// SSM, S3, …), their shared-config equivalents and AWS_IGNORE_CONFIGURED_ENDPOINT_URLS. That
// is what lets an operator point the agent at VPC endpoints, FIPS endpoints or an
// AWS-compatible emulator without an ecsd-specific setting per service.
//
// The credentials are always the caller's: the SDK's default chain (environment, shared
// files, the instance metadata service) is never consulted, since a call made for a task
// with its execution role must never fall back to the instance's identity.
package awsclient

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// Factory hands out configurations for the agent's AWS clients. The environment and the
// shared configuration are read once, by New; Config only copies the result, so a client
// per request costs no file system access. A Factory is safe for concurrent use.
type Factory struct {
	base aws.Config
}

// New loads the SDK's configuration sources (environment, shared config files) for endpoint,
// retry and CA bundle settings. Every request attempt is bounded by timeout (0: none).
func New(ctx context.Context, timeout time.Duration) (*Factory, error) {
	opts := []func(*awsconfig.LoadOptions) error{
		// A provider given here stops LoadDefaultConfig from building the default chain;
		// every Config replaces it with the caller's.
		awsconfig.WithCredentialsProvider(noCredentials{}),
		awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	}
	if timeout > 0 {
		// The SDK's own buildable client, so AWS_CA_BUNDLE can still be applied to it.
		opts = append(opts, awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(timeout)))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS SDK configuration: %w", err)
	}
	return &Factory{base: cfg}, nil
}

// Bare is a Factory that reads no configuration source: clients go to the regions' default
// endpoints. For tests and for callers that set BaseEndpoint themselves.
func Bare(httpClient aws.HTTPClient) *Factory {
	return &Factory{base: aws.Config{HTTPClient: httpClient}}
}

// Config returns the configuration of a client for region that signs with creds. Service
// clients built from it with NewFromConfig pick up AWS_ENDPOINT_URL_<SERVICE>.
func (f *Factory) Config(region string, creds aws.CredentialsProvider) aws.Config {
	c := f.base.Copy()
	c.Region = region
	c.Credentials = creds
	return c
}

// noCredentials stands in until Config sets the caller's provider; it never signs anything.
type noCredentials struct{}

func (noCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, fmt.Errorf("awsclient: no credentials given for this client")
}

// ServiceEndpoint is the base endpoint configured for the service with SDK ID sdkID ("EC2"):
// AWS_ENDPOINT_URL_<SERVICE> or its shared-config equivalent, else AWS_ENDPOINT_URL, else ""
// (the region's default endpoint). It is for the calls the agent makes without the
// service's SDK client (EC2 DescribeTags), which would otherwise resolve it.
func (f *Factory) ServiceEndpoint(ctx context.Context, sdkID string) string {
	type ignorer interface {
		GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error)
	}
	type serviceEndpoint interface {
		GetServiceBaseEndpoint(context.Context, string) (string, bool, error)
	}
	for _, src := range f.base.ConfigSources {
		if s, ok := src.(ignorer); ok {
			if v, found, err := s.GetIgnoreConfiguredEndpoints(ctx); err == nil && found && v {
				return ""
			}
		}
	}
	for _, src := range f.base.ConfigSources {
		if s, ok := src.(serviceEndpoint); ok {
			if v, found, err := s.GetServiceBaseEndpoint(ctx, sdkID); err == nil && found && v != "" {
				return v
			}
		}
	}
	return aws.ToString(f.base.BaseEndpoint)
}
