package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/hostsetup"
	"github.com/ecsd/ecsd/internal/logging"
)

// envBridge names the task bridge when --bridge is not given. It is ecsd-only: the
// reference's docker0 comes from Docker's own configuration.
const envBridge = "ECSD_BRIDGE_NAME"

// parseFlags parses a command's flags into settings seeded with the defaults and the
// environment. withRoot adds --root (pre-start only: post-stop touches no directory).
// Parse errors print nothing but the caller's one error line; -h prints the usage to stdout.
func parseFlags(cmd string, args []string, env func(string) (string, bool), stdout io.Writer, withRoot bool) (hostsetup.Settings, error) {
	s := hostsetup.DefaultSettings()
	if v, ok := env(envBridge); ok && v != "" {
		s.Bridge = v
	}
	fs := flag.NewFlagSet("ecs-init "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&s.Bridge, "bridge", s.Bridge, "task bridge whose containers may reach introspection (env "+envBridge+")")
	fs.StringVar(&s.Iptables, "iptables", s.Iptables, "iptables binary, a path or a name in PATH")
	fs.StringVar(&s.Ip6tables, "ip6tables", s.Ip6tables, "ip6tables binary; IPv6 rules are skipped when it is missing")
	fs.StringVar(&s.IP, "ip", s.IP, "ip(8) binary, used for the IPv6-only loopback route")
	if withRoot {
		fs.StringVar(&s.Root, "root", s.Root, "create the agent's directories below this directory instead of /")
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "usage: ecs-init %s [flags]\n", cmd)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return s, err
	} else if err != nil {
		return s, terminalf("%w", err)
	}
	if fs.NArg() > 0 {
		return s, terminalf("unexpected arguments %q", fs.Args())
	}
	return s, nil
}

// newLogger builds the structured logger from ECS_LOGLEVEL and ECS_LOG_OUTPUT_FORMAT. ecs-init
// logs to stderr only: under systemd that is the journal, next to the agent's own lines. A bad
// value must not stop the host set-up, so it falls back to the defaults and says so.
func newLogger(env func(string) (string, bool), stderr io.Writer) (logr.Logger, func() error) {
	get := func(k string) string { v, _ := env(k); return v }
	log, closeFn, err := logging.New(logging.Options{
		Level:   get("ECS_LOGLEVEL"),
		Format:  get("ECS_LOG_OUTPUT_FORMAT"),
		Console: stderr,
	})
	if err != nil {
		var err2 error
		log, closeFn, err2 = logging.New(logging.Options{Console: stderr})
		if err2 != nil {
			return logr.Discard(), func() error { return nil }
		}
		log.Info("logging settings ignored", "error", err.Error())
	}
	return log.WithName("ecs-init"), closeFn
}

// preStart loads the agent's configuration for the settings it shares with ecs-init (the
// same files and precedence as the agent) and prepares the host.
func preStart(ctx context.Context, args []string, env func(string) (string, bool), stdout, stderr io.Writer) error {
	s, err := parseFlags("pre-start", args, env, stdout, true)
	if err != nil {
		return err
	}
	log, closeLog := newLogger(env, stderr)
	defer closeLog()

	// No region fallback and no RequireRegion: host set-up needs neither, and ecs-init must
	// not call instance metadata. The ECS-optimized AMI's defaults, as the agent the unit
	// starts next applies them (ecs-agent --ecs-init-defaults): ECS_DATADIR and ECS_LOGFILE
	// among them decide which directories are made.
	cfg, warnings, err := config.Load(ctx, config.WithEnv(env), config.WithEnvDefaults(config.ECSInitDefaults("")))
	if err != nil {
		return terminalf("configuration: %w", err)
	}
	for _, w := range warnings {
		if relevant(w.Key) {
			log.Info("configuration warning", "warning", w.String())
		}
	}
	s.SkipLocalhostTrafficFilter = cfg.SkipLocalhostTrafficFilter.Enabled()
	s.AllowOffhostIntrospectionAccess = cfg.AllowOffhostIntrospectionAccess.Enabled()
	audit := cfg.CredentialsAuditLogFile
	if cfg.CredentialsAuditLogDisabled.Enabled() {
		audit = ""
	}
	s.Dirs = hostsetup.DefaultDirs(cfg.DataDir, cfg.LogFile, audit)

	log.Info("pre-start", "bridge", s.Bridge,
		"skipLocalhostTrafficFilter", s.SkipLocalhostTrafficFilter,
		"allowOffhostIntrospectionAccess", s.AllowOffhostIntrospectionAccess)
	if err := hostsetup.PreStart(ctx, log, s); err != nil {
		return err
	}
	log.Info("pre-start done")
	return nil
}

// relevant keeps ecs-init's log to the warnings about what it reads; the agent logs the rest
// when it loads the same configuration a moment later.
func relevant(key string) bool {
	switch key {
	case "ECS_SKIP_LOCALHOST_TRAFFIC_FILTER", "ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS",
		"ECS_DATADIR", "ECS_LOGFILE", "ECS_AUDIT_LOGFILE", "ECS_AUDIT_LOGFILE_DISABLED":
		return true
	}
	return strings.HasPrefix(key, "ECSD_CONFIG") || key == "ECS_AGENT_CONFIG_FILE_PATH"
}

// postStop undoes pre-start. It reads no configuration on purpose: it removes every rule
// pre-start could have added whatever the switches say, and a configuration broken since
// the start must not keep it from cleaning up.
func postStop(ctx context.Context, args []string, env func(string) (string, bool), stdout, stderr io.Writer) error {
	s, err := parseFlags("post-stop", args, env, stdout, false)
	if err != nil {
		return err
	}
	log, closeLog := newLogger(env, stderr)
	defer closeLog()
	log.Info("post-stop", "bridge", s.Bridge)
	if err := hostsetup.PostStop(ctx, log, s); err != nil {
		return err
	}
	log.Info("post-stop done")
	return nil
}
