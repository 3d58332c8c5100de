package logdriver

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/ecsd/ecsd/internal/awslogs"
)

// AWSLogs is the CloudWatch Logs driver, shipped by ecsd-logger-awslogs.
const AWSLogs = "awslogs"

// Env is what a log driver takes from the agent and the container besides its options.
type Env struct {
	// TaskARN, TaskID and Container name the container; RuntimeID is its runtime ID
	// (the stream name without awslogs-stream-prefix, as Docker uses the container ID).
	TaskARN, TaskID, Container, RuntimeID string
	// DockerName is the container's name as the reference agent's Docker would have it
	// (api.DockerName); ImageName and ImageID are its image's reference and ID. The
	// fluentd, syslog and gelf drivers' tags and records use them.
	DockerName, ImageName, ImageID string
	// Region is the agent's region: awslogs-region's default.
	Region string
	// Endpoint is the CloudWatch Logs endpoint the agent resolved from its own
	// environment (AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_ENDPOINT_URL), used unless the
	// container sets awslogs-endpoint: the logger runs with containerd's environment.
	Endpoint string
	// CredentialsSocket is the agent's credentials socket (server/logcreds); empty when
	// awslogs cannot work on this host, with AWSLogsUnavailable saying why.
	CredentialsSocket  string
	AWSLogsUnavailable string
	// ShipUnavailable, when set, says why fluentd, syslog and gelf cannot work on this host.
	ShipUnavailable string
	// SecretOptions are the names of the container's log-driver secretOptions, which
	// the agent resolves and the logger asks for.
	SecretOptions []string
}

// awslogsOptions are the options the awslogs driver takes.
func awslogsOptions() []string {
	return []string{"awslogs-group", "awslogs-region", "awslogs-stream-prefix", "awslogs-create-group",
		"awslogs-datetime-format", "awslogs-multiline-pattern", "awslogs-endpoint", "mode", "max-buffer-size"}
}

// groupName is CloudWatch Logs' log group name pattern.
var groupName = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]{1,512}$`)

// awslogsArgs validates awslogs options and returns the logger arguments.
func awslogsArgs(opts map[string]string, env Env) (map[string]string, error) {
	if env.CredentialsSocket == "" {
		reason := env.AWSLogsUnavailable
		if reason == "" {
			reason = "the agent has no credentials socket"
		}
		return nil, fmt.Errorf("awslogs is not available on this instance: %s", reason)
	}
	known := awslogsOptions()
	secret := map[string]bool{}
	for _, k := range env.SecretOptions {
		secret[k] = true
		if !contains(known, k) {
			return nil, fmt.Errorf("secret option %q is not an awslogs option (supported: %s)", k, strings.Join(known, ", "))
		}
		switch k {
		case "awslogs-group", "awslogs-region", "awslogs-endpoint", "awslogs-create-group":
		default:
			return nil, fmt.Errorf("secret option %q is not supported by ecsd (supported as secrets: awslogs-group, awslogs-region, awslogs-endpoint, awslogs-create-group)", k)
		}
	}
	for k := range opts {
		if !contains(known, k) {
			return nil, fmt.Errorf("option %q is not supported by ecsd (supported: %s)", k, strings.Join(known, ", "))
		}
	}
	args := map[string]string{
		"--" + awslogs.FlagCredentials: env.CredentialsSocket,
		"--" + awslogs.FlagTask:        env.TaskARN,
	}
	set := func(flag, v string) { args["--"+flag] = v }

	group := opts["awslogs-group"]
	switch {
	case group == "" && !secret["awslogs-group"]:
		return nil, fmt.Errorf("awslogs-group is required")
	case group != "" && !groupName.MatchString(group):
		return nil, fmt.Errorf("awslogs-group %q: a log group name is 1 to 512 of A-Z a-z 0-9 . - _ / #", group)
	case group != "":
		set(awslogs.FlagGroup, group)
	}
	region := opts["awslogs-region"]
	if region == "" {
		region = env.Region
	}
	if region == "" && !secret["awslogs-region"] {
		return nil, fmt.Errorf("awslogs-region is required: the agent has no region to default to")
	}
	if region != "" {
		set(awslogs.FlagRegion, region)
	}

	stream := env.RuntimeID
	if p, ok := opts["awslogs-stream-prefix"]; ok {
		if p == "" {
			return nil, fmt.Errorf("awslogs-stream-prefix is empty")
		}
		stream = p + "/" + env.Container + "/" + env.TaskID
	}
	if stream == "" || len(stream) > 512 || strings.ContainsAny(stream, ":*") {
		return nil, fmt.Errorf("log stream name %q: 1 to 512 characters, no : or *", stream)
	}
	set(awslogs.FlagStream, stream)

	if v, ok := opts["awslogs-create-group"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("awslogs-create-group %q: want true or false", v)
		}
		set(awslogs.FlagCreateGroup, strconv.FormatBool(b))
	}

	dt, hasDT := opts["awslogs-datetime-format"]
	ml, hasML := opts["awslogs-multiline-pattern"]
	switch {
	case hasDT && hasML:
		return nil, fmt.Errorf("awslogs-datetime-format and awslogs-multiline-pattern cannot both be set")
	case hasDT:
		p, err := awslogs.DatetimePattern(dt)
		if err != nil {
			return nil, err
		}
		set(awslogs.FlagMultiline, p)
	case hasML:
		p, err := awslogs.MultilinePattern(ml)
		if err != nil {
			return nil, err
		}
		set(awslogs.FlagMultiline, p)
	}

	endpoint, ok := opts["awslogs-endpoint"]
	if !ok {
		endpoint = env.Endpoint
	}
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("awslogs-endpoint %q: want an http or https URL without credentials", endpoint)
		}
		set(awslogs.FlagEndpoint, endpoint)
	}

	mode := opts["mode"]
	switch mode {
	case "":
		mode = awslogs.ModeNonBlocking
	case awslogs.ModeBlocking, awslogs.ModeNonBlocking:
	default:
		return nil, fmt.Errorf("mode %q: want %s or %s", mode, awslogs.ModeNonBlocking, awslogs.ModeBlocking)
	}
	set(awslogs.FlagMode, mode)
	if v, ok := opts["max-buffer-size"]; ok {
		if mode != awslogs.ModeNonBlocking {
			return nil, fmt.Errorf("max-buffer-size is only supported with mode non-blocking")
		}
		n, err := ParseSize(v)
		if err != nil {
			return nil, fmt.Errorf("max-buffer-size: %w", err)
		}
		if n > maxShipBuffer {
			return nil, fmt.Errorf("max-buffer-size %q: at most %d MiB", v, maxShipBuffer>>20)
		}
		set(awslogs.FlagMaxBuffer, strconv.FormatInt(n, 10))
	}
	if len(env.SecretOptions) > 0 {
		set(awslogs.FlagSecretOptions, "true")
		set(awslogs.FlagContainer, env.Container)
	}
	return args, nil
}

// maxShipBuffer bounds max-buffer-size: it is memory of a logger process.
const maxShipBuffer = 256 << 20

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
