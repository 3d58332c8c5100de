package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
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
	"github.com/ecsd/ecsd/controlplane/tcs"
	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/internal/version"
	"github.com/ecsd/ecsd/store"
)

// backend is how the agent reaches ECS: the region, endpoint and credentials to sign with.
type backend struct {
	region   string
	endpoint string
	creds    aws.CredentialsProvider
}

// startLocalControlPlane serves the embedded local ECS control plane on addr until ctx
// ends and returns the backend pointing at it. Its state lives next to the agent's, so a
// restarted agent finds its instance and tasks again.
func startLocalControlPlane(ctx context.Context, addr string, cfg *config.Config, log logr.Logger) (backend, error) {
	region := cfg.AWSRegion
	if region == "" {
		region = local.DefaultRegion
	}
	srv, err := local.New(ctx, local.Options{
		Region:      region,
		Credentials: map[string]string{local.DevAccessKeyID: local.DevSecretAccessKey},
		Clusters:    []string{cfg.Cluster},
		StatePath:   filepath.Join(cfg.DataDir, "local-control-plane.json"),
		Logger:      log,
	})
	if err != nil {
		return backend{}, fmt.Errorf("local control plane: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		srv.Close()
		return backend{}, fmt.Errorf("local control plane: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(err, "local control plane stopped serving")
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		srv.Close()
	}()
	endpoint := "http://" + ln.Addr().String()
	log.Info("local ECS control plane listening", "endpoint", endpoint, "region", region,
		"accessKeyId", local.DevAccessKeyID, "secretAccessKey", local.DevSecretAccessKey)
	return backend{
		region:   region,
		endpoint: endpoint,
		creds:    aws.NewCredentialsCache(awscreds.NewStaticCredentialsProvider(local.DevAccessKeyID, local.DevSecretAccessKey, "")),
	}, nil
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
func connect(ctx context.Context, be backend, cfg *config.Config, st *store.Store, rt runtimeClient, creds *credentials.Manager, runtimeVersion string, id identity, log logr.Logger) (*connected, error) {
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
	reg, err := registerInstance(ctx, client, st, cfg, id, log.WithName("register"))
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
	c.session, err = acs.New(acs.Options{
		Endpoint: func(ctx context.Context) (string, error) {
			ep, err := client.DiscoverPollEndpoint(ctx, cfg.Cluster, reg.ContainerInstanceARN)
			return ep.ACS, err
		},
		EndpointFailed:       func() { client.ForgetEndpoints(reg.ContainerInstanceARN) },
		Cluster:              cfg.Cluster,
		ContainerInstanceARN: reg.ContainerInstanceARN,
		Region:               be.region,
		Credentials:          be.creds,
		AgentVersion:         version.Version,
		AgentHash:            version.GitHash,
		RuntimeVersion:       runtimeVersion,
		Applier:              c.applier,
		OnConnected: func(up bool) {
			if err := setInstanceConnected(context.WithoutCancel(ctx), st, func(s *api.InstanceStatus) { s.ACSConnected = up }); err != nil {
				log.V(1).Info("cannot record the ACS connection state", "error", err.Error())
			}
		},
		Logger: log.WithName("acs"),
	})
	if err != nil {
		return nil, err
	}
	c.telemetry, err = tcs.New(tcs.Options{
		Endpoint: func(ctx context.Context) (string, error) {
			ep, err := client.DiscoverPollEndpoint(ctx, cfg.Cluster, reg.ContainerInstanceARN)
			return ep.TCS, err
		},
		EndpointFailed:       func() { client.ForgetEndpoints(reg.ContainerInstanceARN) },
		Cluster:              cfg.Cluster,
		ContainerInstanceARN: reg.ContainerInstanceARN,
		Region:               be.region,
		Credentials:          be.creds,
		AgentVersion:         version.Version,
		AgentHash:            version.GitHash,
		RuntimeVersion:       runtimeVersion,
		Reader:               st.Client(),
		Stats:                rt,
		DisableMetrics:       cfg.DisableMetrics.Enabled(),
		DisableHealth:        cfg.DisableDockerHealthCheck.Enabled(),
		InstanceStatus: (&runtimeDoctor{ping: func(ctx context.Context) error {
			_, err := rt.Version(ctx)
			return err
		}}).check,
		OnConnected: func(up bool) {
			if err := setInstanceConnected(context.WithoutCancel(ctx), st, func(s *api.InstanceStatus) { s.TCSConnected = up }); err != nil {
				log.V(1).Info("cannot record the TCS connection state", "error", err.Error())
			}
		},
		Logger: log.WithName("tcs"),
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
