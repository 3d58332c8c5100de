package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// newCompletionCmd prints a shell completion script. The scripts call back into ecsctl
// (cobra's __complete), so kinds and object names complete from the live server.
func newCompletionCmd(s genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Print a completion script for bash, zsh or fish. Kinds and object names complete from
the server given by --server (or ECSCTL_SERVER).`,
		Example: `  source <(ecsctl completion bash)
  ecsctl completion zsh > "${fpath[1]}/_ecsctl"
  ecsctl completion fish > ~/.config/fish/completions/ecsctl.fish`,
		Args:                  cobra.ExactArgs(1),
		ValidArgs:             []string{"bash", "zsh", "fish"},
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(s.Out, true)
			case "zsh":
				return root.GenZshCompletion(s.Out)
			case "fish":
				return root.GenFishCompletion(s.Out, true)
			}
			return fmt.Errorf("unsupported shell %q: want bash, zsh or fish", args[0])
		},
	}
}
