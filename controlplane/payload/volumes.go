package payload

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// volumes converts the task volumes: host volumes, Docker volumes on the local driver (task
// or shared scope, with the driver's type/o/device options) and EFS volumes. FSx, EBS and
// log-driver volumes and Docker volume plugins are rejected: a container that silently got
// an empty directory instead of its file system would run, but not as asked.
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
			if err := dockerVolume(v, &out1); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
		case "efs":
			efs, err := efsVolume(v.EFSVolumeConfiguration)
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			out1.EFS = efs
		default:
			return nil, fmt.Errorf("volume %s: type %q: %w", v.Name, v.Type, ErrUnsupported)
		}
		out = append(out, out1)
	}
	return out, nil
}

// localDriverOpts are the options of Docker's local volume driver; Docker refuses others.
var localDriverOpts = map[string]bool{"type": true, "o": true, "device": true}

// dockerVolume checks a dockerVolumeConfiguration: the local driver only (ecsd runs no
// volume plugins), its options as Docker's local driver takes them.
func dockerVolume(v *Volume, out *v1alpha1.Volume) error {
	dc := v.DockerVolumeConfiguration
	if dc == nil {
		dc = &DockerVolumeConfiguration{}
	}
	scope := dc.Scope
	if scope == "" {
		scope = "task"
	}
	if scope != "task" && scope != "shared" {
		return fmt.Errorf("dockerVolumeConfiguration.scope: %w %q (want task or shared)", ErrInvalidValue, dc.Scope)
	}
	if dc.Driver != "" && dc.Driver != "local" {
		return fmt.Errorf("dockerVolumeConfiguration.driver %q: %w: ecsd has no Docker volume plugins, only the local driver", dc.Driver, ErrUnsupported)
	}
	for k := range dc.DriverOpts {
		if !localDriverOpts[k] {
			return fmt.Errorf("dockerVolumeConfiguration.driverOpts: %w %q (the local driver takes type, o and device)", ErrInvalidValue, k)
		}
	}
	if o := dc.DriverOpts; len(o) > 0 {
		if o["type"] == "" && (o["device"] != "" || o["o"] != "") {
			return fmt.Errorf("dockerVolumeConfiguration.driverOpts: %w: device and o need a type", ErrMissing)
		}
		if o["type"] != "" && o["device"] == "" {
			return fmt.Errorf("dockerVolumeConfiguration.driverOpts.device: %w (type %s needs a device)", ErrMissing, o["type"])
		}
	}
	out.Scope = scope
	out.Autoprovision = dc.Autoprovision
	out.Driver = dc.Driver
	out.DriverOpts = copyMap(dc.DriverOpts)
	out.Labels = copyMap(dc.Labels)
	return nil
}

// efsVolume checks an efsVolumeConfiguration as ECS does (the access point and IAM need
// transit encryption), and refuses what ecsd cannot do: the access point and IAM
// authorization travel in the TLS client certificate the EFS mount helper makes, which
// ecsd does not make, so such a mount would reach the file system without them.
func efsVolume(c *EFSVolumeConfiguration) (*v1alpha1.EFSVolume, error) {
	if c == nil || c.FileSystemID == "" {
		return nil, fmt.Errorf("efsVolumeConfiguration.fileSystemId: %w", ErrMissing)
	}
	if !validFileSystemID(c.FileSystemID) {
		return nil, fmt.Errorf("efsVolumeConfiguration.fileSystemId: %w %q (want fs-<hex>)", ErrInvalidValue, c.FileSystemID)
	}
	out := &v1alpha1.EFSVolume{FileSystemID: c.FileSystemID, RootDirectory: c.RootDirectory}
	if out.RootDirectory != "" && !strings.HasPrefix(out.RootDirectory, "/") {
		out.RootDirectory = "/" + out.RootDirectory
	}
	if strings.ContainsAny(out.RootDirectory, ",\x00\n") || strings.Contains(out.RootDirectory, "/../") || strings.HasSuffix(out.RootDirectory, "/..") {
		return nil, fmt.Errorf("efsVolumeConfiguration.rootDirectory: %w %q", ErrInvalidValue, c.RootDirectory)
	}
	var err error
	if out.TransitEncryption, err = enabledDisabled("transitEncryption", c.TransitEncryption); err != nil {
		return nil, err
	}
	if p := c.TransitEncryptionPort; p < 0 || p > 65535 {
		return nil, fmt.Errorf("efsVolumeConfiguration.transitEncryptionPort: %w %d", ErrInvalidValue, p)
	}
	out.TransitEncryptionPort = c.TransitEncryptionPort
	if a := c.AuthorizationConfig; a != nil {
		if out.IAM, err = enabledDisabled("authorizationConfig.iam", a.IAM); err != nil {
			return nil, err
		}
		out.AccessPointID = a.AccessPointID
	}
	if (out.IAM || out.AccessPointID != "") && !out.TransitEncryption {
		return nil, fmt.Errorf("efsVolumeConfiguration: %w: an access point or IAM authorization needs transitEncryption ENABLED", ErrInvalidValue)
	}
	if out.AccessPointID != "" && out.RootDirectory != "" && out.RootDirectory != "/" {
		return nil, fmt.Errorf("efsVolumeConfiguration.rootDirectory: %w: with an access point it must be omitted or /", ErrInvalidValue)
	}
	if out.AccessPointID != "" {
		return nil, fmt.Errorf("efsVolumeConfiguration.authorizationConfig.accessPointId: %w: ecsd does not make the EFS mount helper's TLS client certificate that carries the access point", ErrUnsupported)
	}
	if out.IAM {
		return nil, fmt.Errorf("efsVolumeConfiguration.authorizationConfig.iam: %w: ecsd does not make the EFS mount helper's TLS client certificate that carries the IAM signature", ErrUnsupported)
	}
	return out, nil
}

func enabledDisabled(member, v string) (bool, error) {
	switch v {
	case "", "DISABLED":
		return false, nil
	case "ENABLED":
		return true, nil
	}
	return false, fmt.Errorf("efsVolumeConfiguration.%s: %w %q (want ENABLED or DISABLED)", member, ErrInvalidValue, v)
}

// validFileSystemID: fs- and 8 or 17 hex digits, as EFS names file systems; it becomes a
// host name, so nothing else may pass.
func validFileSystemID(id string) bool {
	hex, ok := strings.CutPrefix(id, "fs-")
	if !ok || (len(hex) != 8 && len(hex) != 17) {
		return false
	}
	for _, r := range hex {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
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
