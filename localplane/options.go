package localplane

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/go-logr/logr"
)

// Options configure a Server. The zero value is usable: region "local", account
// 000000000000, no authentication, memory-only state.
type Options struct {
	// Region appears in every ARN. Default "local"; aws-sdk-go-v2 and the AWS CLI accept
	// any region name when the endpoint is given. Clients may sign for any region.
	Region string
	// AccountID appears in every ARN. Default "000000000000".
	AccountID string
	// Credentials maps the access key IDs the server accepts to their secret keys. Empty
	// means signatures are not checked at all (any or no credentials work), which is what
	// a single-user local setup wants.
	Credentials map[string]string
	// Clusters are created at start if missing; CreateCluster creates others.
	Clusters []string
	// StatePath is the JSON state file, reloaded by New and rewritten atomically (temp
	// file, fsync, rename, fsync of the directory) on every change. Empty keeps state in
	// memory only.
	StatePath string
	// HeartbeatInterval is the cadence of ACS and TCS HeartbeatMessages. Default 20s; the
	// agent gives up on a silent session after a minute.
	HeartbeatInterval time.Duration
	// ManifestInterval is the cadence of ACS TaskManifestMessages. Default 60s.
	ManifestInterval time.Duration
	// ResendAfter is how long an unacknowledged payload waits before it is sent again on
	// the same session (it is always re-sent on a new session). Default 10s.
	ResendAfter time.Duration
	// ENISubnet is the IPv4 subnet awsvpc tasks' ENIs take their addresses from, one
	// per task, freed when the task stops. As in a VPC subnet, the network address, the
	// next three and the broadcast address are reserved; the first host address is the
	// gateway. Default 10.199.0.0/24; a prefix length of 16 to 29.
	ENISubnet netip.Prefix
	// ENIDNSServers are the ENIs' DNS servers. Default: the subnet's gateway address.
	ENIDNSServers []string
	// ENIDomainName is the ENIs' DNS search list. nil means the region's internal domain
	// (ECS's: "ec2.internal" in us-east-1, "<region>.compute.internal" elsewhere); an
	// empty, non-nil list means none.
	ENIDomainName []string
	// Logger receives structured logs. Default: discard.
	Logger logr.Logger
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

// Defaults.
const (
	DefaultRegion            = "local"
	DefaultAccountID         = "000000000000"
	DefaultHeartbeatInterval = 20 * time.Second
	DefaultManifestInterval  = 60 * time.Second
	DefaultResendAfter       = 10 * time.Second
)

// DefaultENISubnet is Options.ENISubnet's default.
const DefaultENISubnet = "10.199.0.0/24"

// withDefaults fills unset options and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.AccountID == "" {
		o.AccountID = DefaultAccountID
	}
	if !isAccountID(o.AccountID) {
		return o, fmt.Errorf("%w: AccountID %q (want 12 digits)", ErrInvalidOptions, o.AccountID)
	}
	if !validName(o.Region) {
		return o, fmt.Errorf("%w: Region %q", ErrInvalidOptions, o.Region)
	}
	for _, c := range o.Clusters {
		if !validName(c) {
			return o, fmt.Errorf("%w: cluster name %q (want 1-255 letters, digits, '-' or '_')", ErrInvalidOptions, c)
		}
	}
	for _, d := range []struct {
		p   *time.Duration
		def time.Duration
	}{{&o.HeartbeatInterval, DefaultHeartbeatInterval}, {&o.ManifestInterval, DefaultManifestInterval}, {&o.ResendAfter, DefaultResendAfter}} {
		if *d.p < 0 {
			return o, fmt.Errorf("%w: negative interval %s", ErrInvalidOptions, *d.p)
		}
		if *d.p == 0 {
			*d.p = d.def
		}
	}
	if err := o.eniDefaults(); err != nil {
		return o, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger.GetSink() == nil {
		o.Logger = logr.Discard()
	}
	return o, nil
}

// eniDefaults fills and checks the ENI options.
func (o *Options) eniDefaults() error {
	if !o.ENISubnet.IsValid() {
		o.ENISubnet = netip.MustParsePrefix(DefaultENISubnet)
	}
	if !o.ENISubnet.Addr().Is4() || o.ENISubnet.Bits() < 16 || o.ENISubnet.Bits() > 29 {
		return fmt.Errorf("%w: ENISubnet %s (want an IPv4 prefix of length 16 to 29)", ErrInvalidOptions, o.ENISubnet)
	}
	o.ENISubnet = o.ENISubnet.Masked()
	if o.ENIDNSServers == nil {
		o.ENIDNSServers = []string{o.ENISubnet.Addr().Next().String()}
	}
	for _, d := range o.ENIDNSServers {
		if _, err := netip.ParseAddr(d); err != nil {
			return fmt.Errorf("%w: ENIDNSServers: %w", ErrInvalidOptions, err)
		}
	}
	o.ENIDNSServers = slices.Clone(o.ENIDNSServers)
	if o.ENIDomainName == nil {
		o.ENIDomainName = []string{regionDomain(o.Region)}
	}
	o.ENIDomainName = slices.Clone(o.ENIDomainName)
	return nil
}

// regionDomain is the region's internal DNS domain, which ECS uses for an ENI's private
// DNS name and search list.
func regionDomain(region string) string {
	if region == "us-east-1" {
		return "ec2.internal"
	}
	return region + ".compute.internal"
}
