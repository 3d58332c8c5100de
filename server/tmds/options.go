package tmds

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/credentials"
)

// Default rate limits (ECS_TASK_METADATA_RPS_LIMIT="40,60").
const (
	DefaultSteadyRPS = 40
	DefaultBurstRPS  = 60
)

// Options configure the task metadata handler.
type Options struct {
	// Reader reads Task, Container and Attachment objects. Required. The agent gives it the
	// informer cache with metadata.IndexFields registered; a reader without those indexes
	// gives the same answers by scanning every object per request.
	Reader client.Reader
	// Credentials holds task role credentials; nil answers every ID as unknown.
	Credentials *credentials.Manager
	// Stats is the stats engine; nil answers stats routes as "no stats".
	Stats StatsSource
	// Tags looks up ECS resource tags for …WithTags; nil means those responses carry none.
	Tags TagSource
	// AgentAPI serves /api/… (task protection, fault injection) after rate limiting; nil
	// answers 404 there.
	AgentAPI http.Handler
	// Instance describes this container instance; called per request because registration
	// may complete after the handler is built. nil means an EC2 instance with nothing known.
	Instance func() Instance
	// SteadyRPS and BurstRPS are ECS_TASK_METADATA_RPS_LIMIT; zero or less means 40 and 60.
	SteadyRPS, BurstRPS int
	// CheckCredentialsSource answers a credentials ID only to a caller whose source address
	// belongs to the task owning it (the agent defaults it to true).
	CheckCredentialsSource bool
	// HostNetworkCredentials (ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST) serves host-network
	// tasks' credentials to callers on loopback or the host's own addresses: their requests
	// arrive through an OUTPUT REDIRECT, so the source address cannot name a task.
	HostNetworkCredentials bool
	// HostAddrs lists the host's own addresses for the check above; nil uses the addresses
	// of the host's interfaces.
	HostAddrs func() ([]netip.Addr, error)
	// AgentVersion is the version stamped on containers (label ecs.ecsd.io/agent-version),
	// reported back in Labels; empty leaves that label out.
	AgentVersion string
	// DataDir is ECS_DATADIR, used to show where agent-managed volumes live; optional.
	DataDir string
	// Logger receives request logs; audit entries (credential requests, 429s) go to
	// Logger.WithName("audit"). Secrets and credentials IDs are never logged.
	Logger logr.Logger
	// Now is the clock (rate limiting, credentials expiry); nil means time.Now.
	Now func() time.Time
}

// Instance is what task metadata reports about the container instance.
type Instance struct {
	Cluster              string
	ContainerInstanceARN string
	// AvailabilityZone is empty when ECS_DISABLE_TASK_METADATA_AZ=true.
	AvailabilityZone   string
	AvailabilityZoneID string
	VPCID              string
	// LaunchType defaults to EC2.
	LaunchType string
}

// StatsSource is the stats engine's latest samples.
type StatsSource interface {
	// ContainerStats returns the latest Docker-Engine-shaped stats document of the container
	// with runtime ID id; v4 includes network_rate_stats. ok=false when nothing was sampled.
	ContainerStats(runtimeID string, v4 bool) (doc any, ok bool)
}

// TagSource looks up ECS resource tags (ListTagsForResource). It is called on the request
// path, concurrently, with the request's context; implementations bound and cache their
// calls (server/tmds/tagcache) and log their own failures, which the handler only reports.
type TagSource interface {
	ListTags(ctx context.Context, resourceARN string) (map[string]string, error)
}

func (o *Options) setDefaults() error {
	if o.Reader == nil {
		return errors.New("tmds: a Reader is required")
	}
	if o.SteadyRPS <= 0 {
		o.SteadyRPS = DefaultSteadyRPS
	}
	if o.BurstRPS <= 0 {
		o.BurstRPS = DefaultBurstRPS
	}
	if o.Instance == nil {
		o.Instance = func() Instance { return Instance{} }
	}
	if o.HostAddrs == nil {
		o.HostAddrs = interfaceAddrs
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// instance returns the instance description with the launch type defaulted.
func (o *Options) instance() Instance {
	in := o.Instance()
	if in.LaunchType == "" {
		in.LaunchType = "EC2"
	}
	return in
}

// interfaceAddrs returns the addresses of the host's interfaces.
func interfaceAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out, nil
}
