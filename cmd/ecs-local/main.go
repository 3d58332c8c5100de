// Command ecs-local runs ecsd's local ECS control plane on its own: the ECS API, ACS and
// TCS that `ecs-agent --local` embeds, served on a loopback address so that several
// agents of the machine (each in its own network namespace, say) register with one local
// cluster and RunTask places tasks across them. It is a development emulator, not a
// scheduler: clusters that outgrow one machine run ecsd under real ECS.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/logging"
	"github.com/ecsd/ecsd/internal/version"
	"github.com/ecsd/ecsd/localplane"
)

// Exit codes: as ecs-agent's, 5 is a configuration error a restart cannot cure.
const (
	exitOK       = 0
	exitError    = 1
	exitTerminal = 5
)

// DefaultStateDir is where the plane keeps its state unless --state-dir says otherwise.
const DefaultStateDir = "/var/lib/ecs-local"

// stateFile is the plane's state file in the state directory.
const stateFile = "local-control-plane.json"

// errUsage marks a configuration error (exit 5).
var errUsage = errors.New("usage")

type options struct {
	version         bool
	listen          string
	stateDir        string
	credentialsFile string
	region          string
	accountID       string
	clusters        clusterList
	loglevel        string
}

// clusterList is a repeatable --cluster flag.
type clusterList []string

func (c *clusterList) String() string { return strings.Join(*c, ",") }
func (c *clusterList) Set(v string) error {
	*c = append(*c, v)
	return nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "ecs-local: %v\n", err)
			return exitTerminal
		}
		return exitOK
	}
	if o.version {
		fmt.Fprintf(stdout, "ecsd ecs-local %s (%s)\n", version.Version, version.GitHash)
		return exitOK
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "ecs-local: %v\n", err)
		if errors.Is(err, errUsage) || errors.Is(err, localplane.ErrNotLoopback) || errors.Is(err, localplane.ErrInvalidOptions) {
			return exitTerminal
		}
		return exitError
	}
	return exitOK
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("ecs-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	credsDefault := os.Getenv("ECSD_LOCAL_CREDENTIALS_FILE")
	if credsDefault == "" {
		credsDefault = config.DefaultLocalCredentialsFile
	}
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.StringVar(&o.listen, "listen", localplane.DefaultAPIAddr, "loopback address to serve the ECS API, ACS and TCS on (port 0: any free port)")
	fs.StringVar(&o.stateDir, "state-dir", DefaultStateDir, "directory of the plane's state ("+stateFile+"): clusters, instances, task definitions and tasks survive a restart")
	fs.StringVar(&o.credentialsFile, "credentials-file", credsDefault, "the plane's access file (endpoint, region, key pair; root only), created on the first start; what `ecsctl local env --local-credentials` reads; env ECSD_LOCAL_CREDENTIALS_FILE")
	fs.StringVar(&o.region, "region", localplane.DefaultRegion, "region of the plane's ARNs (signatures for any region are accepted)")
	fs.StringVar(&o.accountID, "account-id", localplane.DefaultAccountID, "account ID of the plane's ARNs")
	fs.Var(&o.clusters, "cluster", "cluster to create at start if missing (repeatable; default: default)")
	fs.StringVar(&o.loglevel, "loglevel", "info", "log level (crit, error, warn, info, debug)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if len(o.clusters) == 0 {
		o.clusters = clusterList{"default"}
	}
	return o, nil
}

// serve runs the plane until ctx ends.
func serve(ctx context.Context, o options, stdout, stderr io.Writer) error {
	log, closeLog, err := logging.New(logging.Options{Level: o.loglevel, Console: stderr})
	if err != nil {
		return fmt.Errorf("%w: --loglevel: %w", errUsage, err)
	}
	defer func() { _ = closeLog() }()
	if o.stateDir == "" {
		return fmt.Errorf("%w: --state-dir is empty", errUsage)
	}
	if o.credentialsFile == "" {
		return fmt.Errorf("%w: --credentials-file is empty", errUsage)
	}
	if err := os.MkdirAll(o.stateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	plane, err := localplane.Serve(ctx, localplane.ServeOptions{
		Listen:          o.listen,
		CredentialsFile: o.credentialsFile,
		Region:          o.region,
		AccountID:       o.accountID,
		Clusters:        o.clusters,
		StatePath:       filepath.Join(o.stateDir, stateFile),
		Logger:          log.WithName("local"),
	})
	if err != nil {
		return err
	}
	defer plane.Stop()
	// What a user needs to join agents: where the plane is and where its key pair is
	// (never the secret itself, which stays in the root-only file).
	fmt.Fprintf(stdout, "ecs-local: serving the ECS API, ACS and TCS on %s (region %s)\n", plane.Access.Endpoint, plane.Access.Region)
	fmt.Fprintf(stdout, "ecs-local: key pair in %s (root only); agents join with ECS_BACKEND_HOST=%s, AWS_DEFAULT_REGION=%s and that key pair as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (ecsctl local env --local-credentials %s prints them)\n",
		o.credentialsFile, plane.Access.Endpoint, plane.Access.Region, o.credentialsFile)
	<-ctx.Done()
	log.Info("stopping the local ECS control plane")
	return nil
}
