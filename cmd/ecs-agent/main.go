// Command ecs-agent is ecsd's Amazon ECS container agent: it mirrors the tasks ECS wants on
// this instance into typed objects and runs them on containerd through reconcilers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ecsd/ecsd/internal/selfupdate"
	"github.com/ecsd/ecsd/internal/selfupdate/install"
	"github.com/ecsd/ecsd/localplane"
)

// Exit codes shared with systemd's RestartPreventExitStatus=5 (spec §1); 42 after a
// performed update is install.ExitUpdate.
const (
	exitOK       = 0
	exitError    = 1
	exitTerminal = 5
)

func main() {
	os.Exit(run())
}

func run() int {
	tuneGC()
	fs := flag.NewFlagSet("ecs-agent", flag.ContinueOnError)
	var o options
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVar(&o.local, "local", false, "run without AWS: embed a local ECS control plane and register with it")
	fs.StringVar(&o.localAddr, "local-api", localplane.DefaultAPIAddr, "with --local: loopback address of the local control plane's ECS API (port 0: any free port)")
	fs.StringVar(&o.runDir, "run", "", "with --local: register and run each task definition (*.json, RegisterTaskDefinition input) in this directory unless its family already runs")
	fs.StringVar(&o.acsTasksDir, "acs-tasks", "", "debugging: write the ACS task JSON files (*.json) of this directory straight to the engine")
	fs.StringVar(&o.loglevel, "loglevel", "", "log level (crit, error, warn, info, debug); wins over ECS_LOGLEVEL")
	fs.BoolVar(&o.printConfig, "print-config", false, "print the effective configuration (secrets redacted) and exit")
	fs.BoolVar(&o.ecsInitDefaults, "ecs-init-defaults", false, "apply the ECS-optimized AMI's defaults that the reference ecs-init gives its agent (task IAM roles, awslogs, checkpoint, ...) to variables neither the environment nor ecs.config set; the systemd unit passes it")
	fs.BoolVar(&o.healthcheck, "healthcheck", false, "ask the running agent for its health and exit: 0 healthy (it answers and ACS is connected, or has been disconnected for less than ECSD_HEALTHCHECK_ACS_GRACE), 1 not")
	fs.BoolVar(&o.checkState, "check-state", false, "print what the checkpoint (ECS_DATADIR/ecsd.db, or the file given as argument) holds and whether it is sound, without modifying it, and exit: 0 sound, 1 damaged, 2 unreadable")
	return runFlags(fs, &o, os.Args[1:])
}

// runFlags parses args into o and runs what they ask for.
func runFlags(fs *flag.FlagSet, o *options, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			// -h/--help asked for the usage, which the flag set printed: not an error.
			return exitOK
		}
		// An unknown or malformed flag is a terminal error, as in the reference agent.
		return exitTerminal
	}
	if o.version {
		fmt.Println(versionString())
		return exitOK
	}
	if o.healthcheck {
		return healthcheck(context.Background(), os.Stdout, os.Stderr)
	}
	if o.checkState {
		return checkState(context.Background(), os.Stdout, fs.Args())
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "ecs-agent: unexpected arguments %q\n", fs.Args())
		return exitTerminal
	}
	if o.local {
		// Before anything is set up: a plane on a public address is never what is wanted.
		if _, err := localplane.LoopbackListenAddr(o.localAddr); err != nil {
			fmt.Fprintf(os.Stderr, "ecs-agent: --local-api: %v\n", err)
			return exitTerminal
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := runAgent(ctx, *o); err != nil {
		if errors.Is(err, selfupdate.ErrUpdateReady) {
			// Not a failure: ecs-init installs the update at the next start.
			fmt.Fprintf(os.Stderr, "ecs-agent: exiting with status %d: %v\n", install.ExitUpdate, err)
			return install.ExitUpdate
		}
		fmt.Fprintf(os.Stderr, "ecs-agent: %v\n", err)
		if errors.Is(err, errTerminal) {
			return exitTerminal
		}
		return exitError
	}
	return exitOK
}
