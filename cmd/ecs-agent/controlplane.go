package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
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
	"github.com/ecsd/ecsd/controlplane/local"
	"github.com/ecsd/ecsd/controlplane/local/access"
	"github.com/ecsd/ecsd/controlplane/tcs"
	"github.com/ecsd/ecsd/controlplane/wssession"
	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/internal/capability"
	"github.com/ecsd/ecsd/internal/version"
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
// stops it. Its state lives next to the agent's, so a restarted agent finds its instance
// and tasks again. It accepts only this installation's key pair, kept (with the endpoint
// actually bound) in cfg.LocalCredentialsFile, readable by root only: whoever holds it
// can run any task, privileged ones included. Task containers are refused the plane's
// port before it serves a single request.
func startLocalControlPlane(ctx context.Context, addr string, cfg *config.Config, log logr.Logger) (backend, func(), error) {
	listen, err := loopbackListenAddr(addr)
	if err != nil {
		return backend{}, nil, fmt.Errorf("%w: --local-api: %w", errTerminal, err)
	}
	if cfg.LocalCredentialsFile == "" {
		return backend{}, nil, fmt.Errorf("%w: ECSD_LOCAL_CREDENTIALS_FILE is empty; --local keeps its key pair there", errTerminal)
	}
	region := cfg.AWSRegion
	if region == "" {
		region = local.DefaultRegion
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return backend{}, nil, fmt.Errorf("local control plane: %w", err)
	}
	bound := netip.MustParseAddrPort(ln.Addr().String())
	endpoint := "http://" + bound.String()
	keys, err := access.Ensure(cfg.LocalCredentialsFile, endpoint, region, log)
	if err != nil {
		ln.Close()
		return backend{}, nil, fmt.Errorf("local control plane key pair: %w", err)
	}
	srv, err := local.New(ctx, local.Options{
		Region:      region,
		Credentials: map[string]string{keys.AccessKeyID: keys.SecretAccessKey},
		Clusters:    []string{cfg.Cluster},
		StatePath:   filepath.Join(cfg.DataDir, "local-control-plane.json"),
		Logger:      log,
	})
	if err != nil {
		ln.Close()
		return backend{}, nil, fmt.Errorf("local control plane: %w", err)
	}
	unblock, err := refusePlaneToTasks(ctx, cfg, bound, log)
	if err != nil {
		ln.Close()
		srv.Close()
		return backend{}, nil, fmt.Errorf("local control plane: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(err, "local control plane stopped serving")
		}
	}()
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		<-served
		srv.Close()
		// A time of its own: a shutdown that used up the first (an ACS session slow to
		// close) must not leave the rule behind.
		uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer ucancel()
		if err := unblock(uctx); err != nil {
			log.Error(err, "cannot remove the rule refusing the local control plane to tasks")
		}
	}
	log.Info("local ECS control plane listening", "endpoint", endpoint, "region", region,
		"credentialsFile", cfg.LocalCredentialsFile)
	return backend{
		region:   region,
		endpoint: endpoint,
		creds:    aws.NewCredentialsCache(awscreds.NewStaticCredentialsProvider(keys.AccessKeyID, keys.SecretAccessKey, "")),
	}, stop, nil
}

// loopbackListenAddr checks that addr (host:port) names a loopback address and returns it
// in the form to listen on. The plane places tasks, privileged ones included, for whoever
// holds its key pair; it is not a network service.
func loopbackListenAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%q: %w", addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return "", fmt.Errorf("%q: the local control plane listens on a loopback address only (127.0.0.0/8 or ::1), e.g. %s", addr, local.DefaultAPIAddr)
	}
	return net.JoinHostPort(ip.Unmap().String(), port), nil
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
}

// connect registers the instance and builds the ACS session and the report controller.
func connect(ctx context.Context, be backend, cfg *config.Config, st *store.Store, rt runtimeClient, creds *credentials.Manager, runtimeVersion string, id identity, host capability.Host, log logr.Logger) (*connected, error) {
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
	c := &connected{client: client, reg: reg, credentials: creds, tombstones: acs.NewTombstones(st, 24*time.Hour)}
	c.applier = &acs.StoreApplier{Store: st, Credentials: creds, Tombstones: c.tombstones, Log: log.WithName("acs")}
	c.reporter = report.New(st.DirectClient(), st.Cache(), client, report.Options{
		Cluster:   cfg.Cluster,
		Permanent: ecsapi.IsInvalidParameter,
		Logger:    log.WithName("report"),
	})
	// sessionConfig is what the ACS and TCS sessions share: who the agent is, how to sign, and
	// where the instance's endpoints are (one DiscoverPollEndpoint answers both).
	sessionConfig := func(name string, endpoint func(ecsapi.Endpoints) string, connected func(*api.InstanceStatus, bool)) wssession.Config {
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
			Logger: log.WithName(strings.ToLower(name)),
		}
	}
	c.session, err = acs.New(acs.Options{
		Config: sessionConfig("ACS", func(ep ecsapi.Endpoints) string { return ep.ACS },
			func(s *api.InstanceStatus, up bool) { s.ACSConnected = up }),
		Applier: c.applier,
	})
	if err != nil {
		return nil, err
	}
	c.telemetry, err = tcs.New(tcs.Options{
		Config: sessionConfig("TCS", func(ep ecsapi.Endpoints) string { return ep.TCS },
			func(s *api.InstanceStatus, up bool) { s.TCSConnected = up }),
		Reader:         st.Client(),
		Stats:          rt,
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

// runtimeClient is what the control-plane side needs of the containerd runtime: stats for
// TCS and the client, to ping containerd for the instance health check.
type runtimeClient interface {
	tcs.StatsSource
	Version(ctx context.Context) (string, error)
}

func keyOf(name string) types.NamespacedName {
	return types.NamespacedName{Namespace: api.Namespace, Name: name}
}
