package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/sharedcreds"
)

// instanceCredentials is the credentials chain of the instance: static keys from the
// configuration when set (the environment or ecs.config may hold them); else the profile
// ECS_ALTERNATE_CREDENTIAL_PROFILE of the shared credentials file, re-read whenever the
// file changes (internal/sharedcreds: ECS Anywhere's SSM agent rotates the keys there),
// and the SDK's default chain (which ends with IMDS unless AWS_EC2_METADATA_DISABLED is
// set). As with the reference agent, ECS Anywhere (ECS_EXTERNAL) tries the rotating file
// first and an EC2 instance tries it after the default chain.
func instanceCredentials(ctx context.Context, cfg *config.Config, log logr.Logger) (aws.CredentialsProvider, error) {
	if cfg.AWSAccessKeyID != "" {
		return aws.NewCredentialsCache(awscreds.NewStaticCredentialsProvider(cfg.AWSAccessKeyID,
			string(cfg.AWSSecretAccessKey), string(cfg.AWSSessionToken))), nil
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.AWSRegion))
	if err != nil {
		return nil, fmt.Errorf("AWS credentials: %w", err)
	}
	rotating := sharedcreds.New(sharedcreds.Options{Profile: cfg.AlternateCredentialProfile, Log: log.WithName("shared-credentials")})
	chain := firstOf{ac.Credentials, rotating}
	if cfg.External.Enabled() {
		chain = firstOf{rotating, ac.Credentials}
	}
	return aws.NewCredentialsCache(chain), nil
}

// firstOf is a credentials chain: the first provider that answers with keys wins, asked
// again at every refresh so that a provider earlier in the chain that starts answering
// (a credentials file that appears) takes over.
type firstOf []aws.CredentialsProvider

func (c firstOf) Retrieve(ctx context.Context) (aws.Credentials, error) {
	var errs []error
	for _, p := range c {
		if p == nil {
			continue
		}
		creds, err := p.Retrieve(ctx)
		if err == nil && creds.HasKeys() {
			return creds, nil
		}
		if err == nil {
			err = errors.New("no keys")
		}
		errs = append(errs, err)
	}
	return aws.Credentials{}, fmt.Errorf("no instance credentials: %w", errors.Join(errs...))
}

// imdsClient is the instance metadata client, or nil for ECS Anywhere. It honours
// AWS_EC2_METADATA_DISABLED and AWS_EC2_METADATA_SERVICE_ENDPOINT (tests point it at an
// emulator on loopback).
func imdsClient(ctx context.Context, external bool) *imds.Client {
	if external || strings.EqualFold(os.Getenv("AWS_EC2_METADATA_DISABLED"), "true") {
		return nil
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil
	}
	return imds.NewFromConfig(ac)
}

// imdsRegion is the region fallback of config.Load on EC2.
func imdsRegion(c *imds.Client) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		if c == nil {
			return "", fmt.Errorf("no instance metadata service")
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		out, err := c.GetRegion(ctx, &imds.GetRegionInput{})
		if err != nil {
			return "", err
		}
		return out.Region, nil
	}
}

// instanceIdentity is the identity document and its signature, retried 100 ms → 5 s for
// up to 30 s; registration proceeds without them when IMDS does not answer.
func instanceIdentity(ctx context.Context, c *imds.Client) (doc, sig, instanceID string) {
	if c == nil {
		return "", "", ""
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	get := func(path string) (string, error) {
		out, err := c.GetDynamicData(ctx, &imds.GetDynamicDataInput{Path: path})
		if err != nil {
			return "", err
		}
		defer out.Content.Close()
		b, err := io.ReadAll(out.Content)
		return strings.TrimSpace(string(b)), err
	}
	wait := 100 * time.Millisecond
	for {
		d, err1 := get("instance-identity/document")
		s, err2 := get("instance-identity/signature")
		if err1 == nil && err2 == nil {
			id, _ := c.GetInstanceIdentityDocument(ctx, &imds.GetInstanceIdentityDocumentInput{})
			if id != nil {
				instanceID = id.InstanceID
			}
			return d, s, instanceID
		}
		select {
		case <-ctx.Done():
			return "", "", ""
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}
