package payload

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

const maxPort = 65535

// portMapping checks and converts one port mapping: either a containerPort (1-65535) with
// an optional hostPort (0 = dynamic), or a containerPortRange "a-b" whose host ports are
// assigned dynamically. Protocol defaults to tcp.
func portMapping(pm *PortMapping) (v1alpha1.PortMapping, error) {
	out := v1alpha1.PortMapping{}
	switch pm.Protocol {
	case "", "tcp":
		out.Protocol = "tcp"
	case "udp":
		out.Protocol = "udp"
	default:
		return out, fmt.Errorf("protocol: %w %q (want tcp or udp)", ErrInvalidValue, pm.Protocol)
	}
	if pm.HostPort < 0 || pm.HostPort > maxPort {
		return out, fmt.Errorf("hostPort: %w %d (want 0-%d)", ErrInvalidValue, pm.HostPort, maxPort)
	}
	if pm.ContainerPortRange != "" {
		if pm.ContainerPort != 0 {
			return out, fmt.Errorf("containerPort and containerPortRange: %w (set one, not both)", ErrInvalidValue)
		}
		if pm.HostPort != 0 {
			return out, fmt.Errorf("hostPort with containerPortRange: %w (host ports of a range are assigned dynamically)", ErrInvalidValue)
		}
		if _, _, err := parsePortRange(pm.ContainerPortRange); err != nil {
			return out, fmt.Errorf("containerPortRange: %w", err)
		}
		out.ContainerPortRange = pm.ContainerPortRange
		return out, nil
	}
	if pm.ContainerPort < 1 || pm.ContainerPort > maxPort {
		return out, fmt.Errorf("containerPort: %w %d (want 1-%d)", ErrInvalidValue, pm.ContainerPort, maxPort)
	}
	out.ContainerPort = int32(pm.ContainerPort)
	out.HostPort = int32(pm.HostPort)
	return out, nil
}

// parsePortRange parses "a-b" with 1 <= a <= b <= 65535.
func parsePortRange(r string) (int, int, error) {
	lo, hi, ok := strings.Cut(r, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%w %q (want <first>-<last>)", ErrInvalidValue, r)
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || a < 1 || b > maxPort || a > b {
		return 0, 0, fmt.Errorf("%w %q (want <first>-<last> within 1-%d, first <= last)", ErrInvalidValue, r, maxPort)
	}
	return a, b, nil
}
