package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/secretfile"
)

// The object API's credentials: the agent writes its bearer token (and beside it the
// introspection port's TLS certificate) root-only; ecsctl reads them by default.
const (
	envToken     = "ECSCTL_TOKEN"
	envTokenFile = "ECSCTL_TOKEN_FILE"
)

// errNoToken explains a 401 to a user who has no token at hand.
var errNoToken = errors.New("the agent's object API refused this client (401 Unauthorized): it needs the agent's " +
	"bearer token, which ecsctl reads from --token-file (default " + config.DefaultAPITokenFile + ", root only) or takes from --token")

// token returns the bearer token to send: --token, else the token file's. A token file
// that does not exist or cannot be read (not root) is not an error here: the request goes
// without a token and the server's 401 is explained by errNoToken.
func (g *globalOptions) bearerToken() (string, error) {
	if g.token != "" {
		return g.token, nil
	}
	b, err := secretfile.Read(g.tokenFile)
	switch {
	case err == nil:
		return secretfile.TrimToken(b), nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return "", nil
	}
	return "", fmt.Errorf("--token-file: %w", err)
}

func (g *globalOptions) addTokenFlags(cmd *cobra.Command) {
	file := os.Getenv(envTokenFile)
	if file == "" {
		file = config.DefaultAPITokenFile
	}
	f := cmd.PersistentFlags()
	f.StringVar(&g.token, "token", os.Getenv(envToken), "bearer token of the agent's object API; env "+envToken+" (default: the token file's)")
	f.StringVar(&g.tokenFile, "token-file", file, "file holding the agent's object API token (ECSD_API_TOKEN_FILE of the agent); env "+envTokenFile)
}

// newTokenCmd prints the token, for kubectl --token.
func newTokenCmd(g *globalOptions, s genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "token",
		Short: "Print the agent's object API bearer token (for kubectl --token)",
		Long: `Print the bearer token the agent's object API requires, from --token-file
(the agent's ECSD_API_TOKEN_FILE, readable by root only). kubectl sends a token only
to an https server; the introspection port also speaks TLS:

  kubectl --server https://127.0.0.1:51678 --certificate-authority /var/lib/ecs/ecsd/api.crt \
      --token "$(ecsctl token)" get tasks -o yaml

or let ecsctl write the kubeconfig: ecsctl kubeconfig > ecsd.kubeconfig`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			tok, err := g.readToken()
			if err != nil {
				return err
			}
			fmt.Fprintln(s.Out, tok)
			return nil
		},
	}
}

// readToken is bearerToken for commands that need a token: a missing one is an error.
func (g *globalOptions) readToken() (string, error) {
	if g.token != "" {
		return g.token, nil
	}
	b, err := secretfile.Read(g.tokenFile)
	if err != nil {
		return "", fmt.Errorf("read the token: %w (the agent writes it on its first start; root only)", err)
	}
	return secretfile.TrimToken(b), nil
}

// newKubeconfigCmd prints a kubeconfig with which kubectl reaches the agent over TLS with
// the token.
func newKubeconfigCmd(g *globalOptions, s genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print a kubeconfig for kubectl: the agent's object API over TLS, with its token",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			tok, err := g.readToken()
			if err != nil {
				return err
			}
			certPath, _ := config.APICertFiles(g.tokenFile)
			ca, err := os.ReadFile(certPath)
			if err != nil {
				return fmt.Errorf("read the agent's certificate: %w", err)
			}
			server, err := httpsServer(g.server)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, `apiVersion: v1
kind: Config
clusters:
- name: ecsd
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: ecsd
  user:
    token: %s
contexts:
- name: ecsd
  context:
    cluster: ecsd
    user: ecsd
    namespace: ecs
current-context: ecsd
`, server, base64.StdEncoding.EncodeToString(ca), tok)
			return nil
		},
	}
}

// httpsServer is server with the https scheme: the introspection port speaks both.
func httpsServer(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("--server %q: want a URL such as %s", server, defaultServer)
	}
	u.Scheme = "https"
	return strings.TrimSuffix(u.String(), "/"), nil
}
