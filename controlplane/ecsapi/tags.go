package ecsapi

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecsd/ecsd/internal/backoff"
)

// tagsRetryBudget bounds ListTagsForResource's retries when the caller's context has no
// deadline: the reference agent gives tag lookups 30 s.
const tagsRetryBudget = 30 * time.Second

// defaultTagsBackoff paces ListTagsForResource retries; short, because a task metadata
// request is waiting on the answer.
var defaultTagsBackoff = backoff.Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second, Factor: 2, Jitter: 0.2}

// ListTagsForResource returns the tags of an ECS resource (task, container instance) as a
// map, for task metadata's …WithTags responses. Throttling, server and connection errors
// are retried with backoff until ctx ends (or 30 s without a deadline); any other error is
// returned at once, wrapped so errors.As still finds the SDK's API and HTTP errors (their
// code, status and request ID end up in the response's Errors).
func (c *Client) ListTagsForResource(ctx context.Context, resourceARN string) (map[string]string, error) {
	cctx, cancel := withTimeout(ctx, tagsRetryBudget)
	defer cancel()
	b := c.opts.TagsBackoff
	if b == (backoff.Backoff{}) {
		b = defaultTagsBackoff
	}
	for attempt := 0; ; attempt++ {
		out, err := c.api.ListTagsForResource(cctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String(resourceARN)})
		if err == nil {
			tags := make(map[string]string, len(out.Tags))
			for _, t := range out.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			return tags, nil
		}
		err = fmt.Errorf("list tags for resource %s: %w", resourceARN, err)
		if Classify(err) != Transient {
			return nil, err
		}
		t := time.NewTimer(b.Delay(attempt))
		select {
		case <-cctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		c.log.V(1).Info("retrying ListTagsForResource", "resource", resourceARN, "attempt", attempt+1, "error", err.Error())
	}
}
