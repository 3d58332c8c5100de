package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/hostsetup"
)

// Defaults of the global flags. The object API lives on the agent's introspection port.
const (
	defaultServer = "http://127.0.0.1:" + hostsetup.IntrospectionPort
	envServer     = "ECSCTL_SERVER"
)

// run executes ecsctl with args and returns the process exit code. Errors are printed
// here, once, in kubectl's "error: …" style, so every command can just return them.
func run(ctx context.Context, args []string, s genericiooptions.IOStreams) int {
	cmd := newRootCmd(s)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return 0 // interrupted by the user: not a failure
		}
		var ec exitCodeError
		if errors.As(err, &ec) {
			return ec.code // exec's command failed: its exit code, as kubectl exec
		}
		fmt.Fprintln(s.ErrOut, formatError(err))
		return 1
	}
	return 0
}

// newRootCmd builds the command tree. Everything it needs comes from its arguments and
// the environment, so tests can run several in one process.
func newRootCmd(s genericiooptions.IOStreams) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "ecsctl",
		Short: "ecsctl inspects and drives an ecsd agent, kubectl style",
		Long: `ecsctl reads the objects of an ecsd agent (tasks, containers, images, attachments,
the instance) through its Kubernetes-style object API, streams container logs, and
runs and stops tasks and updates the agent through the agent's local ECS control plane.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			g.ctx = cmd.Context()
		},
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	g.addFlags(root)

	root.AddCommand(
		newGetCmd(g, s),
		newDescribeCmd(g, s),
		newLogsCmd(g, s),
		newExecCmd(g, s),
		newRunCmd(g, s),
		newStopCmd(g, s),
		newUpdateAgentCmd(g, s),
		newLocalCmd(s),
		newVersionCmd(g, s),
		newTokenCmd(g, s),
		newKubeconfigCmd(g, s),
		newCompletionCmd(s),
	)
	return root
}

// globalOptions are the flags every subcommand shares.
type globalOptions struct {
	server         string
	namespace      string
	requestTimeout string
	token          string
	tokenFile      string

	// ctx is the command's context: interrupting ecsctl ends every request.
	ctx    context.Context
	getter *clientGetter
}

func (g *globalOptions) addFlags(cmd *cobra.Command) {
	server := os.Getenv(envServer)
	if server == "" {
		server = defaultServer
	}
	f := cmd.PersistentFlags()
	f.StringVar(&g.server, "server", server, "address of the agent's object API (introspection port); env "+envServer)
	f.StringVarP(&g.namespace, "namespace", "n", api.Namespace, "namespace of the objects")
	f.StringVar(&g.requestTimeout, "request-timeout", "0",
		`how long to wait for a single request before giving up: a duration ("5s", "1m") or seconds; 0 waits forever`)
	g.addTokenFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("namespace", cobra.FixedCompletions([]string{api.Namespace}, cobra.ShellCompDirectiveNoFileComp))
}

// clients returns the (lazily built, then shared) clients for the object API.
func (g *globalOptions) clients() (*clientGetter, error) {
	if g.getter != nil {
		return g.getter, nil
	}
	timeout, err := parseTimeout(g.requestTimeout)
	if err != nil {
		return nil, err
	}
	ctx := g.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	tok, err := g.bearerToken()
	if err != nil {
		return nil, err
	}
	certPath, _ := config.APICertFiles(g.tokenFile)
	g.getter, err = newClientGetter(ctx, g.server, timeout, tok, certPath)
	return g.getter, err
}
