package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/controlplane/wssession"
	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/internal/agenthealth"
	"github.com/ecsd/ecsd/internal/hostsetup"
	"github.com/ecsd/ecsd/internal/peer"
	"github.com/ecsd/ecsd/internal/prommetrics"
	"github.com/ecsd/ecsd/internal/secretfile"
	"github.com/ecsd/ecsd/internal/stats"
	"github.com/ecsd/ecsd/internal/version"
	"github.com/ecsd/ecsd/runtime/cgroups"
	"github.com/ecsd/ecsd/server/agentapi"
	"github.com/ecsd/ecsd/server/bearer"
	"github.com/ecsd/ecsd/server/connlimit"
	"github.com/ecsd/ecsd/server/dualtls"
	"github.com/ecsd/ecsd/server/introspection"
	"github.com/ecsd/ecsd/server/metadata"
	"github.com/ecsd/ecsd/server/objectapi"
	"github.com/ecsd/ecsd/server/tmds"
	"github.com/ecsd/ecsd/store"
)

// The endpoints' addresses. Task metadata listens on loopback only: containers reach it as
// 169.254.170.2:80 through ecs-init's DNAT/REDIRECT rules, never directly.
const (
	introspectionAddr = ":" + hostsetup.IntrospectionPort
	taskMetadataAddr  = "127.0.0.1:" + hostsetup.AgentCredentialsPort
)

// metricsAddr is where ECS_ENABLE_PROMETHEUS_METRICS serves /metrics: every address, as
// the reference agent does, so that a Prometheus server elsewhere can scrape it.
func metricsAddr() string { return fmt.Sprintf(":%d", config.PrometheusMetricsPort) }

// Connection bounds of the two servers (connlimit). Introspection's are above the object
// API's own watch and follow bounds, so that an operator's flood meets those first, with a
// 429 that says which; task metadata's per-source bound keeps one task's flood from
// starving the others (a bridge task has its own address; host-network tasks share
// 127.0.0.1).
const (
	introspectionMaxConns          = 1024
	introspectionMaxConnsPerSource = 768
	metadataMaxConns               = 4096
	metadataMaxConnsPerSource      = 256
	// A scrape is one request every few seconds per Prometheus server.
	metricsMaxConns          = 64
	metricsMaxConnsPerSource = 16
	// maxHeaderBytes bounds a request's header block on both servers (net/http's default
	// is 1 MiB); no client of these endpoints sends more than a few hundred bytes.
	maxHeaderBytes = 32 << 10
	// apiTokenBytes is the object API token's entropy.
	apiTokenBytes = 32
)

// endpoints are the agent's HTTP servers.
type endpoints struct {
	introspection, metadata *http.Server
	lnIntro, lnMeta         net.Listener
	// metrics and lnMetrics are nil unless ECS_ENABLE_PROMETHEUS_METRICS is on.
	metrics   *http.Server
	lnMetrics net.Listener
}

// endpointDeps is what the endpoints read.
type endpointDeps struct {
	cfg *config.Config
	st  *store.Store
	// stats is the container sampler whose documents /stats serves.
	stats       *stats.Sampler
	creds       *credentials.Manager
	be          backend
	instanceARN string
	facts       instanceFacts
	// cgroups is where task containers' cgroups live, to tell a host caller from a task.
	cgroups cgroups.Manager
	// acs is the ACS session's tracker, which the health endpoint judges.
	acs *wssession.Tracker
	// metrics is what /metrics serves when ECS_ENABLE_PROMETHEUS_METRICS is on.
	metrics prometheus.Gatherer
	// exec runs the object API's exec subresource (the runtime).
	exec objectapi.Executor
}

// openEndpoints binds both listeners, so a port already taken fails the start (exit 1,
// systemd retries) before the agent says it is ready.
func openEndpoints(d endpointDeps, log logr.Logger) (*endpoints, error) {
	cfg := d.cfg
	reader := d.st.Client()
	// The endpoints find a request's container and task through these indexes; they are
	// added here, before the cache starts. Adding one never waits, so no context is needed.
	if err := metadata.IndexFields(context.Background(), d.st.Cache()); err != nil {
		return nil, fmt.Errorf("endpoint indexes: %w", err)
	}
	instance := tmds.Instance{Cluster: cfg.Cluster, ContainerInstanceARN: d.instanceARN, LaunchType: "EC2"}
	if cfg.External.Enabled() {
		instance.LaunchType = "EXTERNAL"
	}
	if !cfg.TaskMetadataAZDisabled.Enabled() {
		instance.AvailabilityZone = d.facts.availabilityZone
	}
	agentAPI := agentapi.NewHandler(agentapi.Options{
		Reader: reader, Credentials: d.creds, Cluster: cfg.Cluster, Region: d.be.region,
		Endpoint: d.be.endpoint, Logger: log.WithName("agent-api"),
	})
	tags, err := tagSource(d.be, log.WithName("tags"))
	if err != nil {
		return nil, fmt.Errorf("task metadata tags: %w", err)
	}
	meta, err := tmds.NewHandler(tmds.Options{
		Reader:                 reader,
		Credentials:            d.creds,
		Stats:                  d.stats,
		Tags:                   tags,
		AgentAPI:               agentAPI,
		Instance:               func() tmds.Instance { return instance },
		SteadyRPS:              cfg.TaskMetadataSteadyStateRate,
		BurstRPS:               cfg.TaskMetadataBurstRate,
		CheckCredentialsSource: cfg.TaskCredentialsSourceCheck.Enabled(),
		HostNetworkCredentials: cfg.TaskIAMRoleEnabledForNetworkHost.Enabled(),
		AgentVersion:           version.Version,
		DataDir:                cfg.DataDir,
		Logger:                 log.WithName("task-metadata"),
	})
	if err != nil {
		return nil, fmt.Errorf("task metadata: %w", err)
	}
	token := apiToken(cfg, log)
	tlsConfig, err := apiTLS(cfg)
	if err != nil {
		// Plain HTTP still serves /v1 and ecsctl; kubectl with a token needs TLS.
		log.Error(err, "introspection port serves no TLS: kubectl cannot send its token")
	}
	hostRoot := peer.HostRoot{Mount: d.cgroups.V2Mount(), TaskRoot: d.cgroups.Root}
	if hostRoot.Mount == "" {
		log.Info("no cgroup v2 hierarchy: the object API cannot tell host callers from host-network tasks, so it answers only the token")
	}
	objects, err := objectapi.NewHandler(objectapi.Options{Store: d.st, DataDir: cfg.DataDir, Token: token,
		HostCaller: objectapi.HostRootCaller(hostRoot), Exec: d.exec, Logger: log.WithName("object-api")})
	if err != nil {
		return nil, err
	}
	intro := introspection.NewHandler(introspection.Options{
		Reader:               reader,
		Cluster:              cfg.Cluster,
		ContainerInstanceARN: func() string { return d.instanceARN },
		Version:              fmt.Sprintf("Amazon ECS Agent - v%s (%s)", version.Version, version.GitHash),
		EnableRuntimeStats:   cfg.EnableRuntimeStats.Enabled(),
		Token:                token,
		License:              version.License,
		DataDir:              cfg.DataDir,
		ObjectAPI:            objects,
		Health:               agenthealth.Handler(d.acs, cfg.HealthcheckACSGrace),
		Logger:               log.WithName("introspection"),
	})
	e := &endpoints{}
	// Timeouts as the reference agent's: 5 s, or 5 min for introspection with pprof (a CPU
	// profile takes 30 s by default).
	introTimeout := 5 * time.Second
	if cfg.EnableRuntimeStats.Enabled() {
		introTimeout = 5 * time.Minute
	}
	e.introspection = &http.Server{Handler: intro, ReadTimeout: introTimeout, WriteTimeout: introTimeout,
		ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: maxHeaderBytes}
	// Object API watches and log follows outlive these timeouts (they extend the write
	// deadline as they go); end them on shutdown rather than have Shutdown wait for them.
	e.introspection.RegisterOnShutdown(objects.Close)
	e.metadata = &http.Server{Handler: meta, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: maxHeaderBytes}
	lnMeta, err := net.Listen("tcp", taskMetadataAddr)
	if err != nil {
		return nil, fmt.Errorf("task metadata endpoint: %w", err)
	}
	e.lnMeta = connlimit.New(lnMeta, metadataMaxConns, metadataMaxConnsPerSource)
	lnIntro, err := net.Listen("tcp", introspectionAddr)
	if err != nil {
		lnMeta.Close()
		return nil, fmt.Errorf("introspection endpoint: %w", err)
	}
	e.lnIntro = dualtls.Listener{
		Listener: connlimit.New(lnIntro, introspectionMaxConns, introspectionMaxConnsPerSource),
		Config:   tlsConfig,
	}
	if cfg.PrometheusMetricsEnabled.Enabled() {
		lnMetrics, err := net.Listen("tcp", metricsAddr())
		if err != nil {
			lnMeta.Close()
			lnIntro.Close()
			return nil, fmt.Errorf("prometheus metrics endpoint (ECS_ENABLE_PROMETHEUS_METRICS): %w", err)
		}
		e.lnMetrics = connlimit.New(lnMetrics, metricsMaxConns, metricsMaxConnsPerSource)
		e.metrics = &http.Server{Handler: prommetrics.Handler(d.metrics, log.WithName("metrics")),
			ReadTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second, ReadHeaderTimeout: 5 * time.Second,
			MaxHeaderBytes: maxHeaderBytes}
		log.Info("serving Prometheus metrics", "address", metricsAddr(), "path", prommetrics.Path)
	}
	return e, nil
}

// apiToken loads the object API's bearer token, creating it on first start. An agent that
// cannot keeps its object API closed (the zero token admits nobody) and says why; /v1 and
// the task endpoints work regardless.
func apiToken(cfg *config.Config, log logr.Logger) bearer.Token {
	if cfg.APITokenFile == "" {
		log.Info("ECSD_API_TOKEN_FILE is empty: the object API and pprof answer nobody")
		return bearer.Token{}
	}
	b, err := secretfile.LoadOrCreate(cfg.APITokenFile, func() ([]byte, error) { return secretfile.Token(apiTokenBytes) })
	if err != nil {
		log.Error(err, "cannot load the object API token: the object API and pprof answer nobody", "file", cfg.APITokenFile)
		return bearer.Token{}
	}
	return bearer.New(secretfile.TrimToken(b))
}

// apiTLS is the introspection port's TLS configuration: the self-signed certificate next to
// the token file (api.crt, api.key), made on first start.
func apiTLS(cfg *config.Config) (*tls.Config, error) {
	if cfg.APITokenFile == "" {
		return nil, errors.New("no ECSD_API_TOKEN_FILE to keep the certificate beside")
	}
	certPath, keyPath := config.APICertFiles(cfg.APITokenFile)
	cert, _, err := dualtls.LoadOrCreate(certPath, keyPath, time.Now())
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// run serves until ctx ends, then shuts the servers down.
func (e *endpoints) run(ctx context.Context) error {
	errc := make(chan error, 3)
	go func() { errc <- e.introspection.Serve(e.lnIntro) }()
	go func() { errc <- e.metadata.Serve(e.lnMeta) }()
	if e.metrics != nil {
		go func() { errc <- e.metrics.Serve(e.lnMetrics) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("endpoint server: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = e.introspection.Shutdown(sctx)
	_ = e.metadata.Shutdown(sctx)
	if e.metrics != nil {
		_ = e.metrics.Shutdown(sctx)
	}
	return ctx.Err()
}

// newSampler makes the agent's one container sampler over the store's cache-backed client.
// It samples every 5 s, or every ECS_POLLING_METRICS_WAIT_DURATION with ECS_POLL_METRICS=true,
// for TCS and the task metadata endpoint alike, as the reference agent's one stats engine
// does.
func newSampler(cfg *config.Config, st *store.Store, rt stats.StatsSource, log logr.Logger) (*stats.Sampler, error) {
	interval := time.Duration(0) // the sampler's default
	if cfg.PollMetrics.Enabled() {
		interval = cfg.PollingMetricsWaitDuration
	}
	s, err := stats.New(stats.Options{Reader: st.Client(), Runtime: rt, Interval: interval, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("stats sampler: %w", err)
	}
	return s, nil
}
