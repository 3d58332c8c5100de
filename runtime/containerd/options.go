package containerd

import (
	"net/http"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/runtime"
)

// Defaults used when the corresponding option is not given.
const (
	DefaultSnapshotter = "overlayfs"
	DefaultRuntime     = "io.containerd.runc.v2"
	DefaultLogDir      = "/var/log/ecsd/containers"
)

// RegistryHostsFunc returns the registry configuration used for one pull of an image
// hosted on refHost with the credentials auth (nil for anonymous). Returning a fresh
// configuration per pull keeps credentials scoped to that pull and that host.
type RegistryHostsFunc func(refHost string, auth *runtime.Auth) docker.RegistryHosts

// Option configures a Runtime.
type Option func(*options)

type options struct {
	log         logr.Logger
	snapshotter string
	runtime     string
	logDir      string
	initPath    string
	logBinary   string
	logBuffer   int
	plainHTTP   func(host string) (bool, error)
	httpClient  *http.Client
	hosts       RegistryHostsFunc
	hostsDir    string
}

func defaultOptions() options {
	return options{
		log:         logr.Discard(),
		snapshotter: DefaultSnapshotter,
		runtime:     DefaultRuntime,
		logDir:      DefaultLogDir,
		// Registries on loopback (the test registry, a local pull-through cache) rarely
		// have TLS; everything else must.
		plainHTTP: docker.MatchLocalhost,
	}
}

// WithLogger sets the logger; the default discards.
func WithLogger(l logr.Logger) Option { return func(o *options) { o.log = l } }

// WithSnapshotter selects the snapshotter images are unpacked into and container
// root filesystems are created with (default overlayfs).
func WithSnapshotter(name string) Option { return func(o *options) { o.snapshotter = name } }

// WithRuntime selects the containerd runtime (shim) for new containers
// (default io.containerd.runc.v2).
func WithRuntime(name string) Option { return func(o *options) { o.runtime = name } }

// WithLogDir sets the directory for per-container log files used when
// ContainerConfig.LogPath is empty (default DefaultLogDir).
func WithLogDir(dir string) Option { return func(o *options) { o.logDir = dir } }

// WithLogBinary makes each container's stdout and stderr go through ecsd-logger at path
// (an absolute path), which the shim runs next to the container (containerd's binary
// logging): the container never blocks on its output, and what cannot be written (a full
// disk) is dropped and counted (package containerlog). maxBuffer bounds what one logger
// holds (containerlog.DefaultMaxBuffer when <= 0). Without it the shim writes the file
// itself (cio.LogFile), and a full disk blocks a container writing to stdout; the agent
// always sets it.
func WithLogBinary(path string, maxBuffer int) Option {
	return func(o *options) { o.logBinary, o.logBuffer = path, maxBuffer }
}

// WithInitPath sets a statically linked init (tini-static, catatonit, docker-init) that is
// bind-mounted into containers created with Init. Without it a few well-known paths are
// searched; see findInit.
func WithInitPath(path string) Option { return func(o *options) { o.initPath = path } }

// WithPlainHTTP decides which registry hosts are spoken to over plain HTTP
// (default: loopback addresses only, docker.MatchLocalhost).
func WithPlainHTTP(match func(host string) (bool, error)) Option {
	return func(o *options) { o.plainHTTP = match }
}

// WithHTTPClient sets the HTTP client used for registries (proxies, custom CAs).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithRegistryHosts replaces the registry configuration entirely (mirrors, per-host TLS).
// The function receives the credentials given to PullImage and must scope them itself.
func WithRegistryHosts(f RegistryHostsFunc) Option { return func(o *options) { o.hosts = f } }
