package containerd

import (
	"context"
	"net/http"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/remotes/docker/config"

	"github.com/ecsd/ecsd/runtime"
)

// WithRegistryConfigPath reads per-registry settings from dir in containerd's hosts
// directory layout (dir/<host>/hosts.toml, certificate files beside it), the same files
// containerd's own config_path and `ctr --hosts-dir` use: mirrors and pull-through caches
// (server, [host."…"] entries), per-host CAs and client certificates, plain HTTP.
// References whose registry has no directory there keep the default configuration.
//
// The pull's credentials (an ECR token, Secrets Manager registry credentials) go to the
// reference's registry and to the hosts its hosts.toml names: the operator configured
// those to serve that registry.
func WithRegistryConfigPath(dir string) Option {
	return func(o *options) { o.hostsDir = dir }
}

// hostsDirRegistryHosts wraps fallback with the hosts directory dir.
func hostsDirRegistryHosts(dir string, hc *http.Client, fallback RegistryHostsFunc) RegistryHostsFunc {
	hostDir := config.HostDirFromRoot(dir)
	return func(refHost string, auth *runtime.Auth) docker.RegistryHosts {
		if !hasHostsDir(dir, refHost) {
			return fallback(refHost, auth)
		}
		allowed := map[string]bool{refHost: true}
		opts := config.HostOptions{
			HostDir: hostDir,
			UpdateClient: func(c *http.Client) error {
				if hc != nil {
					c.Timeout = hc.Timeout
				}
				return nil
			},
		}
		if auth != nil && (auth.Username != "" || auth.Password != "") {
			user, pass := auth.Username, auth.Password
			opts.Credentials = func(host string) (string, string, error) {
				if allowed[host] || sameRegistry(refHost, host) {
					return user, pass, nil
				}
				return "", "", nil
			}
		}
		hosts := config.ConfigureHosts(context.Background(), opts)
		return func(host string) ([]docker.RegistryHost, error) {
			list, err := hosts(host)
			if err != nil {
				return nil, err
			}
			for _, h := range list {
				allowed[h.Host] = true
			}
			return list, nil
		}
	}
}

// hasHostsDir reports whether dir configures host (containerd's directory naming: a
// port becomes "_port_" only for the legacy "host:port" form, which is kept).
func hasHostsDir(dir, host string) bool {
	if dir == "" {
		return false
	}
	fi, err := os.Stat(filepath.Join(dir, host))
	return err == nil && fi.IsDir()
}
