package hostsetup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-logr/logr"
)

// Sysctls, as paths below /proc/sys. Written directly rather than through sysctl(8), which
// is one binary fewer the host needs.
const (
	routeLocalnetAll     = "net/ipv4/conf/all/route_localnet"
	routeLocalnetDefault = "net/ipv4/conf/default/route_localnet"
)

func readSysctl(procSys, key string) (string, error) {
	b, err := os.ReadFile(filepath.Join(procSys, key))
	if err != nil {
		return "", fmt.Errorf("read sysctl %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// setSysctl writes value unless the sysctl already has it, so a repeated run writes nothing.
func setSysctl(log logr.Logger, procSys, key, value string) error {
	cur, err := readSysctl(procSys, key)
	if err != nil {
		return err
	}
	if cur == value {
		log.V(1).Info("sysctl already set", "key", key, "value", value)
		return nil
	}
	if err := os.WriteFile(filepath.Join(procSys, key), []byte(value+"\n"), 0o644); err != nil {
		return fmt.Errorf("write sysctl %s=%s: %w", key, value, err)
	}
	log.Info("set sysctl", "key", key, "value", value, "was", cur)
	return nil
}

// disableBridgeRA turns IPv6 router advertisements off on the task bridge, as the reference
// ecs-init does for docker0: a task could otherwise advertise itself as the host's IPv6
// router. The bridge usually does not exist yet when the agent starts for the first time
// (the agent creates it), so a missing bridge is not an error.
func disableBridgeRA(log logr.Logger, procSys, bridge string) error {
	key := "net/ipv6/conf/" + bridge + "/accept_ra"
	err := setSysctl(log, procSys, key, "0")
	if errors.Is(err, fs.ErrNotExist) {
		log.V(1).Info("task bridge not present; router advertisements left alone", "bridge", bridge)
		return nil
	}
	return err
}
