package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/controllers"
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
		PluginDirs:   dirs,
		StateDir:     filepath.Join(cfg.DataDir, "cni"),
		BridgeName:   cfg.BridgeName,
		BridgeSubnet: cfg.BridgeSubnet,
		DynamicPorts: [2]uint16{cfg.DynamicHostPortRange.Start, cfg.DynamicHostPortRange.End},
		ReservedTCP:  cfg.ReservedPorts,
		ReservedUDP:  cfg.ReservedPortsUDP,
		AllowIMDS:    cfg.AllowTaskIMDS.Enabled(),
		Logger:       log,
	}
	m, err := cni.New(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	return m, nil
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

// networkSettings passes the network layer and its settings to the engine.
func networkSettings(s *controllers.Settings, cfg *config.Config, n controllers.Network) {
	s.Network = n
	s.BridgeSubnet = cfg.BridgeSubnet
	s.ENIWaitTimeout = cfg.ENIAttachTimeout
	s.AWSVPCEnabled = cfg.TaskENIEnabled.Enabled() && !cfg.External.Enabled()
	for _, p := range cfg.AWSVPCAdditionalLocalRoutes {
		if p.Addr().Is4() {
			s.AWSVPCAdditionalRoutes = append(s.AWSVPCAdditionalRoutes, p.String())
		}
	}
}
