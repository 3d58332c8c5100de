// Package instancetags reads the EC2 instance's tags for the container instance
// (ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM=ec2_instance) and merges them under the
// tags the configuration sets (ECS_CONTAINER_INSTANCE_TAGS), as the reference agent does:
// one DescribeTags call filtered on the instance (at most 50 tags, an instance's limit),
// tags whose key or value starts with "aws:" left out (ECS refuses that prefix on
// RegisterContainerInstance, and Auto Scaling and CloudFormation add such tags to
// instances), and an explicit tag winning over an EC2 tag with the same key.
//
// The call is EC2's Query API (a form POST signed with SigV4, an XML answer) made here
// rather than through the SDK's EC2 client, which is by far the largest AWS module and
// would be linked into the agent for this one call.
package instancetags

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"k8s.io/utils/clock"

	"github.com/ecsd/ecsd/internal/backoff"
)

const (
	apiVersion = "2016-11-15"
	// maxTags is DescribeTags' MaxResults: an instance has at most 50 tags.
	maxTags = 50
	// maxResponse bounds the answer read: 50 tags of 128+256 characters fit many times.
	maxResponse = 1 << 20
	attempts    = 5
	awsPrefix   = "aws:"
)

// retryBackoff paces retries of throttling, server errors and failed connections.
var retryBackoff = backoff.Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second, Factor: 2, Jitter: 0.2}

// ErrRefused is an answer of EC2 that retrying cannot change (access denied, a bad
// request): the configuration or the instance role must be fixed.
var ErrRefused = errors.New("EC2 refused DescribeTags")

// Client calls DescribeTags.
type Client struct {
	cfg      aws.Config
	endpoint string
	clock    clock.Clock
	signer   *v4.Signer
}

// New returns a client signing with cfg's credentials for cfg's region, sending to
// endpoint (the SDK's configured endpoint for EC2, AWS_ENDPOINT_URL_EC2), or to the
// region's public EC2 endpoint when empty. clk paces retries (nil: the real clock).
func New(cfg aws.Config, endpoint string, clk clock.Clock) *Client {
	if endpoint == "" {
		endpoint = "https://ec2." + cfg.Region + ".amazonaws.com"
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Client{cfg: cfg, endpoint: strings.TrimRight(endpoint, "/") + "/", clock: clk, signer: v4.NewSigner()}
}

// InstanceTags returns the tags of instanceID that may become container instance tags.
func (c *Client) InstanceTags(ctx context.Context, instanceID string) (map[string]string, error) {
	if instanceID == "" {
		return nil, fmt.Errorf("EC2 DescribeTags: no EC2 instance ID (the instance identity document was not read)")
	}
	form := url.Values{
		"Action":           {"DescribeTags"},
		"Version":          {apiVersion},
		"Filter.1.Name":    {"resource-id"},
		"Filter.1.Value.1": {instanceID},
		"Filter.2.Name":    {"resource-type"},
		"Filter.2.Value.1": {"instance"},
		"MaxResults":       {fmt.Sprint(maxTags)},
	}
	body := []byte(form.Encode())
	var err error
	for attempt := range attempts {
		var out describeTagsResponse
		out, err = c.call(ctx, body)
		if err == nil {
			return out.tags(), nil
		}
		if errors.Is(err, ErrRefused) || attempt == attempts-1 {
			break
		}
		t := c.clock.NewTimer(retryBackoff.Delay(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C():
		}
	}
	return nil, fmt.Errorf("EC2 DescribeTags for %s: %w", instanceID, err)
}

// call makes one signed request.
func (c *Client) call(ctx context.Context, body []byte) (describeTagsResponse, error) {
	var out describeTagsResponse
	if c.cfg.Credentials == nil {
		return out, fmt.Errorf("%w: no credentials", ErrRefused)
	}
	creds, err := c.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return out, fmt.Errorf("credentials: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return out, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "ec2", c.cfg.Region, c.clock.Now()); err != nil {
		return out, fmt.Errorf("sign: %w", err)
	}
	hc := c.cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return out, err
	}
	if len(data) > maxResponse {
		return out, fmt.Errorf("%w: answer larger than %d bytes", ErrRefused, maxResponse)
	}
	if resp.StatusCode != http.StatusOK {
		return out, apiError(resp.StatusCode, data)
	}
	if err := xml.Unmarshal(data, &out); err != nil {
		return out, fmt.Errorf("%w: malformed answer: %w", ErrRefused, err)
	}
	return out, nil
}

// apiError is EC2's error answer: retryable for throttling and server errors, ErrRefused
// otherwise.
func apiError(status int, data []byte) error {
	var e struct {
		Errors []struct {
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Errors>Error"`
	}
	code, msg := "", strings.TrimSpace(string(data))
	if xml.Unmarshal(data, &e) == nil && len(e.Errors) > 0 {
		code, msg = e.Errors[0].Code, e.Errors[0].Message
	}
	if len(msg) > 512 {
		msg = msg[:512] + "…"
	}
	err := fmt.Errorf("HTTP %d %s: %s", status, code, msg)
	if status >= 500 || status == http.StatusTooManyRequests || strings.Contains(code, "Throttl") || code == "RequestLimitExceeded" {
		return err
	}
	return fmt.Errorf("%w: %w", ErrRefused, err)
}

type describeTagsResponse struct {
	Tags []struct {
		Key   string `xml:"key"`
		Value string `xml:"value"`
	} `xml:"tagSet>item"`
}

// tags keeps those a container instance may carry.
func (r describeTagsResponse) tags() map[string]string {
	out := map[string]string{}
	for _, t := range r.Tags {
		if hasAWSPrefix(t.Key) || hasAWSPrefix(t.Value) {
			continue
		}
		out[t.Key] = t.Value
	}
	return out
}

func hasAWSPrefix(s string) bool { return strings.HasPrefix(strings.ToLower(s), awsPrefix) }

// Merge returns the EC2 tags overlaid with the explicit ones: on the same key the
// explicit value wins.
func Merge(explicit, ec2 map[string]string) map[string]string {
	out := maps.Clone(ec2)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, explicit)
	return out
}
