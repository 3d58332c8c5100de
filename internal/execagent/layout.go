// Package execagent finds ECS Exec's managed agent (the SSM agent) on the host, in the
// reference agent's layout, and says what of it a container of an exec-enabled task gets.
//
// Layout (the reference's, under <ECS_DATADIR>/../deps/execute-command, i.e.
// /var/lib/ecs/deps/execute-command on an instance):
//
//	bin/<version>/{amazon-ssm-agent,ssm-agent-worker,ssm-session-worker}
//	config/        the agent's generated amazon-ssm-agent-<hash>.json and seelog-<hash>.xml
//	certs/tls-ca-bundle.pem
//
// Each container gets them read-only under /ecs-execute-command-<uuid>/ and the SSM agent
// is started there, as root, without arguments, once the container runs.
//
// This package is the host-side layout only: nothing registers the execute-command
// capability or starts the agent yet (see the README's ECS Exec section).
package execagent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The binaries every usable version directory holds.
const (
	SSMAgentBin      = "amazon-ssm-agent"
	SSMAgentWorker   = "ssm-agent-worker"
	SSMSessionWorker = "ssm-session-worker"
)

// Paths of the layout, relative to its root, and in the container.
const (
	binDir    = "bin"
	configDir = "config"
	certFile  = "certs/tls-ca-bundle.pem"

	// ContainerDirPrefix + a UUID is where a container gets the binaries and configuration.
	ContainerDirPrefix = "/ecs-execute-command-"
	containerCert      = "certs/amazon-ssm-agent.crt"
	containerConfig    = "configuration/amazon-ssm-agent.json"
	containerLogConfig = "configuration/seelog.xml"
	// ContainerLogDir is where the SSM agent writes its logs in the container.
	ContainerLogDir = "/var/log/amazon/ssm"
)

// ErrNotInstalled means no usable SSM agent is under the layout's root.
var ErrNotInstalled = errors.New("no SSM agent for ECS Exec")

// Layout is one host's usable SSM agent.
type Layout struct {
	Root      string // the deps/execute-command directory
	Version   string // the newest version directory with all three binaries
	BinDir    string // Root/bin/<Version>
	ConfigDir string // Root/config
	CertFile  string // Root/certs/tls-ca-bundle.pem
}

// DepsDir is the layout's root for the data directory dataDir: <dataDir>/../deps/execute-command.
func DepsDir(dataDir string) string {
	return filepath.Join(filepath.Dir(filepath.Clean(dataDir)), "deps", "execute-command")
}

// Find returns the layout under root: the newest version (dotted numbers compared as
// numbers) whose directory holds all three binaries as executable regular files, with the
// config directory and the certificate bundle present. Anything less is ErrNotInstalled,
// wrapped with what is missing.
func Find(root string) (Layout, error) {
	entries, err := os.ReadDir(filepath.Join(root, binDir))
	if err != nil {
		return Layout{}, fmt.Errorf("%w: %w", ErrNotInstalled, err)
	}
	var versions [][]int
	names := map[string]string{}
	for _, e := range entries {
		v, ok := parseVersion(e.Name())
		if !ok || !e.IsDir() {
			continue
		}
		versions = append(versions, v)
		names[versionKey(v)] = e.Name()
	}
	slices.SortFunc(versions, func(a, b []int) int { return -slices.Compare(a, b) })
	var missing []string
	for _, v := range versions {
		name := names[versionKey(v)]
		dir := filepath.Join(root, binDir, name)
		bad := ""
		for _, b := range []string{SSMAgentBin, SSMAgentWorker, SSMSessionWorker} {
			if !isExecutable(filepath.Join(dir, b)) {
				bad = b
				break
			}
		}
		if bad != "" {
			missing = append(missing, fmt.Sprintf("%s lacks %s", name, bad))
			continue
		}
		l := Layout{Root: root, Version: name, BinDir: dir,
			ConfigDir: filepath.Join(root, configDir), CertFile: filepath.Join(root, certFile)}
		if fi, err := os.Stat(l.ConfigDir); err != nil || !fi.IsDir() {
			return Layout{}, fmt.Errorf("%w: no directory %s", ErrNotInstalled, l.ConfigDir)
		}
		if fi, err := os.Stat(l.CertFile); err != nil || !fi.Mode().IsRegular() {
			return Layout{}, fmt.Errorf("%w: no certificate bundle %s", ErrNotInstalled, l.CertFile)
		}
		return l, nil
	}
	if len(missing) > 0 {
		return Layout{}, fmt.Errorf("%w: no complete version under %s (%s)", ErrNotInstalled, filepath.Join(root, binDir), strings.Join(missing, "; "))
	}
	return Layout{}, fmt.Errorf("%w: no version directory under %s", ErrNotInstalled, filepath.Join(root, binDir))
}

// Mount is one bind mount of a container of an exec-enabled task.
type Mount struct {
	Source, Destination string
	ReadOnly            bool
}

// ContainerDir is the container's directory of the binaries for the managed agent ID id.
func ContainerDir(id string) string { return ContainerDirPrefix + id }

// AgentPath is the SSM agent's path in the container, what is started there.
func AgentPath(id string) string { return filepath.Join(ContainerDir(id), SSMAgentBin) }

// Mounts are the container's mounts for the managed agent ID id: the binaries, the
// configuration files configFile and logConfigFile (names in l.ConfigDir) and the
// certificate bundle read-only, and hostLogDir (the container's own) as the SSM agent's
// log directory.
func (l Layout) Mounts(id, configFile, logConfigFile, hostLogDir string) []Mount {
	dir := ContainerDir(id)
	ro := func(src, dst string) Mount { return Mount{Source: src, Destination: dst, ReadOnly: true} }
	return []Mount{
		ro(filepath.Join(l.BinDir, SSMAgentBin), filepath.Join(dir, SSMAgentBin)),
		ro(filepath.Join(l.BinDir, SSMAgentWorker), filepath.Join(dir, SSMAgentWorker)),
		ro(filepath.Join(l.BinDir, SSMSessionWorker), filepath.Join(dir, SSMSessionWorker)),
		ro(filepath.Join(l.ConfigDir, configFile), filepath.Join(dir, containerConfig)),
		ro(filepath.Join(l.ConfigDir, logConfigFile), filepath.Join(dir, containerLogConfig)),
		ro(l.CertFile, filepath.Join(dir, containerCert)),
		{Source: hostLogDir, Destination: ContainerLogDir},
	}
}

func parseVersion(s string) ([]int, bool) {
	parts := strings.Split(s, ".")
	out := make([]int, 0, len(parts))
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		out = append(out, n)
	}
	return out, len(out) > 0
}

func versionKey(v []int) string { return fmt.Sprint(v) }

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
