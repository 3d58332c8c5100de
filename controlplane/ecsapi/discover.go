package ecsapi

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// Endpoints are where the ACS and TCS sessions connect.
type Endpoints struct {
	ACS, TCS string
}

type cachedEndpoints struct {
	Endpoints
	at time.Time
}

// DiscoverPollEndpoint returns the instance's ACS and TCS endpoints, cached for
// DiscoverTTL. When the call fails and an expired entry exists, the expired entry is used:
// endpoints rarely move, and a backend hiccup must not keep the sessions down.
func (c *Client) DiscoverPollEndpoint(ctx context.Context, cluster, instanceARN string) (Endpoints, error) {
	c.mu.Lock()
	cached, ok := c.discover[instanceARN]
	c.mu.Unlock()
	if ok && time.Since(cached.at) < c.opts.DiscoverTTL {
		return cached.Endpoints, nil
	}
	cctx, cancel := withTimeout(ctx, 126*time.Second)
	defer cancel()
	out, err := c.api.DiscoverPollEndpoint(cctx, &ecs.DiscoverPollEndpointInput{
		Cluster:           aws.String(cluster),
		ContainerInstance: aws.String(instanceARN),
	})
	if err != nil {
		if ok {
			c.log.Info("DiscoverPollEndpoint failed; using the expired endpoints", "error", err.Error())
			return cached.Endpoints, nil
		}
		return Endpoints{}, fmt.Errorf("discover poll endpoint: %w", err)
	}
	ep := Endpoints{ACS: aws.ToString(out.Endpoint), TCS: aws.ToString(out.TelemetryEndpoint)}
	if ep.ACS == "" {
		return Endpoints{}, fmt.Errorf("discover poll endpoint: empty endpoint in the answer")
	}
	c.mu.Lock()
	c.discover[instanceARN] = cachedEndpoints{Endpoints: ep, at: time.Now()}
	c.mu.Unlock()
	return ep, nil
}

// ForgetEndpoints drops the cached endpoints, so the next session asks again (after the
// backend refused a session on them).
func (c *Client) ForgetEndpoints(instanceARN string) {
	c.mu.Lock()
	delete(c.discover, instanceARN)
	c.mu.Unlock()
}
