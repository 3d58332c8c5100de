package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ecsd/ecsd/internal/version"
)

// serverVersionTimeout bounds the server lookup: version must answer even with no agent.
const serverVersionTimeout = 3 * time.Second

func newVersionCmd(g *globalOptions, s genericiooptions.IOStreams) *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client's version and, if it is reachable, the agent's",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(s.Out, "Client Version: %s (%s)\n", version.Version, version.GitHash)
			if clientOnly {
				return nil
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), serverVersionTimeout)
			defer cancel()
			md, err := agentMetadata(ctx, g)
			if err != nil {
				// Not an error: the client version is still useful without an agent.
				fmt.Fprintf(s.ErrOut, "Server Version: unavailable (%s: %v)\n", g.server, err)
				return nil
			}
			fmt.Fprintf(s.Out, "Server Version: %s\n", md.Version)
			return nil
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "print only the client's version")
	return cmd
}
