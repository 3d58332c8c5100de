package hostsetup

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
)

// Well-known addresses and ports of the agent (spec §6.3).
const (
	// CredentialsAddress is the link-local address tasks use for credentials and metadata.
	CredentialsAddress = "169.254.170.2"
	// CredentialsPort is the port tasks connect to on CredentialsAddress.
	CredentialsPort = "80"
	// AgentCredentialsPort is where the agent serves credentials and metadata on 127.0.0.1.
	AgentCredentialsPort = "51679"
	// IntrospectionPort is the agent's introspection port.
	IntrospectionPort = "51678"
	// DefaultBridge is the agent's bridge for bridge-mode tasks, ecsd's docker0.
	DefaultBridge = "ecsd0"
)

// Settings are everything PreStart and PostStop need. The zero value is not usable; start
// from DefaultSettings.
type Settings struct {
	// SkipLocalhostTrafficFilter leaves out the rule dropping off-host traffic to 127.0.0.0/8
	// (ECS_SKIP_LOCALHOST_TRAFFIC_FILTER).
	SkipLocalhostTrafficFilter bool
	// AllowOffhostIntrospectionAccess leaves out the rules blocking off-host access to the
	// introspection port (ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS).
	AllowOffhostIntrospectionAccess bool
	// Bridge is the task bridge whose containers may reach introspection.
	Bridge string

	// Iptables, Ip6tables and IP are the binaries to run: a path, or a name looked up in
	// PATH. IPv6 rules are skipped when Ip6tables cannot be found or the kernel has no IPv6.
	Iptables, Ip6tables, IP string

	// ProcSys and ProcNet replace /proc/sys and /proc/net (tests).
	ProcSys, ProcNet string

	// Root is prepended to every directory (tests and image builds); "" or "/" is the host.
	Root string
	// Dirs are the directories PreStart creates, absolute, before Root is applied.
	Dirs []Dir
}

// Dir is a directory PreStart creates if missing. An existing directory is left as it is,
// including its mode: an administrator may have tightened it.
type Dir struct {
	Path string
	Mode uint32
}

// DefaultSettings returns the settings of a stock host with the agent's default paths.
func DefaultSettings() Settings {
	return Settings{
		Bridge:    DefaultBridge,
		Iptables:  "iptables",
		Ip6tables: "ip6tables",
		IP:        "ip",
		ProcSys:   "/proc/sys",
		ProcNet:   "/proc/net",
		Root:      "/",
		Dirs:      DefaultDirs("/var/lib/ecs/data", "", "/var/log/ecs/audit.log"),
	}
}

// DefaultDirs lists the directories the agent needs: the configuration directory, its state
// directories and the directories of its log files. dataDir is ECS_DATADIR (kept private,
// like the agent's own MkdirAll); logFile and auditLog are ECS_LOGFILE and
// ECS_AUDIT_LOGFILE, "" for none.
func DefaultDirs(dataDir, logFile, auditLog string) []Dir {
	dirs := []Dir{
		{Path: "/etc/ecs", Mode: 0o755},
		{Path: "/var/lib/ecs", Mode: 0o755},
		{Path: "/var/log/ecs", Mode: 0o755},
	}
	if dataDir != "" {
		dirs = append(dirs, Dir{Path: dataDir, Mode: 0o700})
	}
	for _, f := range []string{logFile, auditLog} {
		if f != "" {
			dirs = append(dirs, Dir{Path: filepath.Dir(f), Mode: 0o755})
		}
	}
	return dirs
}

// ErrInvalidSettings marks settings that can never work; callers treat it as terminal.
var ErrInvalidSettings = errors.New("invalid settings")

// Validate reports settings that can never work, wrapping ErrInvalidSettings.
func (s Settings) Validate() error {
	var errs []error
	if s.Bridge == "" || len(s.Bridge) > 15 || strings.ContainsAny(s.Bridge, "/ \t\n:") {
		// iptables' -i takes an interface name: at most IFNAMSIZ-1 bytes, no slash or space.
		errs = append(errs, fmt.Errorf("bridge name %q: want 1-15 characters without '/', ':' or spaces", s.Bridge))
	}
	for name, v := range map[string]string{"iptables": s.Iptables, "ip6tables": s.Ip6tables, "ip": s.IP} {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s binary: empty", name))
		}
	}
	for _, d := range s.Dirs {
		if !filepath.IsAbs(d.Path) {
			errs = append(errs, fmt.Errorf("directory %q: not absolute", d.Path))
		}
	}
	if err := join(errs); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSettings, err)
	}
	return nil
}

// loopbackName returns the loopback interface's name, "lo" on every Linux host; the lookup
// only matters where it was renamed.
func loopbackName() string {
	ifs, err := net.Interfaces()
	if err == nil {
		for _, i := range ifs {
			if i.Flags&net.FlagLoopback != 0 {
				return i.Name
			}
		}
	}
	return "lo"
}
