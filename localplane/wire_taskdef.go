package localplane

import "encoding/json"

// Task definition shapes. The registered definition is stored as received (these structs)
// and echoed by DescribeTaskDefinition; translate.go turns it into ACS payload tasks.
// Members ecsd does not act on but ECS accepts are kept so that they round-trip.

type containerDefinition struct {
	Name                   string                 `json:"name,omitempty"`
	Image                  string                 `json:"image,omitempty"`
	RepositoryCredentials  *repositoryCredentials `json:"repositoryCredentials,omitempty"`
	CPU                    int32                  `json:"cpu"`
	Memory                 *int32                 `json:"memory,omitempty"`
	MemoryReservation      *int32                 `json:"memoryReservation,omitempty"`
	Links                  []string               `json:"links,omitempty"`
	PortMappings           []portMapping          `json:"portMappings"`
	Essential              *bool                  `json:"essential,omitempty"`
	RestartPolicy          *restartPolicy         `json:"restartPolicy,omitempty"`
	EntryPoint             []string               `json:"entryPoint,omitempty"`
	Command                []string               `json:"command,omitempty"`
	Environment            []keyValuePair         `json:"environment"`
	EnvironmentFiles       []environmentFile      `json:"environmentFiles,omitempty"`
	MountPoints            []mountPoint           `json:"mountPoints"`
	VolumesFrom            []volumeFrom           `json:"volumesFrom"`
	LinuxParameters        *linuxParameters       `json:"linuxParameters,omitempty"`
	Secrets                []secret               `json:"secrets,omitempty"`
	DependsOn              []containerDependency  `json:"dependsOn,omitempty"`
	StartTimeout           *int32                 `json:"startTimeout,omitempty"`
	StopTimeout            *int32                 `json:"stopTimeout,omitempty"`
	Hostname               string                 `json:"hostname,omitempty"`
	User                   string                 `json:"user,omitempty"`
	WorkingDirectory       string                 `json:"workingDirectory,omitempty"`
	DisableNetworking      *bool                  `json:"disableNetworking,omitempty"`
	Privileged             *bool                  `json:"privileged,omitempty"`
	ReadonlyRootFilesystem *bool                  `json:"readonlyRootFilesystem,omitempty"`
	DNSServers             []string               `json:"dnsServers,omitempty"`
	DNSSearchDomains       []string               `json:"dnsSearchDomains,omitempty"`
	ExtraHosts             []hostEntry            `json:"extraHosts,omitempty"`
	DockerSecurityOptions  []string               `json:"dockerSecurityOptions,omitempty"`
	Interactive            *bool                  `json:"interactive,omitempty"`
	PseudoTerminal         *bool                  `json:"pseudoTerminal,omitempty"`
	DockerLabels           map[string]string      `json:"dockerLabels,omitempty"`
	Ulimits                []ulimit               `json:"ulimits,omitempty"`
	LogConfiguration       *logConfiguration      `json:"logConfiguration,omitempty"`
	HealthCheck            *healthCheck           `json:"healthCheck,omitempty"`
	SystemControls         []systemControl        `json:"systemControls"`
	ResourceRequirements   []resourceRequirement  `json:"resourceRequirements,omitempty"`
	FirelensConfiguration  *firelensConfiguration `json:"firelensConfiguration,omitempty"`
	CredentialSpecs        []string               `json:"credentialSpecs,omitempty"`
}

type repositoryCredentials struct {
	CredentialsParameter string `json:"credentialsParameter"`
}

type portMapping struct {
	ContainerPort      *int32 `json:"containerPort,omitempty"`
	HostPort           *int32 `json:"hostPort,omitempty"`
	Protocol           string `json:"protocol,omitempty"`
	Name               string `json:"name,omitempty"`
	AppProtocol        string `json:"appProtocol,omitempty"`
	ContainerPortRange string `json:"containerPortRange,omitempty"`
}

type restartPolicy struct {
	Enabled              *bool   `json:"enabled"`
	IgnoredExitCodes     []int32 `json:"ignoredExitCodes,omitempty"`
	RestartAttemptPeriod *int32  `json:"restartAttemptPeriod,omitempty"`
}

type environmentFile struct {
	Value string `json:"value"`
	Type  string `json:"type"`
}

type mountPoint struct {
	SourceVolume  string `json:"sourceVolume,omitempty"`
	ContainerPath string `json:"containerPath,omitempty"`
	ReadOnly      *bool  `json:"readOnly,omitempty"`
}

type volumeFrom struct {
	SourceContainer string `json:"sourceContainer,omitempty"`
	ReadOnly        *bool  `json:"readOnly,omitempty"`
}

type linuxParameters struct {
	Capabilities       *kernelCapabilities `json:"capabilities,omitempty"`
	Devices            []device            `json:"devices,omitempty"`
	InitProcessEnabled *bool               `json:"initProcessEnabled,omitempty"`
	SharedMemorySize   *int32              `json:"sharedMemorySize,omitempty"`
	Tmpfs              []tmpfs             `json:"tmpfs,omitempty"`
	MaxSwap            *int32              `json:"maxSwap,omitempty"`
	Swappiness         *int32              `json:"swappiness,omitempty"`
}

type kernelCapabilities struct {
	Add  []string `json:"add,omitempty"`
	Drop []string `json:"drop,omitempty"`
}

type device struct {
	HostPath      string   `json:"hostPath"`
	ContainerPath string   `json:"containerPath,omitempty"`
	Permissions   []string `json:"permissions,omitempty"`
}

type tmpfs struct {
	ContainerPath string   `json:"containerPath"`
	Size          int32    `json:"size"`
	MountOptions  []string `json:"mountOptions,omitempty"`
}

type secret struct {
	Name      string `json:"name"`
	ValueFrom string `json:"valueFrom"`
}

type containerDependency struct {
	ContainerName string `json:"containerName"`
	Condition     string `json:"condition"`
}

type hostEntry struct {
	Hostname  string `json:"hostname"`
	IPAddress string `json:"ipAddress"`
}

type ulimit struct {
	Name      string `json:"name"`
	SoftLimit int32  `json:"softLimit"`
	HardLimit int32  `json:"hardLimit"`
}

type logConfiguration struct {
	LogDriver     string            `json:"logDriver"`
	Options       map[string]string `json:"options,omitempty"`
	SecretOptions []secret          `json:"secretOptions,omitempty"`
}

type healthCheck struct {
	Command     []string `json:"command"`
	Interval    *int32   `json:"interval,omitempty"`
	Timeout     *int32   `json:"timeout,omitempty"`
	Retries     *int32   `json:"retries,omitempty"`
	StartPeriod *int32   `json:"startPeriod,omitempty"`
}

type systemControl struct {
	Namespace string `json:"namespace,omitempty"`
	Value     string `json:"value,omitempty"`
}

type resourceRequirement struct {
	Value string `json:"value"`
	Type  string `json:"type"`
}

type firelensConfiguration struct {
	Type    string            `json:"type"`
	Options map[string]string `json:"options,omitempty"`
}

type volume struct {
	Name                                    string                     `json:"name,omitempty"`
	Host                                    *hostVolumeProperties      `json:"host,omitempty"`
	DockerVolumeConfiguration               *dockerVolumeConfiguration `json:"dockerVolumeConfiguration,omitempty"`
	EFSVolumeConfiguration                  *efsVolumeConfiguration    `json:"efsVolumeConfiguration,omitempty"`
	FSxWindowsFileServerVolumeConfiguration json.RawMessage            `json:"fsxWindowsFileServerVolumeConfiguration,omitempty"`
	ConfiguredAtLaunch                      *bool                      `json:"configuredAtLaunch,omitempty"`
}

type efsVolumeConfiguration struct {
	FileSystemID          string                  `json:"fileSystemId"`
	RootDirectory         string                  `json:"rootDirectory,omitempty"`
	TransitEncryption     string                  `json:"transitEncryption,omitempty"`
	TransitEncryptionPort *int64                  `json:"transitEncryptionPort,omitempty"`
	AuthorizationConfig   *efsAuthorizationConfig `json:"authorizationConfig,omitempty"`
}

type efsAuthorizationConfig struct {
	AccessPointID string `json:"accessPointId,omitempty"`
	IAM           string `json:"iam,omitempty"`
}

type hostVolumeProperties struct {
	SourcePath string `json:"sourcePath,omitempty"`
}

type dockerVolumeConfiguration struct {
	Scope         string            `json:"scope,omitempty"`
	Autoprovision *bool             `json:"autoprovision,omitempty"`
	Driver        string            `json:"driver,omitempty"`
	DriverOpts    map[string]string `json:"driverOpts,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
}

type runtimePlatform struct {
	CPUArchitecture       string `json:"cpuArchitecture,omitempty"`
	OperatingSystemFamily string `json:"operatingSystemFamily,omitempty"`
}

type placementConstraint struct {
	Type       string `json:"type,omitempty"`
	Expression string `json:"expression,omitempty"`
}

// taskDefinition is both the stored record and the TaskDefinition output shape.
type taskDefinition struct {
	TaskDefinitionArn       string                `json:"taskDefinitionArn"`
	ContainerDefinitions    []containerDefinition `json:"containerDefinitions"`
	Family                  string                `json:"family"`
	TaskRoleArn             string                `json:"taskRoleArn,omitempty"`
	ExecutionRoleArn        string                `json:"executionRoleArn,omitempty"`
	NetworkMode             string                `json:"networkMode,omitempty"`
	Revision                int32                 `json:"revision"`
	Volumes                 []volume              `json:"volumes"`
	Status                  string                `json:"status"`
	RequiresAttributes      []attribute           `json:"requiresAttributes"`
	PlacementConstraints    []placementConstraint `json:"placementConstraints"`
	Compatibilities         []string              `json:"compatibilities"`
	RuntimePlatform         *runtimePlatform      `json:"runtimePlatform,omitempty"`
	RequiresCompatibilities []string              `json:"requiresCompatibilities,omitempty"`
	CPU                     string                `json:"cpu,omitempty"`
	Memory                  string                `json:"memory,omitempty"`
	PIDMode                 string                `json:"pidMode,omitempty"`
	IPCMode                 string                `json:"ipcMode,omitempty"`
	ProxyConfiguration      json.RawMessage       `json:"proxyConfiguration,omitempty"`
	RegisteredAt            Timestamp             `json:"registeredAt,omitzero"`
	DeregisteredAt          Timestamp             `json:"deregisteredAt,omitzero"`
	RegisteredBy            string                `json:"registeredBy,omitempty"`
	EphemeralStorage        json.RawMessage       `json:"ephemeralStorage,omitempty"`
}

type registerTaskDefinitionRequest struct {
	Family                  string                `json:"family"`
	TaskRoleArn             string                `json:"taskRoleArn,omitempty"`
	ExecutionRoleArn        string                `json:"executionRoleArn,omitempty"`
	NetworkMode             string                `json:"networkMode,omitempty"`
	ContainerDefinitions    []containerDefinition `json:"containerDefinitions"`
	Volumes                 []volume              `json:"volumes,omitempty"`
	PlacementConstraints    []placementConstraint `json:"placementConstraints,omitempty"`
	RequiresCompatibilities []string              `json:"requiresCompatibilities,omitempty"`
	CPU                     string                `json:"cpu,omitempty"`
	Memory                  string                `json:"memory,omitempty"`
	Tags                    []tag                 `json:"tags,omitempty"`
	PIDMode                 string                `json:"pidMode,omitempty"`
	IPCMode                 string                `json:"ipcMode,omitempty"`
	ProxyConfiguration      json.RawMessage       `json:"proxyConfiguration,omitempty"`
	InferenceAccelerators   json.RawMessage       `json:"inferenceAccelerators,omitempty"`
	EphemeralStorage        json.RawMessage       `json:"ephemeralStorage,omitempty"`
	RuntimePlatform         *runtimePlatform      `json:"runtimePlatform,omitempty"`
}

type taskDefinitionResponse struct {
	TaskDefinition *taskDefinition `json:"taskDefinition"`
	Tags           []tag           `json:"tags,omitempty"`
}

type describeTaskDefinitionRequest struct {
	TaskDefinition string   `json:"taskDefinition"`
	Include        []string `json:"include,omitempty"`
}

type listTaskDefinitionsRequest struct {
	FamilyPrefix string `json:"familyPrefix,omitempty"`
	Status       string `json:"status,omitempty"`
	Sort         string `json:"sort,omitempty"`
	paging
}

type listTaskDefinitionsResponse struct {
	TaskDefinitionArns []string `json:"taskDefinitionArns"`
	NextToken          string   `json:"nextToken,omitempty"`
}

type deregisterTaskDefinitionRequest struct {
	TaskDefinition string `json:"taskDefinition"`
}
