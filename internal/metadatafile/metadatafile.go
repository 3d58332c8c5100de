// Package metadatafile builds and writes the container metadata file that the reference ECS
// agent offers when ECS_ENABLE_CONTAINER_METADATA=true (spec ECS-AGENT-ENDPOINTS.md §4).
//
// The file lives on the host at <dataDir>/metadata/<taskID>/<containerName>/
// ecs-container-metadata.json. That directory is bind-mounted into the container at
// ContainerDir/<random uuid>/ and ECS_CONTAINER_METADATA_FILE names the file there. It is
// written twice: when the container is created (Build with ready=false) and once it is
// running (ready=true). Readers poll it and wait for "MetadataFileStatus": "READY", so the
// shape of the JSON is a contract: the field names, their casing and which keys are left
// out when empty follow the reference agent byte for byte.
//
// The package is pure: Build only reads the objects it is given and the write helpers only
// touch the paths they are given, so the controllers decide when each write happens.
package metadatafile

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

const (
	// ContainerDir is the root the metadata directories are mounted under inside containers.
	// The reference agent adds a random uuid below it so the mount cannot clash with a
	// volume of the task definition.
	ContainerDir = "/opt/ecs/metadata"
	// FileName is the file's name, on the host and in the container.
	FileName = "ecs-container-metadata.json"
	// EnvVar is the environment variable that gives the container the file's path,
	// ContainerDir/<uuid>/FileName.
	EnvVar = "ECS_CONTAINER_METADATA_FILE"
	// StatusReady is MetadataFileStatus in the second write. The first write's status,
	// INITIAL, is the reference agent's numeric zero, which omitempty drops: its key is absent.
	StatusReady = "READY"
)

// Network modes as they appear in the task definition and in the file.
const (
	modeBridge = api.NetworkModeBridge
	modeAWSVPC = api.NetworkModeAWSVPC
)

// Instance is what the file says about the host. The fields are copied as they are; empty
// ones are left out of the file.
type Instance struct {
	Cluster                string
	ContainerInstanceARN   string
	AvailabilityZone       string
	HostPrivateIPv4Address string
	HostPublicIPv4Address  string
	HostIPv6Address        string
}

// File is the metadata file's content. Every field is omitempty, as in the reference agent,
// so a value that is not known yet is an absent key rather than an empty one.
type File struct {
	Cluster                string        `json:"Cluster,omitempty"`
	ContainerInstanceARN   string        `json:"ContainerInstanceARN,omitempty"`
	TaskARN                string        `json:"TaskARN,omitempty"`
	TaskDefinitionFamily   string        `json:"TaskDefinitionFamily,omitempty"`
	TaskDefinitionRevision string        `json:"TaskDefinitionRevision,omitempty"`
	ContainerID            string        `json:"ContainerID,omitempty"`
	ContainerName          string        `json:"ContainerName,omitempty"`
	DockerContainerName    string        `json:"DockerContainerName,omitempty"`
	ImageID                string        `json:"ImageID,omitempty"`
	ImageName              string        `json:"ImageName,omitempty"`
	PortMappings           []PortMapping `json:"PortMappings,omitempty"`
	Networks               []Network     `json:"Networks,omitempty"`
	MetadataFileStatus     string        `json:"MetadataFileStatus,omitempty"`
	AvailabilityZone       string        `json:"AvailabilityZone,omitempty"`
	HostPrivateIPv4Address string        `json:"HostPrivateIPv4Address,omitempty"`
	HostPublicIPv4Address  string        `json:"HostPublicIPv4Address,omitempty"`
	HostIPv6Address        string        `json:"HostIPv6Address,omitempty"`
}

// PortMapping is one published port. Unlike File, none of its fields is omitempty: the
// reference agent's PortBinding has no tags except BindIp's rename, so every key is always
// there, ContainerPortRange included (as "" for a single port).
type PortMapping struct {
	ContainerPort      int32  `json:"ContainerPort"`
	ContainerPortRange string `json:"ContainerPortRange"`
	HostPort           int32  `json:"HostPort"`
	BindIP             string `json:"BindIp"`
	Protocol           string `json:"Protocol"`
}

// Network is one network the container is attached to.
type Network struct {
	NetworkMode   string   `json:"NetworkMode,omitempty"`
	IPv4Addresses []string `json:"IPv4Addresses,omitempty"`
	IPv6Addresses []string `json:"IPv6Addresses,omitempty"`
}

// Build returns the file's content for container c of task. With ready=false it is the
// first (INITIAL) write, made before the container exists: it carries only what the task
// definition and the instance say, as the reference agent's create-time write does. With
// ready=true it is the READY write and adds what the runtime knows: IDs, image, ports and
// networks. task and c must not be nil.
func Build(task *api.Task, c *api.Container, in Instance, ready bool) File {
	f := File{
		Cluster:                in.Cluster,
		ContainerInstanceARN:   in.ContainerInstanceARN,
		TaskARN:                task.Spec.ARN,
		TaskDefinitionFamily:   task.Spec.Family,
		TaskDefinitionRevision: task.Spec.Version,
		ContainerName:          c.Spec.Name,
		AvailabilityZone:       in.AvailabilityZone,
		HostPrivateIPv4Address: in.HostPrivateIPv4Address,
		HostPublicIPv4Address:  in.HostPublicIPv4Address,
		HostIPv6Address:        in.HostIPv6Address,
	}
	if !ready {
		return f
	}
	f.MetadataFileStatus = StatusReady
	f.ContainerID = c.Status.RuntimeID
	if c.Status.RuntimeID != "" {
		// Docker reports names with a leading slash and readers of this file expect it.
		f.DockerContainerName = "/" + api.DockerName(task, c)
	}
	f.ImageID = c.Status.ImageID // the config digest: Docker's image ID
	f.ImageName = c.Spec.Image
	f.PortMappings = portMappings(task, c)
	f.Networks = networks(task, c)
	return f
}

// portMappings lists the container's published ports as Docker would: one entry per port,
// so a range binding is expanded (the file has no host range field to carry it otherwise).
// An awsvpc container has no host bindings of its own; its ports are the task definition's,
// reachable on the ENI at the same number, so HostPort = ContainerPort as in task metadata.
func portMappings(t *api.Task, c *api.Container) []PortMapping {
	var out []PortMapping
	if t.NetworkMode() == modeAWSVPC {
		for _, b := range awsvpcBindings(c) {
			b.HostPort = b.ContainerPort
			b.HostPortRange = b.ContainerPortRange
			out = appendBinding(out, b)
		}
		return out
	}
	for _, b := range c.Status.NetworkBindings {
		out = appendBinding(out, b)
	}
	return out
}

// awsvpcBindings are the bindings recorded for an awsvpc container, or the task
// definition's port mappings while none are, the way task metadata shows them.
func awsvpcBindings(c *api.Container) []api.NetworkBinding {
	if len(c.Status.NetworkBindings) > 0 {
		return c.Status.NetworkBindings
	}
	out := make([]api.NetworkBinding, 0, len(c.Spec.PortMappings))
	for _, pm := range c.Spec.PortMappings {
		out = append(out, api.NetworkBinding{
			ContainerPort:      pm.ContainerPort,
			HostPort:           pm.HostPort,
			ContainerPortRange: pm.ContainerPortRange,
			Protocol:           pm.Protocol,
		})
	}
	return out
}

// appendBinding appends b to out, one entry per port. A range whose two halves cannot be
// paired up is kept as a single entry carrying ContainerPortRange, so it is not lost.
func appendBinding(out []PortMapping, b api.NetworkBinding) []PortMapping {
	proto := strings.ToLower(b.Protocol)
	if proto == "" {
		// The reference agent's zero TransportProtocol is tcp.
		proto = "tcp"
	}
	if b.ContainerPortRange == "" {
		return append(out, PortMapping{ContainerPort: b.ContainerPort, HostPort: b.HostPort, BindIP: b.BindIP, Protocol: proto})
	}
	c0, c1, cerr := parseRange(b.ContainerPortRange)
	h0, h1, herr := parseRange(b.HostPortRange)
	if cerr != nil || herr != nil || c1-c0 != h1-h0 {
		return append(out, PortMapping{ContainerPort: b.ContainerPort, ContainerPortRange: b.ContainerPortRange, HostPort: b.HostPort, BindIP: b.BindIP, Protocol: proto})
	}
	for i := int32(0); i <= c1-c0; i++ {
		out = append(out, PortMapping{ContainerPort: c0 + i, HostPort: h0 + i, BindIP: b.BindIP, Protocol: proto})
	}
	return out
}

// parseRange parses "a-b" with 1 <= a <= b <= 65535.
func parseRange(s string) (int32, int32, error) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("port range %q: want a-b", s)
	}
	a, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	if err != nil {
		return 0, 0, fmt.Errorf("port range %q: %w", s, err)
	}
	b, err := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	if err != nil {
		return 0, 0, fmt.Errorf("port range %q: %w", s, err)
	}
	if a == 0 || a > b {
		return 0, 0, fmt.Errorf("port range %q: want 1 <= a <= b", s)
	}
	return int32(a), int32(b), nil
}

// networks is the container's network as Docker would name it: its own address on the
// bridge, the task ENI's address for awsvpc, and just the mode for host and none, which
// have no address of their own.
func networks(t *api.Task, c *api.Container) []Network {
	mode := t.NetworkMode()
	n := Network{NetworkMode: mode}
	var ns *api.NetworkStatus
	switch mode {
	case modeBridge:
		ns = c.Status.Network
	case modeAWSVPC:
		ns = t.Status.Network
	}
	// A released namespace's address may already belong to someone else.
	if ns != nil && ns.ReleasedAt == nil && ns.IPv4Address != "" {
		n.IPv4Addresses = []string{ns.IPv4Address}
	}
	return []Network{n}
}

// encode is the file's bytes: tab-indented like the reference agent's json.MarshalIndent,
// with no trailing newline.
func encode(f File) ([]byte, error) {
	b, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		return nil, fmt.Errorf("metadata file: encode: %w", err)
	}
	return b, nil
}
