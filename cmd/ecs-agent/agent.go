package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/controllers"
	"github.com/ecsd/ecsd/controllers/datadir"
	"github.com/ecsd/ecsd/controlplane/acs"
	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/envfiles"
	"github.com/ecsd/ecsd/internal/awsclient"
	"github.com/ecsd/ecsd/internal/logging"
	"github.com/ecsd/ecsd/internal/lsm"
	"github.com/ecsd/ecsd/internal/selfupdate"
	"github.com/ecsd/ecsd/internal/selfupdate/install"
	"github.com/ecsd/ecsd/internal/version"
	"github.com/ecsd/ecsd/internal/watchdog"
	"github.com/ecsd/ecsd/runtime/containerd"
	"github.com/ecsd/ecsd/runtime/hostfs"
	"github.com/ecsd/ecsd/runtime/registry"
	"github.com/ecsd/ecsd/secrets"
	"github.com/ecsd/ecsd/store"
)

// awsRequestTimeout bounds one attempt of a request the agent makes to AWS for a task
// (ECR token, registry secret, task secrets, environment files).
const awsRequestTimeout = 10 * time.Second

// errTerminal marks errors after which systemd must not restart the agent (exit 5).
var errTerminal = errors.New("terminal error")

type options struct {
	version     bool
	local       bool
	localAddr   string
	runDir      string
	acsTasksDir string
	loglevel    string
	printConfig bool
	checkState  bool
	healthcheck bool
	// ecsInitDefaults is set when systemd runs the agent after ecs-init (packaging/systemd).
	ecsInitDefaults bool
}

func versionString() string {
	return fmt.Sprintf("ecsd ecs-agent %s (%s)", version.Version, version.GitHash)
}

// runAgent wires config → logging → store → runtime → engine and runs until ctx ends.
// Task containers are left running on exit; the next start adopts them.
func runAgent(ctx context.Context, o options) error {
	var md = imdsClient(ctx, o.local)
	loadOpts := []config.Option{}
	if o.ecsInitDefaults {
		loadOpts = append(loadOpts, config.WithEnvDefaults(config.ECSInitDefaults("")))
	}
	if !o.local {
		// On EC2 the region falls back to IMDS, and without one nothing can be signed.
		loadOpts = append(loadOpts, config.WithRegionFallback(imdsRegion(md)), config.RequireRegion())
	}
	cfg, warnings, err := config.Load(ctx, loadOpts...)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if o.printConfig {
		fmt.Print(cfg.String())
		return nil
	}
	level := cfg.LogLevel
	if o.loglevel != "" {
		level = o.loglevel
	}
	log, closeLog, err := logging.New(logging.Options{
		Level:         level,
		FileLevel:     cfg.LogLevelOnInstance,
		File:          cfg.LogFile,
		Format:        cfg.LogOutputFormat,
		RolloverType:  cfg.LogRolloverType,
		MaxFileSizeMB: cfg.LogMaxFileSizeMB,
		MaxRollCount:  cfg.LogMaxRollCount,
	})
	if err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	defer closeLog()
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	for _, w := range warnings {
		log.Info("configuration warning", "warning", w.String())
	}
	log.Info("starting", "version", versionString(), "local", o.local, "cluster", cfg.Cluster)
	if cfg.External.Enabled() {
		// ECS Anywhere: the host is not an EC2 instance, and nothing may ask IMDS.
		md = nil
	}

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	scheme := k8sruntime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		return err
	}
	storeOpts := []store.Option{store.WithLogger(log.WithName("store"))}
	if cfg.Checkpoint.Enabled() {
		// Without a checkpoint (ECS_CHECKPOINT=false, or no ECS_DATADIR) every start is a new
		// instance, as with the reference agent.
		storeOpts = append(storeOpts, store.WithCheckpoint(filepath.Join(cfg.DataDir, checkpointFile)))
	}
	st, err := store.New(ctx, scheme, storeOpts...)
	if err != nil {
		return fmt.Errorf("open state: %w", err)
	}
	defer st.Close()

	if err := useHelpersDir(cfg, log); err != nil {
		return err
	}
	loggerPath, err := findLogger(cfg.LoggerPath)
	if err != nil {
		return err
	}
	initPath, err := findInit(cfg.InitPath, log)
	if err != nil {
		return err
	}
	efsErr := hostfs.Volumes{}.Supports("nfs4", false)
	if efsErr != nil {
		log.Info("EFS volumes are not available on this host; the efs attribute is not registered", "reason", efsErr.Error())
	}
	host := probeHost(lsm.Default(), initPath, efsErr == nil, taskCgroups(cfg).MissingControllers())
	for _, w := range hostWarnings(cfg, host) {
		log.Info("configuration warning", "warning", w)
	}
	rtOpts := []containerd.Option{containerd.WithLogger(log.WithName("runtime")), containerd.WithLogBinary(loggerPath, 0),
		containerd.WithRegistryConfigPath(cfg.RegistryConfigPath)}
	if initPath != "" {
		rtOpts = append(rtOpts, containerd.WithInitPath(initPath))
	}
	rt, err := containerd.New(ctx, cfg.ContainerdAddress, cfg.ContainerdNamespace, rtOpts...)
	if err != nil {
		return fmt.Errorf("containerd at %s: %w", cfg.ContainerdAddress, err)
	}
	defer rt.Close()

	network, err := startNetwork(ctx, cfg, log.WithName("network"))
	if err != nil {
		return err
	}
	defer network.Close()

	creds := credentials.NewManager()
	var be backend
	if o.local {
		var stopPlane func()
		if be, stopPlane, err = startLocalControlPlane(ctx, o.localAddr, cfg, log.WithName("local")); err != nil {
			return err
		}
		defer stopPlane()
	} else {
		be.region, be.endpoint = cfg.AWSRegion, cfg.APIEndpoint
		if be.creds, err = instanceCredentials(ctx, cfg, log); err != nil {
			return err
		}
	}
	var id identity
	id.document, id.signature, id.instanceID = instanceIdentity(ctx, md)
	// One configuration for every AWS client the agent makes for tasks (ECR, Secrets
	// Manager, SSM, S3) and for the instance's EC2 tags: the SDK's endpoint settings
	// (AWS_ENDPOINT_URL[_<SERVICE>]) apply.
	awsClients, err := awsclient.New(ctx, awsRequestTimeout)
	if err != nil {
		return err
	}
	if err := waitForWarmPool(ctx, cfg, md, log.WithName("warm-pool")); err != nil {
		if ctx.Err() != nil {
			log.Info("stopping before registration completed")
			return nil
		}
		return err
	}
	if id.ec2Tags, err = ec2InstanceTags(ctx, cfg, awsClients, be, id.instanceID, o.local, log.WithName("instance-tags")); err != nil {
		if ctx.Err() != nil {
			log.Info("stopping before registration completed")
			return nil
		}
		return err
	}
	runtimeVersion := "containerd"
	if v, err := rt.Version(ctx); err == nil {
		runtimeVersion = "containerd " + v
	}
	// The one container sampler: TCS publishes from it and the task metadata endpoint
	// serves its documents (internal/stats).
	sampler, err := newSampler(cfg, st, rt, log.WithName("stats"))
	if err != nil {
		return err
	}
	cp, err := connect(ctx, be, cfg, st, rt, sampler, creds, runtimeVersion, id, host, log)
	if err != nil {
		if ctx.Err() != nil {
			// SIGTERM during registration is a normal stop, not a failure.
			log.Info("stopping before registration completed")
			return nil
		}
		return err
	}

	opts := controllers.OptionsFrom(cfg)
	if err := blockHostIMDS(ctx, cfg, network, log.WithName("network")); err != nil {
		return err
	}
	opts.Cleanup.RequiresReport = true
	opts.Create.CgroupV2 = taskCgroups(cfg).Unified()
	if opts.Create.PropagateTaskMemoryV2 && !opts.Create.CgroupV2 {
		log.Info("ECS_PROPAGATE_TASK_MEMORY_LIMIT_CGROUPV2 has no effect: this host does not run the unified cgroup v2 hierarchy",
			"cgroupMount", taskCgroups(cfg).Mount)
	}
	opts.Namespaces.HolderBinary = initPath
	deps := controllers.Deps{Runtime: rt, Network: network, Cgroups: taskCgroups(cfg), HostFS: hostfs.Host{}, Volumes: hostfs.Volumes{}, Security: lsm.Default()}
	logSrc := &logCredentialsSource{reader: st.DirectClient(), creds: creds,
		executionRole: cfg.OverrideAWSLogsExecutionRole.Enabled(), instance: be.creds}
	if logSrc.instance == nil {
		// Local mode: the instance credentials are the agent's environment's, if any.
		if p, err := instanceCredentials(ctx, cfg, log); err == nil {
			logSrc.instance = p
		}
	}
	facts := factsFrom(id.document)
	opts.Metadata.Instance = metadataInstance(cfg, cp.reg.ContainerInstanceARN, facts)
	// Secret values (environment variables and log driver options) live in this resolver's
	// memory only; the logger asks it for log driver secrets (LogDriverSecrets).
	secretValues := secrets.New(secrets.Options{AWS: awsClients, Credentials: creds, Region: cfg.AWSRegion,
		Log: log.WithName("secrets")})
	deps.Inputs = &taskInputs{secrets: secretValues, files: envfiles.New(awsClients, nil), region: cfg.AWSRegion}
	// The loggers ask the agent for credentials and for log-driver secretOptions, which
	// never go into their arguments.
	logServer := setupLogCredentials(cfg, loggerPath, logSrc, secretValues, &opts.Create, log.WithName("logger-credentials"))
	defer logServer.Close()
	deps.TaskCleaned = func(taskARN string) {
		creds.RemoveTask(taskARN)
		secretValues.Forget(taskARN)
		if err := cp.tombstones.Add(taskARN); err != nil {
			log.Error(err, "cannot record the cleaned-up task", "task", taskARN)
		}
	}
	ropts := []registry.Option{
		registry.WithAWS(awsClients),
		registry.WithCredentials(creds),
		registry.WithRegion(cfg.AWSRegion),
		registry.WithLogger(log.WithName("registry")),
	}
	if !o.local {
		// ECR pulls without an execution role use the instance's credentials.
		ropts = append(ropts, registry.WithAgentCredentials(be.creds))
	}
	deps.Auth = registry.New(ropts...)
	// Before ACS can send anything: running containers whose objects the checkpoint lost (a
	// damaged one moved aside, records quarantined) get them back, so they keep running,
	// are reported, and a payload for them finds them. The engine repeats this every relist.
	eng := controllers.New(st.DirectClient(), st.Client(), st.Cache(), deps, opts, log.WithName("engine"))
	if res, err := eng.Adopt(ctx); err != nil {
		log.Error(err, "adopting containers from containerd failed; the engine retries at every relist")
	} else if res.Adopted > 0 {
		log.Info("adopted tasks from containerd whose objects the checkpoint had lost", "tasks", res.Adopted)
	}
	dataDir := datadir.New(st.Client(), st.DirectClient(), st, datadir.Options{DataDir: cfg.DataDir,
		Instance: keyOf(instanceName), Log: log.WithName("datadir")})
	var gatherer prometheus.Gatherer
	if cfg.PrometheusMetricsEnabled.Enabled() {
		if gatherer, err = startMetrics(ctx, st, cp, dataDir); err != nil {
			return fmt.Errorf("prometheus metrics: %w", err)
		}
	}
	ep, err := openEndpoints(endpointDeps{cfg: cfg, st: st, stats: sampler, creds: creds, be: be,
		instanceARN: cp.reg.ContainerInstanceARN, facts: facts,
		cgroups: taskCgroups(cfg), acs: cp.acsState, metrics: gatherer, exec: rt}, log.WithName("endpoints"))
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return ep.run(gctx) })
	g.Go(func() error { sampler.Run(gctx); return nil })
	g.Go(func() error { return st.Cache().Start(gctx) })
	g.Go(func() error { return eng.Run(gctx) })
	g.Go(func() error { return cp.reporter.Run(gctx) })
	g.Go(func() error { return cp.session.Run(gctx) })
	g.Go(func() error { return cp.updater.Run(gctx) })
	g.Go(func() error { return cp.telemetry.Run(gctx) })
	if drain := spotDraining(cfg, md, cp, log.WithName("spot")); drain != nil {
		g.Go(func() error { drain(gctx); return nil })
	}
	g.Go(func() error {
		if !st.Cache().WaitForCacheSync(gctx) {
			return nil
		}
		return dataDir.Run(gctx)
	})
	if o.acsTasksDir != "" {
		g.Go(func() error { return runACSTaskFiles(gctx, cp.applier, o.acsTasksDir, cfg.Cluster, log) })
	}
	if o.local && o.runDir != "" {
		g.Go(func() error { return runSamples(gctx, cp.client, cfg.Cluster, o.runDir, log.WithName("samples")) })
	}
	go trimWhenIdle(gctx, defaultTrimTiming, st.ResourceVersion, log.WithName("memory"))
	if timeout, ok, err := watchdog.Timeout(os.Getenv, os.Getpid()); err != nil {
		log.Error(err, "systemd's watchdog settings are malformed: not notifying it")
	} else if ok {
		g.Go(func() error {
			// The check reads the store's cache, which starts above: checking before it has
			// synced failed at every start (an error line, and the first ping a period late).
			// A cache that never syncs never pings, and systemd restarts the agent.
			if !st.Cache().WaitForCacheSync(gctx) {
				return nil
			}
			return watchdog.Run(gctx, watchdog.Options{Timeout: timeout, Check: storeAnswers(st), Notify: sdNotify,
				Log: log.WithName("watchdog")})
		})
	}
	if err := sdNotify("READY=1\nSTATUS=registered as " + cp.reg.ContainerInstanceARN + "; serving " + introspectionAddr + " and " + taskMetadataAddr); err != nil {
		log.Info("cannot notify systemd", "error", err.Error())
	}
	confirmUpdate(log)
	err = g.Wait()
	if errors.Is(err, selfupdate.ErrUpdateReady) {
		log.Info("stopping for the agent update; task containers keep running", "exitStatus", install.ExitUpdate)
		return err
	}
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		releaseIdleHostRules(context.WithoutCancel(ctx), rt, network, log.WithName("network"))
		log.Info("stopping; task containers keep running")
		return nil
	}
	return err
}

// confirmUpdate tells ecs-init that this version came up: an updated agent runs on trial
// (install.TrialEnv names its trial file) until it is registered and serving, and
// ecs-init rolls it back if it restarts too often before that.
func confirmUpdate(log logr.Logger) {
	path := os.Getenv(install.TrialEnv)
	if path == "" {
		return
	}
	switch err := os.Remove(path); {
	case err == nil:
		log.Info("this updated agent is registered and serving: ecs-init keeps it", "version", version.Version)
	case !errors.Is(err, os.ErrNotExist):
		log.Error(err, "cannot confirm the update to ecs-init; it may roll this version back after a few restarts", "trialFile", path)
	}
}

// runACSTaskFiles applies the ACS task JSON files of dir as one ACS payload each would be
// applied (the same applier, so the same translation, validation and forward-only
// desired status), bypassing the control plane: a debugging aid (--acs-tasks) that the
// crash tests also use to place tasks without a backend round trip. ECS never hears of
// these tasks; their state changes are refused as unknown and dropped.
func runACSTaskFiles(ctx context.Context, a acs.Applier, dir, cluster string, log logr.Logger) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var t payload.Task
		if err := jsonUnmarshalStrict(data, &t); err != nil {
			log.Error(err, "skipping a file that is not an ACS task", "file", f)
			continue
		}
		if t.Arn == "" {
			t.Arn = "arn:aws:ecs:local:000000000000:task/" + cluster + "/" + strings.TrimSuffix(filepath.Base(f), ".json")
		}
		m := &payload.PayloadMessage{MessageID: f, ClusterArn: cluster, ContainerInstanceArn: "local", Tasks: []payload.Task{t}}
		if err := a.ApplyPayload(ctx, m); err != nil {
			return fmt.Errorf("apply task from %s: %w", f, err)
		}
		log.Info("task accepted", "file", f, "task", t.Arn)
	}
	<-ctx.Done()
	return nil
}
