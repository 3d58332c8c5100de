package payload

// Wire shapes of an ACS task as it arrives inside a PayloadMessage. Field names and JSON keys
// follow protocol/acs/api-2.json member for member. Only members the model boxes
// (BoxedBoolean, BoxedInteger, NullableLong) are pointers; for the others the model gives
// absent and zero the same meaning.

// Task is the ACS "Task" shape: one task to run or stop, with its whole definition.
type Task struct {
	Arn                      string              `json:"arn,omitempty"`
	TaskClusterArn           string              `json:"taskClusterArn,omitempty"`
	Containers               []Container         `json:"containers,omitempty"`
	DesiredStatus            string              `json:"desiredStatus,omitempty"`
	Family                   string              `json:"family,omitempty"`
	Overrides                *EmbeddedJSON       `json:"overrides,omitempty"`
	Version                  string              `json:"version,omitempty"`
	Zone                     string              `json:"zone,omitempty"`
	TaskDefinitionAccountID  string              `json:"taskDefinitionAccountId,omitempty"`
	Volumes                  []Volume            `json:"volumes,omitempty"`
	RoleCredentials          *IAMRoleCredentials `json:"roleCredentials,omitempty"`
	ExecutionRoleCredentials *IAMRoleCredentials `json:"executionRoleCredentials,omitempty"`
	// ElasticNetworkInterfaces are the task's awsvpc ENIs.
	ElasticNetworkInterfaces []ElasticNetworkInterface `json:"elasticNetworkInterfaces,omitempty"`
	// CPU is the task-level CPU limit in vCPUs (0.25 = a quarter of one vCPU).
	CPU float64 `json:"cpu,omitempty"`
	// Memory is the task-level memory limit in MiB.
	Memory                        int64                          `json:"memory,omitempty"`
	Associations                  []Association                  `json:"associations,omitempty"`
	PIDMode                       string                         `json:"pidMode,omitempty"`
	IPCMode                       string                         `json:"ipcMode,omitempty"`
	ProxyConfiguration            *ProxyConfiguration            `json:"proxyConfiguration,omitempty"`
	AgentConfiguration            string                         `json:"agentConfiguration,omitempty"`
	LaunchType                    string                         `json:"launchType,omitempty"`
	Attachments                   []Attachment                   `json:"attachments,omitempty"`
	NetworkMode                   string                         `json:"networkMode,omitempty"`
	ServiceName                   string                         `json:"serviceName,omitempty"`
	Group                         string                         `json:"group,omitempty"`
	EnableFaultInjection          bool                           `json:"enableFaultInjection,omitempty"`
	TrustedExecutionConfiguration *TrustedExecutionConfiguration `json:"trustedExecutionConfiguration,omitempty"`
}

// Container is the ACS "Container" shape: one container definition of a task. Many
// task-definition settings are not members here but Docker Engine API JSON inside
// DockerConfig (see dockerconfig.go).
type Container struct {
	Command          []string          `json:"command,omitempty"`
	CPU              int64             `json:"cpu,omitempty"`
	CredentialSpecs  []string          `json:"credentialSpecs,omitempty"`
	EntryPoint       []string          `json:"entryPoint,omitempty"`
	Environment      map[string]string `json:"environment,omitempty"`
	EnvironmentFiles []EnvironmentFile `json:"environmentFiles,omitempty"`
	Essential        bool              `json:"essential,omitempty"`
	RestartPolicy    *RestartPolicy    `json:"restartPolicy,omitempty"`
	Image            string            `json:"image,omitempty"`
	Links            []string          `json:"links,omitempty"`
	// Memory is the hard memory limit in MiB.
	Memory int64  `json:"memory,omitempty"`
	Name   string `json:"name,omitempty"`
	// Overrides is a JSON document (sent as a string) whose "command" replaces Command.
	Overrides              *EmbeddedJSON               `json:"overrides,omitempty"`
	PortMappings           []PortMapping               `json:"portMappings,omitempty"`
	ManagedAgents          []ManagedAgent              `json:"managedAgents,omitempty"`
	MountPoints            []MountPoint                `json:"mountPoints,omitempty"`
	LinuxParameters        *LinuxParameters            `json:"linuxParameters,omitempty"`
	Privileged             *bool                       `json:"privileged,omitempty"`
	NetworkInterfaceNames  []string                    `json:"networkInterfaceNames,omitempty"`
	VolumesFrom            []VolumeFrom                `json:"volumesFrom,omitempty"`
	DockerConfig           *DockerConfig               `json:"dockerConfig,omitempty"`
	HealthCheckType        string                      `json:"healthCheckType,omitempty"`
	RegistryAuthentication *RegistryAuthenticationData `json:"registryAuthentication,omitempty"`
	LogsAuthStrategy       string                      `json:"logsAuthStrategy,omitempty"`
	Secrets                []Secret                    `json:"secrets,omitempty"`
	DependsOn              []ContainerDependency       `json:"dependsOn,omitempty"`
	// StartTimeout and StopTimeout are in seconds; zero means the agent's default.
	StartTimeout          int64                  `json:"startTimeout,omitempty"`
	StopTimeout           int64                  `json:"stopTimeout,omitempty"`
	FirelensConfiguration *FirelensConfiguration `json:"firelensConfiguration,omitempty"`
	ContainerArn          string                 `json:"containerArn,omitempty"`
}

// DockerConfig carries Docker Engine API JSON documents: Config is a container.Config,
// HostConfig a container.HostConfig, Version the Docker API level they were written for.
type DockerConfig struct {
	Version    *string       `json:"version,omitempty"`
	Config     *EmbeddedJSON `json:"config,omitempty"`
	HostConfig *EmbeddedJSON `json:"hostConfig,omitempty"`
}

// PortMapping maps a container port (or range "a-b") to a host port; HostPort 0 asks for a
// dynamic port.
type PortMapping struct {
	ContainerPort      int64  `json:"containerPort,omitempty"`
	HostPort           int64  `json:"hostPort,omitempty"`
	ContainerPortRange string `json:"containerPortRange,omitempty"`
	// Protocol is "tcp" (the default when empty) or "udp".
	Protocol string `json:"protocol,omitempty"`
}

// MountPoint mounts the task volume SourceVolume at ContainerPath.
type MountPoint struct {
	SourceVolume  string `json:"sourceVolume,omitempty"`
	ContainerPath string `json:"containerPath,omitempty"`
	ReadOnly      bool   `json:"readOnly,omitempty"`
}

// VolumeFrom mounts every volume of another container of the task.
type VolumeFrom struct {
	SourceContainer string `json:"sourceContainer,omitempty"`
	ReadOnly        bool   `json:"readOnly,omitempty"`
}

// ContainerDependency is one dependsOn entry. The model's enum lacks CREATE, but the
// reference agent accepts it (it is also what volumesFrom implies).
type ContainerDependency struct {
	ContainerName string `json:"containerName,omitempty"`
	Condition     string `json:"condition,omitempty"`
}

// RestartPolicy restarts a container in place when it exits.
type RestartPolicy struct {
	Enabled          bool    `json:"enabled,omitempty"`
	IgnoredExitCodes []int64 `json:"ignoredExitCodes,omitempty"`
	// RestartAttemptPeriod is in seconds.
	RestartAttemptPeriod int64 `json:"restartAttemptPeriod,omitempty"`
}

// LinuxParameters are first-class Linux settings. The backend also encodes them in
// dockerConfig.hostConfig, which wins when both are present.
type LinuxParameters struct {
	Capabilities       *KernelCapabilities `json:"capabilities,omitempty"`
	Devices            []Device            `json:"devices,omitempty"`
	InitProcessEnabled *bool               `json:"initProcessEnabled,omitempty"`
	// SharedMemorySize is in MiB.
	SharedMemorySize *int64 `json:"sharedMemorySize,omitempty"`
}

// KernelCapabilities are capabilities to add to or drop from the default set.
type KernelCapabilities struct {
	Add  []string `json:"add,omitempty"`
	Drop []string `json:"drop,omitempty"`
}

// Device maps a host device; Permissions are "read", "write" and "mknod".
type Device struct {
	HostPath      string   `json:"hostPath"`
	ContainerPath string   `json:"containerPath,omitempty"`
	Permissions   []string `json:"permissions,omitempty"`
}

// RegistryAuthenticationData says how to authenticate the image pull: Type "ecr" uses
// ECRAuthData, "asm" uses ASMAuthData.
type RegistryAuthenticationData struct {
	Type        string       `json:"type,omitempty"`
	ECRAuthData *ECRAuthData `json:"ecrAuthData,omitempty"`
	ASMAuthData *ASMAuthData `json:"asmAuthData,omitempty"`
}

// ECRAuthData locates the ECR registry to get a token for.
type ECRAuthData struct {
	RegistryID       string `json:"registryId,omitempty"`
	Region           string `json:"region,omitempty"`
	EndpointOverride string `json:"endpointOverride,omitempty"`
	UseExecutionRole bool   `json:"useExecutionRole,omitempty"`
}

// ASMAuthData names a Secrets Manager secret holding registry credentials.
type ASMAuthData struct {
	CredentialsParameter string `json:"credentialsParameter,omitempty"`
	Region               string `json:"region,omitempty"`
}

// EnvironmentFile is a file of KEY=VALUE lines to add to the environment.
type EnvironmentFile struct {
	Value string `json:"value,omitempty"`
	Type  string `json:"type,omitempty"`
}

// Secret is an SSM or Secrets Manager value to inject.
type Secret struct {
	Name          string `json:"name,omitempty"`
	ValueFrom     string `json:"valueFrom,omitempty"`
	ContainerPath string `json:"containerPath,omitempty"`
	Type          string `json:"type,omitempty"`
	Region        string `json:"region,omitempty"`
	Provider      string `json:"provider,omitempty"`
	Target        string `json:"target,omitempty"`
}

// FirelensConfiguration makes a container the task's FireLens log router.
type FirelensConfiguration struct {
	Type    string            `json:"type,omitempty"`
	Options map[string]string `json:"options,omitempty"`
}

// ManagedAgent is an agent ECS runs inside the container (ECS Exec).
type ManagedAgent struct {
	Name       string            `json:"name,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
}

// Volume is a task volume. Type is one of host, docker, efs, fsxWindowsFileServer, ebs,
// logDriverOutput; an empty type means host.
type Volume struct {
	Name                                    string                                   `json:"name,omitempty"`
	Type                                    string                                   `json:"type,omitempty"`
	Host                                    *HostVolumeProperties                    `json:"host,omitempty"`
	DockerVolumeConfiguration               *DockerVolumeConfiguration               `json:"dockerVolumeConfiguration,omitempty"`
	EFSVolumeConfiguration                  *EFSVolumeConfiguration                  `json:"efsVolumeConfiguration,omitempty"`
	FSxWindowsFileServerVolumeConfiguration *FSxWindowsFileServerVolumeConfiguration `json:"fsxWindowsFileServerVolumeConfiguration,omitempty"`
	EBSVolumeConfiguration                  *EBSVolumeConfiguration                  `json:"ebsVolumeConfiguration,omitempty"`
	LogDriverVolumeConfiguration            *LogDriverVolumeConfiguration            `json:"logDriverVolumeConfiguration,omitempty"`
}

// HostVolumeProperties: SourcePath is the bind source; empty means an agent-managed
// directory that lives as long as the task.
type HostVolumeProperties struct {
	SourcePath string `json:"sourcePath,omitempty"`
}

// DockerVolumeConfiguration describes a Docker named volume.
type DockerVolumeConfiguration struct {
	Scope         string            `json:"scope,omitempty"`
	Autoprovision bool              `json:"autoprovision,omitempty"`
	Driver        string            `json:"driver,omitempty"`
	DriverOpts    map[string]string `json:"driverOpts,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
}

// EFSVolumeConfiguration describes an Amazon EFS volume (not supported by ecsd).
type EFSVolumeConfiguration struct {
	FileSystemID          string                  `json:"fileSystemId,omitempty"`
	RootDirectory         string                  `json:"rootDirectory,omitempty"`
	TransitEncryption     string                  `json:"transitEncryption,omitempty"`
	TransitEncryptionPort int64                   `json:"transitEncryptionPort,omitempty"`
	AuthorizationConfig   *EFSAuthorizationConfig `json:"authorizationConfig,omitempty"`
}

// EFSAuthorizationConfig is the EFS access point and IAM setting.
type EFSAuthorizationConfig struct {
	AccessPointID string `json:"accessPointId,omitempty"`
	IAM           string `json:"iam,omitempty"`
}

// FSxWindowsFileServerVolumeConfiguration describes an FSx for Windows volume (not
// supported by ecsd).
type FSxWindowsFileServerVolumeConfiguration struct {
	FileSystemID        string                                   `json:"fileSystemId,omitempty"`
	RootDirectory       string                                   `json:"rootDirectory,omitempty"`
	AuthorizationConfig *FSxWindowsFileServerAuthorizationConfig `json:"authorizationConfig,omitempty"`
}

// FSxWindowsFileServerAuthorizationConfig holds the FSx credentials parameter and domain.
type FSxWindowsFileServerAuthorizationConfig struct {
	CredentialsParameter string `json:"credentialsParameter,omitempty"`
	Domain               string `json:"domain,omitempty"`
}

// EBSVolumeConfiguration describes a task-attached EBS volume (not supported by ecsd).
type EBSVolumeConfiguration struct {
	VolumeID            string `json:"volumeId,omitempty"`
	DeleteOnTermination bool   `json:"deleteOnTermination,omitempty"`
	DeviceName          string `json:"deviceName,omitempty"`
	FilesystemType      string `json:"filesystemType,omitempty"`
}

// LogDriverVolumeConfiguration describes a log-driver output volume (not supported).
type LogDriverVolumeConfiguration struct {
	Driver string `json:"driver,omitempty"`
}

// ElasticNetworkInterface is an ENI for an awsvpc task or the instance.
type ElasticNetworkInterface struct {
	Name                         string                            `json:"name,omitempty"`
	MacAddress                   string                            `json:"macAddress,omitempty"`
	AttachmentArn                string                            `json:"attachmentArn,omitempty"`
	EC2ID                        string                            `json:"ec2Id,omitempty"`
	Index                        int64                             `json:"index,omitempty"`
	InterfaceAssociationProtocol string                            `json:"interfaceAssociationProtocol,omitempty"`
	InterfaceTunnelProperties    *NetworkInterfaceTunnelProperties `json:"interfaceTunnelProperties,omitempty"`
	InterfaceVethProperties      *NetworkInterfaceVethProperties   `json:"interfaceVethProperties,omitempty"`
	InterfaceVlanProperties      *NetworkInterfaceVlanProperties   `json:"interfaceVlanProperties,omitempty"`
	IPv4Addresses                []IPv4AddressAssignment           `json:"ipv4Addresses,omitempty"`
	IPv6Addresses                []IPv6AddressAssignment           `json:"ipv6Addresses,omitempty"`
	DomainName                   []string                          `json:"domainName,omitempty"`
	DomainNameServers            []string                          `json:"domainNameServers,omitempty"`
	PrivateDNSName               string                            `json:"privateDnsName,omitempty"`
	// SubnetGatewayIPv4Address is "<gateway>/<prefix length>".
	SubnetGatewayIPv4Address string `json:"subnetGatewayIpv4Address,omitempty"`
	SubnetGatewayIPv6Address string `json:"subnetGatewayIpv6Address,omitempty"`
}

// IPv4AddressAssignment is one private IPv4 address of an ENI.
type IPv4AddressAssignment struct {
	PrivateAddress string `json:"privateAddress,omitempty"`
	Primary        bool   `json:"primary,omitempty"`
}

// IPv6AddressAssignment is one IPv6 address of an ENI.
type IPv6AddressAssignment struct {
	Address string `json:"address,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// NetworkInterfaceTunnelProperties are set for interfaceAssociationProtocol "tunnel".
type NetworkInterfaceTunnelProperties struct {
	TunnelID           string `json:"tunnelId,omitempty"`
	InterfaceIPAddress string `json:"interfaceIpAddress,omitempty"`
}

// NetworkInterfaceVethProperties are set for interfaceAssociationProtocol "veth".
type NetworkInterfaceVethProperties struct {
	PeerInterface string `json:"peerInterface,omitempty"`
}

// NetworkInterfaceVlanProperties are set for interfaceAssociationProtocol "vlan" (trunk).
type NetworkInterfaceVlanProperties struct {
	VlanID                   string `json:"vlanId,omitempty"`
	TrunkInterfaceMacAddress string `json:"trunkInterfaceMacAddress,omitempty"`
}

// Attachment is a generic resource attachment (Service Connect, EBS, ...).
type Attachment struct {
	AttachmentArn        string               `json:"attachmentArn,omitempty"`
	AttachmentType       string               `json:"attachmentType,omitempty"`
	AttachmentProperties []AttachmentProperty `json:"attachmentProperties,omitempty"`
}

// AttachmentProperty is one name/value property of an Attachment.
type AttachmentProperty struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
}

// Association binds containers to a resource such as a GPU.
type Association struct {
	Name       string         `json:"name,omitempty"`
	Type       string         `json:"type,omitempty"`
	Content    *EncodedString `json:"content,omitempty"`
	Containers []string       `json:"containers,omitempty"`
}

// EncodedString is a value with its encoding ("identity" or "base64").
type EncodedString struct {
	Value    string `json:"value,omitempty"`
	Encoding string `json:"encoding,omitempty"`
}

// ProxyConfiguration is an App Mesh proxy set-up.
type ProxyConfiguration struct {
	Type          string            `json:"type,omitempty"`
	ContainerName string            `json:"containerName,omitempty"`
	Properties    map[string]string `json:"properties,omitempty"`
}

// TrustedExecutionConfiguration selects an isolation mode for the task.
type TrustedExecutionConfiguration struct {
	IsolationMode string `json:"isolationMode,omitempty"`
}
