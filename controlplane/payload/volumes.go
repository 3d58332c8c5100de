package payload

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// volumes converts the task volumes. Only host volumes and task-scoped Docker volumes on
// the local driver are supported; EFS, FSx, EBS and log-driver volumes, shared Docker
// volumes and volume plugins are rejected: a container that silently got an empty
// directory instead of its file system would run, but not as asked.
func volumes(vs []Volume) ([]v1alpha1.Volume, error) {
	var out []v1alpha1.Volume
	seen := make(map[string]bool, len(vs))
	for i := range vs {
		v := &vs[i]
		if v.Name == "" {
			return nil, fmt.Errorf("volumes[%d].name: %w", i, ErrMissing)
		}
		if seen[v.Name] {
			return nil, fmt.Errorf("volumes[%d].name %q: %w", i, v.Name, ErrDuplicate)
		}
		seen[v.Name] = true
		typ := v.Type
		if typ == "" {
			// The reference agent's default: older payloads only had host volumes.
			typ = "host"
		}
		out1 := v1alpha1.Volume{Name: v.Name, Type: typ}
		switch typ {
		case "host":
			if v.Host != nil {
				if p := v.Host.SourcePath; p != "" && !strings.HasPrefix(p, "/") {
					return nil, fmt.Errorf("volume %s: host.sourcePath: %w %q (want an absolute path)", v.Name, ErrInvalidValue, p)
				}
				out1.HostSourcePath = v.Host.SourcePath
			}
		case "docker":
			dc := v.DockerVolumeConfiguration
			if dc == nil {
				dc = &DockerVolumeConfiguration{}
			}
			scope := dc.Scope
			if scope == "" {
				scope = "task"
			}
			if scope != "task" {
				return nil, fmt.Errorf("volume %s: dockerVolumeConfiguration.scope %q: %w", v.Name, dc.Scope, ErrUnsupported)
			}
			if dc.Driver != "" && dc.Driver != "local" {
				return nil, fmt.Errorf("volume %s: dockerVolumeConfiguration.driver %q: %w", v.Name, dc.Driver, ErrUnsupported)
			}
			if len(dc.DriverOpts) > 0 {
				return nil, fmt.Errorf("volume %s: dockerVolumeConfiguration.driverOpts: %w", v.Name, ErrUnsupported)
			}
			out1.Scope = scope
			out1.Autoprovision = dc.Autoprovision
			out1.Driver = dc.Driver
			out1.Labels = copyMap(dc.Labels)
		default:
			return nil, fmt.Errorf("volume %s: type %q: %w", v.Name, v.Type, ErrUnsupported)
		}
		out = append(out, out1)
	}
	return out, nil
}

// checkENI checks the members an ENI attachment cannot work without.
func checkENI(eni *ElasticNetworkInterface) error {
	if _, err := AttachmentName(eni.AttachmentArn); err != nil {
		return err
	}
	if eni.MacAddress == "" {
		return fmt.Errorf("macAddress: %w", ErrMissing)
	}
	if _, err := net.ParseMAC(eni.MacAddress); err != nil {
		return fmt.Errorf("macAddress: %w %q", ErrInvalidValue, eni.MacAddress)
	}
	switch eni.InterfaceAssociationProtocol {
	case "", "default":
	default:
		return fmt.Errorf("interfaceAssociationProtocol %q: %w", eni.InterfaceAssociationProtocol, ErrUnsupported)
	}
	for i, a := range eni.IPv4Addresses {
		if ip, err := netip.ParseAddr(a.PrivateAddress); err != nil || !ip.Is4() {
			return fmt.Errorf("ipv4Addresses[%d].privateAddress: %w %q", i, ErrInvalidValue, a.PrivateAddress)
		}
	}
	for i, a := range eni.IPv6Addresses {
		if ip, err := netip.ParseAddr(a.Address); err != nil || !ip.Is6() {
			return fmt.Errorf("ipv6Addresses[%d].address: %w %q", i, ErrInvalidValue, a.Address)
		}
	}
	if gw := eni.SubnetGatewayIPv4Address; gw != "" {
		if p, err := netip.ParsePrefix(gw); err != nil || !p.Addr().Is4() {
			return fmt.Errorf("subnetGatewayIpv4Address: %w %q (want <ip>/<prefix length>)", ErrInvalidValue, gw)
		}
	}
	return nil
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
