package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/spf13/cobra"

	"github.com/ecsd/ecsd/internal/version"
	"github.com/ecsd/ecsd/localplane"
)

// The local control plane's defaults, as `ecs-agent --local` serves it (localplane).
const (
	defaultEndpoint        = "http://" + localplane.DefaultAPIAddr
	defaultCluster         = "default"
	envEndpoint            = "ECSCTL_ENDPOINT"
	envRegion              = "ECSCTL_REGION"
	envCluster             = "ECSCTL_CLUSTER"
	envAccessKeyID         = "ECSCTL_ACCESS_KEY_ID"
	envSecretAccessKey     = "ECSCTL_SECRET_ACCESS_KEY"
	clusterLookupTimeout   = 2 * time.Second
	defaultECSCallDeadline = time.Minute
)

// ecsFlags say how run and stop reach the ECS API. Each of endpoint, region and the key
// pair comes from its flag, else its environment variable, else the local control
// plane's access file (resolve).
type ecsFlags struct {
	endpoint        string
	region          string
	cluster         string
	accessKeyID     string
	secretAccessKey string
	// credentialsFile is the access file `ecs-agent --local` writes.
	credentialsFile string
}

func (f *ecsFlags) addFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.endpoint, "endpoint", os.Getenv(envEndpoint), "ECS API endpoint (default: the local control plane's, from --local-credentials, else "+defaultEndpoint+"); env "+envEndpoint)
	fs.StringVar(&f.region, "region", os.Getenv(envRegion), "region to sign requests for (default: from --local-credentials); env "+envRegion)
	fs.StringVar(&f.cluster, "cluster", os.Getenv(envCluster), "cluster (default: the agent's, from --server, else \"default\"); env "+envCluster)
	fs.StringVar(&f.accessKeyID, "access-key-id", os.Getenv(envAccessKeyID), "access key ID (default: from --local-credentials); env "+envAccessKeyID)
	fs.StringVar(&f.secretAccessKey, "secret-access-key", os.Getenv(envSecretAccessKey), "secret access key (default: from --local-credentials); env "+envSecretAccessKey)
	addCredentialsFileFlag(cmd, &f.credentialsFile)
}

// client builds the ECS client by hand rather than with config.LoadDefaultConfig: static
// credentials and an explicit region mean the SDK never reads shared config files and
// never falls back to the EC2 instance metadata service (169.254.169.254).
func (f *ecsFlags) client(timeout time.Duration) (*ecs.Client, error) {
	if err := f.resolve(); err != nil {
		return nil, err
	}
	u, err := url.Parse(f.endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--endpoint %q: want a URL such as %s", f.endpoint, defaultEndpoint)
	}
	if f.accessKeyID == "" || f.secretAccessKey == "" {
		return nil, fmt.Errorf("--access-key-id and --secret-access-key must not be empty")
	}
	if f.region == "" {
		return nil, fmt.Errorf("--region must not be empty")
	}
	return ecs.New(ecs.Options{
		Region:       f.region,
		BaseEndpoint: aws.String(f.endpoint),
		Credentials:  aws.NewCredentialsCache(awscreds.NewStaticCredentialsProvider(f.accessKeyID, f.secretAccessKey, "")),
		HTTPClient:   &http.Client{Timeout: timeout},
		AppID:        "ecsctl-" + version.Version,
	}), nil
}

// resolveCluster is --cluster, else the cluster the agent at --server is registered in
// (so run and stop act where the agent runs), else "default".
func (f *ecsFlags) resolveCluster(ctx context.Context, g *globalOptions) string {
	if f.cluster != "" {
		return f.cluster
	}
	ctx, cancel := context.WithTimeout(ctx, clusterLookupTimeout)
	defer cancel()
	if md, err := agentMetadata(ctx, g); err == nil && md.Cluster != "" {
		return md.Cluster
	}
	return defaultCluster
}

// callContext bounds one command's ECS calls by --request-timeout, or a minute.
func callContext(ctx context.Context, g *globalOptions) (context.Context, context.CancelFunc, time.Duration, error) {
	timeout, err := parseTimeout(g.requestTimeout)
	if err != nil {
		return nil, nil, 0, err
	}
	d := timeout
	if d == 0 {
		d = defaultECSCallDeadline
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, cancel, timeout, nil
}

// metadataResponse is the introspection API's /v1/metadata.
type metadataResponse struct {
	Cluster              string  `json:"Cluster"`
	ContainerInstanceArn *string `json:"ContainerInstanceArn"`
	Version              string  `json:"Version"`
}

// agentMetadata asks the agent at --server for its /v1/metadata: its cluster and version.
func agentMetadata(ctx context.Context, g *globalOptions) (*metadataResponse, error) {
	c, err := g.clients()
	if err != nil {
		return nil, err
	}
	rc, err := c.rawClient()
	if err != nil {
		return nil, err
	}
	raw, err := rc.Get().AbsPath("/v1/metadata").Do(ctx).Raw()
	if err != nil {
		return nil, err
	}
	var md metadataResponse
	if err := json.Unmarshal(raw, &md); err != nil {
		return nil, fmt.Errorf("decoding /v1/metadata: %w", err)
	}
	return &md, nil
}
