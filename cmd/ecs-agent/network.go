package main

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/hostsetup"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/cgroups"
	"github.com/ecsd/ecsd/runtime/cni"
)

// startNetwork opens the network layer for bridge and awsvpc tasks. Its state lives under
// ECS_DATADIR/cni so a restarted agent finds the namespaces, leases and host ports of the
// tasks it left running. A plugin directory without the plugins is a configuration error:
// bridge is the default network mode, so an agent without it could run almost nothing.
func startNetwork(ctx context.Context, cfg *config.Config, log logr.Logger) (*cni.Manager, error) {
	dirs := filepath.SplitList(cfg.CNIPluginsPath)
	if err := checkPlugins(dirs, "bridge", "host-local", "portmap", "loopback"); err != nil {
		return nil, fmt.Errorf("%w: ECS_CNI_PLUGINS_PATH=%s: %v", errTerminal, cfg.CNIPluginsPath, err)
	}
	opts := cni.Options{
		PluginDirs:      dirs,
		StateDir:        filepath.Join(cfg.DataDir, "cni"),
		BridgeName:      cfg.BridgeName,
		BridgeSubnet:    cfg.BridgeSubnet,
		DynamicPorts:    [2]uint16{cfg.DynamicHostPortRange.Start, cfg.DynamicHostPortRange.End},
		ReservedTCP:     cfg.ReservedPorts,
		ReservedUDP:     cfg.ReservedPortsUDP,
		AllowIMDS:       cfg.AllowTaskIMDS.Enabled(),
		BlockAWSVPCIMDS: cfg.AWSVPCBlockInstanceMetdata.Enabled(),
		Logger:          log,
	}
	m, err := cni.New(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	return m, nil
}

// releaseTimeout bounds the iptables commands of releaseIdleHostRules: systemd waits 90 s
// (TimeoutStopSec) before it kills a stopping agent.
const releaseTimeout = 30 * time.Second

// releaseIdleHostRules runs when the agent stops cleanly. With no task container running
// and no task network left, it removes the host rules that exist for tasks (the instance
// metadata blocks, the CNI portmap plugin's chains), so that after `systemctl stop ecs`
// (whose ecs-init post-stop removes the rest) the host's iptables are as before the agent
// first started. With tasks left they stay: the tasks keep running without the agent and
// still need them. Failures are logged; the stop goes on.
func releaseIdleHostRules(ctx context.Context, rt runtime.Runtime, network *cni.Manager, log logr.Logger) {
	ctx, cancel := context.WithTimeout(ctx, releaseTimeout)
	defer cancel()
	containers, err := rt.ListContainers(ctx)
	if err != nil {
		log.Error(err, "cannot list containers; keeping the task rules")
		return
	}
	running := 0
	for _, c := range containers {
		if c.Status == runtime.StatusRunning {
			running++
		}
	}
	ids, err := network.IDs()
	if err != nil {
		log.Error(err, "cannot list task networks; keeping the task rules")
		return
	}
	if running > 0 || len(ids) > 0 {
		log.Info("keeping the host rules of tasks: tasks remain", "runningContainers", running, "taskNetworks", len(ids))
		return
	}
	if err := network.ReleaseHostRules(ctx); err != nil {
		log.Error(err, "removing the host rules of tasks")
		return
	}
	log.Info("no task left: removed the host rules of tasks")
}

// blockHostIMDS keeps host-network task containers from the instance metadata service
// unless ECSD_ALLOW_TASK_IMDS allows it: every task container lives beneath the task cgroup
// root, which an OUTPUT rule matching its cgroup v2 path refuses IMDS. Without a cgroup v2
// hierarchy (a pure v1 host) there is no such match; the agent says so and goes on, as the
// other modes stay blocked.
func blockHostIMDS(ctx context.Context, cfg *config.Config, n *cni.Manager, log logr.Logger) error {
	if cfg.AllowTaskIMDS.Enabled() {
		return nil
	}
	path, err := taskCgroupRoot(cfg)
	if err != nil {
		return err
	}
	if path == "" {
		log.Info("no cgroup v2 hierarchy: host-network tasks can reach the instance metadata service")
		return nil
	}
	return n.BlockHostIMDS(ctx, path)
}

// taskCgroupRoot creates the task cgroup root and returns its cgroup v2 path ("" without
// a v2 hierarchy).
func taskCgroupRoot(cfg *config.Config) (string, error) {
	path, err := taskCgroups(cfg).EnsureRoot()
	if err != nil {
		return "", fmt.Errorf("task cgroup root: %w", err)
	}
	return path, nil
}

// taskCgroups is the task cgroup manager on the configured cgroup filesystem.
func taskCgroups(cfg *config.Config) cgroups.Manager {
	mount := cfg.CgroupPath
	if mount == "" {
		mount = cgroups.DefaultMount
	}
	return cgroups.Manager{Mount: mount, Root: cgroups.DefaultRoot}
}

// refusePlaneToTasks refuses the local control plane's port (on loopback) to task
// containers and returns the function that lifts the refusal. Bridge and awsvpc tasks
// have their own loopback and cannot reach the host's; host-network tasks share it, and
// only their cgroup tells them from the host's processes (as for IMDS). Without a cgroup
// v2 hierarchy there is no such match: the agent says so and goes on.
func refusePlaneToTasks(ctx context.Context, cfg *config.Config, addr netip.AddrPort, log logr.Logger) (func(context.Context) error, error) {
	path, err := taskCgroupRoot(cfg)
	if err != nil {
		return nil, err
	}
	if path == "" {
		log.Info("no cgroup v2 hierarchy: host-network tasks can reach the local control plane")
		return func(context.Context) error { return nil }, nil
	}
	unblock, err := hostsetup.BlockFromTasks(ctx, log, addr, path)
	if err != nil {
		return nil, fmt.Errorf("refuse %s to task containers: %w", addr, err)
	}
	log.Info("the local control plane is refused to task containers", "address", addr.String(), "cgroup", path)
	return unblock, nil
}

// checkPlugins makes sure every named plugin is in one of dirs, where libcni will look.
func checkPlugins(dirs []string, names ...string) error {
	var missing []string
	for _, n := range names {
		if _, err := invoke.FindInPath(n, dirs); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("CNI plugins not found: %s (Debian: apt install containernetworking-plugins)", strings.Join(missing, ", "))
	}
	return nil
}
