package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/selfupdate/install"
)

// agentName is the package's agent binary, installed next to ecs-init.
const agentName = "ecs-agent"

// startPlan is what `ecs-init start` executes.
type startPlan struct {
	// path, argv and env are execve's arguments.
	path string
	argv []string
	env  []string
	// fallback is the package's agent, tried when path cannot be executed.
	fallback string
}

// start installs an update the agent left ready (internal/selfupdate/install), picks the
// agent version to run and replaces itself with it. exec keeps the process: the unit's main
// process is the agent, so Type=notify, NotifyAccess=main, the watchdog and
// KillMode=process work as when systemd ran the agent directly.
//
// The "package's agent" is the host binary (--agent), or, with ECSD_AGENT_IMAGE, the agent
// copied out of that image (agentFromImage: loaded from the cache as the reference's
// pre-start does, else pulled). A self-update applies on top of either, and a changed
// package agent (a package upgrade, a new image) wins over it.
func start(ctx context.Context, args []string, env func(string) (string, bool), stdout, stderr io.Writer) error {
	plan, err := planStart(ctx, args, env, os.Environ(), stdout, stderr)
	if err != nil {
		return err
	}
	err = syscall.Exec(plan.path, plan.argv, plan.env)
	if plan.fallback != "" && plan.fallback != plan.path {
		// An installed update that cannot even be executed (a noexec mount, a damaged
		// file): the package's agent is better than a restart loop.
		fmt.Fprintf(stderr, "ecs-init: start: cannot execute the updated agent %s (%v); running the package's %s\n", plan.path, err, plan.fallback)
		plan.argv[0] = plan.fallback
		err = syscall.Exec(plan.fallback, plan.argv, withoutTrial(plan.env))
	}
	return fmt.Errorf("execute %s: %w", plan.argv[0], err)
}

// planStart does everything start does but the exec. environ is the environment the agent
// inherits.
func planStart(ctx context.Context, args []string, env func(string) (string, bool), environ []string, stdout, stderr io.Writer) (startPlan, error) {
	fs := flag.NewFlagSet("ecs-init start", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	agent := fs.String("agent", "", "the package's ecs-agent (default: "+agentName+" next to ecs-init); unused with ECSD_AGENT_IMAGE")
	root := fs.String("versions-dir", install.DefaultRoot, "where self-updates are installed")
	img := defaultImageFlags()
	img.register(fs, true)
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, "usage: ecs-init start [flags] [-- agent arguments]")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return startPlan{}, err
	} else if err != nil {
		return startPlan{}, terminalf("%w (agent arguments go after --)", err)
	}
	if *agent == "" {
		exe, err := os.Executable()
		if err != nil {
			return startPlan{}, terminalf("cannot find ecs-init's own path to find %s next to it (give --agent): %w", agentName, err)
		}
		*agent = filepath.Join(filepath.Dir(exe), agentName)
	}
	if !filepath.IsAbs(*agent) || !filepath.IsAbs(*root) {
		return startPlan{}, terminalf("--agent and --versions-dir must be absolute paths")
	}
	if err := img.check(); err != nil {
		return startPlan{}, err
	}
	agentArgs := fs.Args()
	if len(agentArgs) > 0 && !slices.Contains(args, "--") {
		return startPlan{}, terminalf("unexpected arguments %q (the agent's arguments go after --)", agentArgs)
	}
	if len(agentArgs) == 0 {
		// What the systemd unit gives the agent: ecs-init's agent runs with its defaults.
		agentArgs = []string{"--ecs-init-defaults"}
	}
	log, closeLog := newLogger(env, stderr)
	defer closeLog()

	// The same configuration the agent reads, for the one setting ecs-init needs here. A
	// broken configuration does not stop the start: the agent reports it, with its exit
	// status.
	updateDir := ""
	cfg, _, err := config.Load(ctx, config.WithEnv(env), config.WithEnvDefaults(config.ECSInitDefaults("")))
	if err != nil {
		log.Info("cannot read the configuration; not looking for an agent image or update", "error", oneLine(err))
	} else {
		updateDir = cfg.UpdateDownloadDir
		if cfg.AgentImage != "" {
			// No fallback to a host binary: the operator asked for the image's agent.
			if *agent, err = agentFromImage(ctx, cfg, img, log); err != nil {
				return startPlan{}, err
			}
		}
	}
	res, err := install.Prepare(ctx, install.Options{Root: *root, UpdateDir: updateDir, PackagedAgent: *agent, Log: log})
	if err != nil {
		log.Error(err, "cannot use the self-update directory; running the package's agent", "dir", *root)
		res = install.Result{Agent: *agent, Version: install.Packaged}
	}
	agentEnv := withoutTrial(environ)
	if res.TrialFile != "" {
		agentEnv = append(agentEnv, install.TrialEnv+"="+res.TrialFile)
	}
	log.Info("starting the agent", "agent", res.Agent, "version", res.Version, "onTrial", res.TrialFile != "")
	return startPlan{path: res.Agent, argv: append([]string{res.Agent}, agentArgs...), env: agentEnv, fallback: *agent}, nil
}

// withoutTrial is env without install.TrialEnv, which only ecs-init may hand the agent.
func withoutTrial(env []string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, install.TrialEnv+"=") {
			out = append(out, kv)
		}
	}
	return out
}
