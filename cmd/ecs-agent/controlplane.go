package main

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/controllers/report"
	"github.com/ecsd/ecsd/controlplane/acs"
	"github.com/ecsd/ecsd/controlplane/ecsapi"
	"github.com/ecsd/ecsd/controlplane/tcs"
	"github.com/ecsd/ecsd/controlplane/wssession"
	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/internal/capability"
	"github.com/ecsd/ecsd/internal/selfupdate"
	"github.com/ecsd/ecsd/internal/version"
	"github.com/ecsd/ecsd/localplane"
	"github.com/ecsd/ecsd/store"
)

// backend is how the agent reaches ECS: the region, endpoint and credentials to sign with.
type backend struct {
	region   string
	endpoint string
	creds    aws.CredentialsProvider
}

// startLocalControlPlane serves the embedded local ECS control plane on addr, which must
// be a loopback address, and returns the backend pointing at it and the function that
// stops it. It is the plane `ecs-local` runs on its own (localplane.Serve), with its
// state next to the agent's, so a restarted agent finds its instance and tasks again, and
// its key pair (and the endpoint actually bound) in cfg.LocalCredentialsFile. Task
// containers are refused the plane's port before it serves a single request.
func startLocalControlPlane(ctx context.Context, addr string, cfg *config.Config, log logr.Logger) (backend, func(), error) {
	if _, err := localplane.LoopbackListenAddr(addr); err != nil {
		return backend{}, nil, fmt.Errorf("%w: --local-api: %w", errTerminal, err)
	}
	if cfg.LocalCredentialsFile == "" {
		return backend{}, nil, fmt.Errorf("%w: ECSD_LOCAL_CREDENTIALS_FILE is empty; --local keeps its key pair there", errTerminal)
	}
	plane, err := localplane.Serve(ctx, localplane.ServeOptions{
		Listen:          addr,
		CredentialsFile: cfg.LocalCredentialsFile,
		Region:          cfg.AWSRegion,
		Clusters:        []string{cfg.Cluster},
		StatePath:       filepath.Join(cfg.DataDir, "local-control-plane.json"),
		Logger:          log,
		BeforeServe: func(ctx context.Context, bound netip.AddrPort) (func(context.Context) error, error) {
			return refusePlaneToTasks(ctx, cfg, bound, log)
		},
	})
	if err != nil {
		return backend{}, nil, err
	}
	keys := plane.Access
	return backend{
		region:   keys.Region,
		endpoint: keys.Endpoint,
		creds:    aws.NewCredentialsCache(awscreds.NewStaticCredentialsProvider(keys.AccessKeyID, keys.SecretAccessKey, "")),
	}, plane.Stop, nil
}

// connected is the agent's registration and the parts that talk to ECS after it.
type connected struct {
	client      *ecsapi.Client
	reg         ecsapi.Registered
	reporter    *report.Reporter
	session     *acs.Session
	telemetry   *tcs.Session
	credentials *credentials.Manager
	tombstones  *acs.Tombstones
	applier     *acs.StoreApplier
	// acsState and tcsState track the sessions' connections for the health check and
	// the metrics.
	acsState, tcsState *wssession.Tracker
	// updater answers ACS's agent update messages; its Run ends when an update is performed.
	updater *selfupdate.Updater
}

// connect registers the instance and builds the ACS session and the report controller.
func connect(ctx context.Context, be backend, cfg *config.Config, st *store.Store, rt runtimeClient, telemetry tcs.Telemetry, creds *credentials.Manager, runtimeVersion string, id identity, host capability.Host, log logr.Logger) (*connected, error) {
	client, err := ecsapi.New(ecsapi.Options{
		Region:      be.region,
		Endpoint:    be.endpoint,
		Credentials: be.creds,
		AppID:       "ecsd-" + version.Version,
		Logger:      log.WithName("ecs"),
	})
	if err != nil {
		return nil, err
	}
	reg, err := registerInstance(ctx, client, st, cfg, host, id, log.WithName("register"))
	if err != nil {
		return nil, err
	}
	c := &connected{client: client, reg: reg, credentials: creds, tombstones: acs.NewTombstones(st, 24*time.Hour),
		acsState: wssession.NewTracker(nil), tcsState: wssession.NewTracker(nil)}
	c.applier = &acs.StoreApplier{Store: st, Credentials: creds, Tombstones: c.tombstones, Log: log.WithName("acs")}
	c.reporter = report.New(st.DirectClient(), st.Cache(), client, report.Options{
		Cluster:   cfg.Cluster,
		Permanent: ecsapi.IsInvalidParameter,
		Logger:    log.WithName("report"),
	})
	// sessionConfig is what the ACS and TCS sessions share: who the agent is, how to sign, and
	// where the instance's endpoints are (one DiscoverPollEndpoint answers both).
	sessionConfig := func(name string, tracker *wssession.Tracker, endpoint func(ecsapi.Endpoints) string, connected func(*api.InstanceStatus, bool)) wssession.Config {
		return wssession.Config{
			Endpoint: func(ctx context.Context) (string, error) {
				ep, err := client.DiscoverPollEndpoint(ctx, cfg.Cluster, reg.ContainerInstanceARN)
				return endpoint(ep), err
			},
			EndpointFailed:       func() { client.ForgetEndpoints(reg.ContainerInstanceARN) },
			Cluster:              cfg.Cluster,
			ContainerInstanceARN: reg.ContainerInstanceARN,
			Region:               be.region,
			Credentials:          be.creds,
			AgentVersion:         version.Version,
			AgentHash:            version.GitHash,
			RuntimeVersion:       runtimeVersion,
			OnConnected: func(up bool) {
				if err := setInstanceConnected(context.WithoutCancel(ctx), st, func(s *api.InstanceStatus) { connected(s, up) }); err != nil {
					log.V(1).Info("cannot record the "+name+" connection state", "error", err.Error())
				}
			},
			Tracker: tracker,
			Logger:  log.WithName(strings.ToLower(name)),
		}
	}
	c.updater = selfupdate.New(selfupdate.Options{Enabled: cfg.UpdatesEnabled.Enabled(), Dir: cfg.UpdateDownloadDir,
		Log: log.WithName("update")})
	c.session, err = acs.New(acs.Options{
		Config: sessionConfig("ACS", c.acsState, func(ep ecsapi.Endpoints) string { return ep.ACS },
			func(s *api.InstanceStatus, up bool) { s.ACSConnected = up }),
		Applier: c.applier,
		Updater: c.updater,
	})
	if err != nil {
		return nil, err
	}
	c.telemetry, err = tcs.New(tcs.Options{
		Config: sessionConfig("TCS", c.tcsState, func(ep ecsapi.Endpoints) string { return ep.TCS },
			func(s *api.InstanceStatus, up bool) { s.TCSConnected = up }),
		Telemetry:      telemetry,
		DisableMetrics: cfg.DisableMetrics.Enabled(),
		DisableHealth:  cfg.DisableDockerHealthCheck.Enabled(),
		InstanceStatus: (&runtimeDoctor{ping: func(ctx context.Context) error {
			_, err := rt.Version(ctx)
			return err
		}}).check,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// runtimeClient is what the control-plane side needs of the containerd runtime: the
// client, to ping containerd for the instance health check.
type runtimeClient interface {
	Version(ctx context.Context) (string, error)
}

func keyOf(name string) types.NamespacedName {
	return types.NamespacedName{Namespace: api.Namespace, Name: name}
}
