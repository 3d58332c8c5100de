package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"k8s.io/utils/clock"

	"github.com/ecsd/ecsd/internal/awslogs"
	"github.com/ecsd/ecsd/internal/logcredsapi"
	"github.com/ecsd/ecsd/internal/loggercmd"
)

// awslogsFlags are the awslogs driver's arguments (see awslogs.Flag*).
type awslogsFlags struct {
	group, stream, region, endpoint, multiline, mode string
	createGroup                                      bool
	maxBuffer                                        int
	socket, task, container                          string
	secretOptions                                    bool
}

// Register implements loggercmd.Shipper.
func (a *awslogsFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&a.group, awslogs.FlagGroup, "", "awslogs: the log group (turns the driver on)")
	fs.StringVar(&a.stream, awslogs.FlagStream, "", "awslogs: the log stream")
	fs.StringVar(&a.region, awslogs.FlagRegion, "", "awslogs: the region")
	fs.StringVar(&a.endpoint, awslogs.FlagEndpoint, "", "awslogs: the CloudWatch Logs endpoint URL")
	fs.StringVar(&a.multiline, awslogs.FlagMultiline, "", "awslogs: the regular expression that starts an event")
	fs.StringVar(&a.mode, awslogs.FlagMode, awslogs.ModeNonBlocking, "awslogs: non-blocking or blocking")
	// containerd passes "--flag value" pairs: a bool flag would not take its value.
	fs.Func(awslogs.FlagCreateGroup, "awslogs: create the log group (true or false)", boolFlag(&a.createGroup))
	fs.IntVar(&a.maxBuffer, awslogs.FlagMaxBuffer, awslogs.DefaultMaxBuffer, "awslogs: bytes of events queued")
	fs.StringVar(&a.socket, awslogs.FlagCredentials, "", "awslogs: the agent's credentials socket")
	fs.StringVar(&a.task, awslogs.FlagTask, "", "awslogs: the task ARN whose credentials to ask for")
	fs.StringVar(&a.container, awslogs.FlagContainer, "", "awslogs: the container's name (secret options)")
	fs.Func(awslogs.FlagSecretOptions, "awslogs: ask the agent for secret options (true or false)", boolFlag(&a.secretOptions))
}

// boolFlag sets *b from a flag's value.
func boolFlag(b *bool) func(string) error {
	return func(v string) error {
		x, err := strconv.ParseBool(v)
		*b = x
		return err
	}
}

// New implements loggercmd.Shipper: the awslogs sink, or nil when not asked for.
func (a *awslogsFlags) New(errorf func(string, ...any)) (loggercmd.ShipSink, error) {
	if a.group == "" && !a.secretOptions {
		return nil, nil
	}
	if a.socket == "" || a.task == "" {
		return nil, fmt.Errorf("awslogs: --%s and --%s are required", awslogs.FlagCredentials, awslogs.FlagTask)
	}
	agent := logcredsapi.NewClient(a.socket)
	if a.secretOptions {
		if err := a.mergeSecretOptions(agent); err != nil {
			return nil, err
		}
	}
	if a.group == "" || a.stream == "" || a.region == "" {
		return nil, fmt.Errorf("awslogs: --%s, --%s and --%s are required", awslogs.FlagGroup, awslogs.FlagStream, awslogs.FlagRegion)
	}
	if a.mode != awslogs.ModeBlocking && a.mode != awslogs.ModeNonBlocking {
		return nil, fmt.Errorf("awslogs: --%s %q: want %s or %s", awslogs.FlagMode, a.mode, awslogs.ModeNonBlocking, awslogs.ModeBlocking)
	}
	var multiline *regexp.Regexp
	if a.multiline != "" {
		re, err := regexp.Compile(a.multiline)
		if err != nil {
			return nil, fmt.Errorf("awslogs: --%s: %w", awslogs.FlagMultiline, err)
		}
		multiline = re
	}
	clk := clock.RealClock{}
	cfg := aws.Config{
		Region:      a.region,
		Credentials: &awslogs.Provider{Getter: agent, TaskARN: a.task, Clock: clk},
		// The sink retries with its own backoff, keeping events in order.
		Retryer:    func() aws.Retryer { return aws.NopRetryer{} },
		HTTPClient: &http.Client{Timeout: awslogs.DefaultRequestTimeout},
	}
	client := cwl.NewFromConfig(cfg, func(o *cwl.Options) {
		if a.endpoint != "" {
			o.BaseEndpoint = aws.String(a.endpoint)
		}
	})
	s, err := awslogs.New(awslogs.Config{
		API: client, Group: a.group, Stream: a.stream, CreateGroup: a.createGroup,
		Multiline: multiline, Blocking: a.mode == awslogs.ModeBlocking, MaxBuffer: a.maxBuffer,
		Clock: clk, Errorf: errorf,
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// mergeSecretOptions takes the driver options the agent resolved from secretOptions.
func (a *awslogsFlags) mergeSecretOptions(agent *logcredsapi.Client) error {
	if a.container == "" {
		return fmt.Errorf("awslogs: --%s is required with --%s", awslogs.FlagContainer, awslogs.FlagSecretOptions)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts, err := agent.SecretOptions(ctx, a.task, a.container)
	if err != nil {
		return fmt.Errorf("awslogs: secret options: %w", err)
	}
	for k, v := range opts {
		switch k {
		case "awslogs-group":
			a.group = v
		case "awslogs-region":
			a.region = v
		case "awslogs-endpoint":
			a.endpoint = v
		case "awslogs-create-group":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("awslogs: secret option %s: %w", k, err)
			}
			a.createGroup = b
		default:
			return fmt.Errorf("awslogs: secret option %s is not supported", k)
		}
	}
	return nil
}
