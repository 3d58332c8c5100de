package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/localplane"
	"github.com/ecsd/ecsd/localplane/access"
)

// envLocalCredentials names the local control plane's access file when it is not where
// `ecs-agent --local` keeps it by default (its ECSD_LOCAL_CREDENTIALS_FILE).
const envLocalCredentials = "ECSCTL_LOCAL_CREDENTIALS_FILE"

// addCredentialsFileFlag adds --local-credentials to cmd.
func addCredentialsFileFlag(cmd *cobra.Command, path *string) {
	def := os.Getenv(envLocalCredentials)
	if def == "" {
		def = config.DefaultLocalCredentialsFile
	}
	cmd.Flags().StringVar(path, "local-credentials", def,
		"the local control plane's endpoint, region and key pair, as ecs-agent --local writes them (root only); env "+envLocalCredentials)
	_ = cmd.MarkFlagFilename("local-credentials", "json")
}

// readAccessFile reads the access file, turning the usual failures into what the user can
// do about them.
func readAccessFile(path string) (access.File, error) {
	f, err := access.Read(path)
	switch {
	case err == nil:
		return f, nil
	case errors.Is(err, fs.ErrNotExist):
		return f, fmt.Errorf("%s does not exist: is ecs-agent --local running? It creates the local control plane's key pair there "+
			"on its first start (--local-credentials or %s name another file)", path, envLocalCredentials)
	case errors.Is(err, fs.ErrPermission):
		return f, fmt.Errorf("%s: permission denied: the local control plane's key pair is readable by root only; run ecsctl as root", path)
	}
	return f, fmt.Errorf("the local control plane's access file: %w", err)
}

// resolve fills what neither a flag nor the environment gave from the access file. The
// file is needed only for what is missing: with both keys given, an unreadable file just
// leaves the endpoint and region at their defaults.
func (f *ecsFlags) resolve() error {
	if f.endpoint != "" && f.region != "" && f.accessKeyID != "" && f.secretAccessKey != "" {
		return nil
	}
	file, err := readAccessFile(f.credentialsFile)
	if err != nil {
		if f.accessKeyID == "" || f.secretAccessKey == "" {
			return fmt.Errorf("no key pair for the ECS API (--access-key-id, --secret-access-key): %w", err)
		}
		file = access.File{Endpoint: defaultEndpoint, Region: localplane.DefaultRegion}
	}
	for _, v := range []struct {
		dst *string
		src string
	}{
		{&f.endpoint, file.Endpoint}, {&f.region, file.Region},
		{&f.accessKeyID, file.AccessKeyID}, {&f.secretAccessKey, file.SecretAccessKey},
	} {
		if *v.dst == "" {
			*v.dst = v.src
		}
	}
	return nil
}

func newLocalCmd(s genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Work with the local control plane of ecs-agent --local",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newLocalEnvCmd(s))
	return cmd
}

func newLocalEnvCmd(s genericiooptions.IOStreams) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print the shell environment the AWS CLI and SDKs need to use the local control plane",
		Long: `Print export lines for the local control plane's key pair, region and endpoint,
read from the file ecs-agent --local keeps them in (root only), so that the AWS CLI and
SDKs work against it without further options. The plane accepts signatures for any
region, so a profile's region does not get in the way.`,
		Example: `  eval "$(ecsctl local env)"
  aws ecs list-tasks
  aws ecs run-task --task-definition sample-sleeper`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			f, err := readAccessFile(path)
			if err != nil {
				return err
			}
			return writeEnv(s.Out, f)
		},
	}
	addCredentialsFileFlag(cmd, &path)
	return cmd
}

// writeEnv prints f as POSIX shell export lines.
func writeEnv(w io.Writer, f access.File) error {
	var b strings.Builder
	for _, kv := range [][2]string{
		{"AWS_ACCESS_KEY_ID", f.AccessKeyID},
		{"AWS_SECRET_ACCESS_KEY", f.SecretAccessKey},
		{"AWS_DEFAULT_REGION", f.Region},
		{"AWS_ENDPOINT_URL_ECS", f.Endpoint},
	} {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shellQuote quotes s for a POSIX shell: single quotes, each ' written as '\”.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
