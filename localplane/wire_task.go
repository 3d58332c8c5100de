package localplane

import "encoding/json"

type containerOverride struct {
	Name                 string                `json:"name,omitempty"`
	Command              []string              `json:"command,omitempty"`
	Environment          []keyValuePair        `json:"environment,omitempty"`
	EnvironmentFiles     []environmentFile     `json:"environmentFiles,omitempty"`
	CPU                  *int32                `json:"cpu,omitempty"`
	Memory               *int32                `json:"memory,omitempty"`
	MemoryReservation    *int32                `json:"memoryReservation,omitempty"`
	ResourceRequirements []resourceRequirement `json:"resourceRequirements,omitempty"`
}

type taskOverride struct {
	ContainerOverrides            []containerOverride `json:"containerOverrides"`
	CPU                           string              `json:"cpu,omitempty"`
	InferenceAcceleratorOverrides []struct{}          `json:"inferenceAcceleratorOverrides"`
	ExecutionRoleArn              string              `json:"executionRoleArn,omitempty"`
	Memory                        string              `json:"memory,omitempty"`
	TaskRoleArn                   string              `json:"taskRoleArn,omitempty"`
	EphemeralStorage              json.RawMessage     `json:"ephemeralStorage,omitempty"`
}

type runTaskRequest struct {
	CapacityProviderStrategy json.RawMessage       `json:"capacityProviderStrategy,omitempty"`
	Cluster                  string                `json:"cluster,omitempty"`
	Count                    *int32                `json:"count,omitempty"`
	EnableECSManagedTags     bool                  `json:"enableECSManagedTags,omitempty"`
	EnableExecuteCommand     bool                  `json:"enableExecuteCommand,omitempty"`
	Group                    string                `json:"group,omitempty"`
	LaunchType               string                `json:"launchType,omitempty"`
	NetworkConfiguration     *networkConfiguration `json:"networkConfiguration,omitempty"`
	Overrides                *taskOverride         `json:"overrides,omitempty"`
	PlacementConstraints     []placementConstraint `json:"placementConstraints,omitempty"`
	PlacementStrategy        json.RawMessage       `json:"placementStrategy,omitempty"`
	PlatformVersion          string                `json:"platformVersion,omitempty"`
	PropagateTags            string                `json:"propagateTags,omitempty"`
	ReferenceID              string                `json:"referenceId,omitempty"`
	StartedBy                string                `json:"startedBy,omitempty"`
	Tags                     []tag                 `json:"tags,omitempty"`
	TaskDefinition           string                `json:"taskDefinition"`
	ClientToken              string                `json:"clientToken,omitempty"`
	VolumeConfigurations     json.RawMessage       `json:"volumeConfigurations,omitempty"`
}

type startTaskRequest struct {
	Cluster              string                `json:"cluster,omitempty"`
	ContainerInstances   []string              `json:"containerInstances"`
	EnableECSManagedTags bool                  `json:"enableECSManagedTags,omitempty"`
	EnableExecuteCommand bool                  `json:"enableExecuteCommand,omitempty"`
	Group                string                `json:"group,omitempty"`
	NetworkConfiguration *networkConfiguration `json:"networkConfiguration,omitempty"`
	Overrides            *taskOverride         `json:"overrides,omitempty"`
	PropagateTags        string                `json:"propagateTags,omitempty"`
	ReferenceID          string                `json:"referenceId,omitempty"`
	StartedBy            string                `json:"startedBy,omitempty"`
	Tags                 []tag                 `json:"tags,omitempty"`
	TaskDefinition       string                `json:"taskDefinition"`
	VolumeConfigurations json.RawMessage       `json:"volumeConfigurations,omitempty"`
}

// networkConfiguration is RunTask's and StartTask's; only awsvpc tasks take one.
type networkConfiguration struct {
	AwsvpcConfiguration *awsVpcConfiguration `json:"awsvpcConfiguration,omitempty"`
}

type awsVpcConfiguration struct {
	Subnets        []string `json:"subnets"`
	SecurityGroups []string `json:"securityGroups,omitempty"`
	AssignPublicIP string   `json:"assignPublicIp,omitempty"`
}

// attachmentOutput is a task attachment (its ENI) as DescribeTasks shows it.
type attachmentOutput struct {
	ID      string         `json:"id"`
	Type    string         `json:"type"`
	Status  string         `json:"status"`
	Details []keyValuePair `json:"details"`
}

// networkInterface is a container's view of its task's ENI.
type networkInterface struct {
	AttachmentID       string `json:"attachmentId,omitempty"`
	PrivateIPv4Address string `json:"privateIpv4Address,omitempty"`
}

type tasksResponse struct {
	Tasks    []taskOutput `json:"tasks"`
	Failures []failure    `json:"failures"`
}

type containerOutput struct {
	ContainerArn      string             `json:"containerArn"`
	TaskArn           string             `json:"taskArn"`
	Name              string             `json:"name"`
	Image             string             `json:"image,omitempty"`
	ImageDigest       string             `json:"imageDigest,omitempty"`
	RuntimeID         string             `json:"runtimeId,omitempty"`
	LastStatus        string             `json:"lastStatus"`
	ExitCode          *int32             `json:"exitCode,omitempty"`
	Reason            string             `json:"reason,omitempty"`
	NetworkBindings   []NetworkBinding   `json:"networkBindings"`
	NetworkInterfaces []networkInterface `json:"networkInterfaces"`
	HealthStatus      string             `json:"healthStatus,omitempty"`
	CPU               string             `json:"cpu,omitempty"`
	Memory            string             `json:"memory,omitempty"`
	MemoryReservation string             `json:"memoryReservation,omitempty"`
}

type taskOutput struct {
	Attachments          []attachmentOutput `json:"attachments"`
	Attributes           []attribute        `json:"attributes"`
	AvailabilityZone     string             `json:"availabilityZone,omitempty"`
	ClusterArn           string             `json:"clusterArn"`
	Connectivity         string             `json:"connectivity,omitempty"`
	ConnectivityAt       Timestamp          `json:"connectivityAt,omitzero"`
	ContainerInstanceArn string             `json:"containerInstanceArn,omitempty"`
	Containers           []containerOutput  `json:"containers"`
	CPU                  string             `json:"cpu,omitempty"`
	CreatedAt            Timestamp          `json:"createdAt,omitzero"`
	DesiredStatus        string             `json:"desiredStatus"`
	EnableExecuteCommand bool               `json:"enableExecuteCommand"`
	ExecutionStoppedAt   Timestamp          `json:"executionStoppedAt,omitzero"`
	Group                string             `json:"group,omitempty"`
	HealthStatus         string             `json:"healthStatus,omitempty"`
	LastStatus           string             `json:"lastStatus"`
	LaunchType           string             `json:"launchType,omitempty"`
	Memory               string             `json:"memory,omitempty"`
	Overrides            taskOverride       `json:"overrides"`
	PullStartedAt        Timestamp          `json:"pullStartedAt,omitzero"`
	PullStoppedAt        Timestamp          `json:"pullStoppedAt,omitzero"`
	StartedAt            Timestamp          `json:"startedAt,omitzero"`
	StartedBy            string             `json:"startedBy,omitempty"`
	StopCode             string             `json:"stopCode,omitempty"`
	StoppedAt            Timestamp          `json:"stoppedAt,omitzero"`
	StoppedReason        string             `json:"stoppedReason,omitempty"`
	StoppingAt           Timestamp          `json:"stoppingAt,omitzero"`
	Tags                 []tag              `json:"tags"`
	TaskArn              string             `json:"taskArn"`
	TaskDefinitionArn    string             `json:"taskDefinitionArn"`
	Version              int64              `json:"version"`
}

type stopTaskRequest struct {
	Cluster string `json:"cluster,omitempty"`
	Task    string `json:"task"`
	Reason  string `json:"reason,omitempty"`
}

type stopTaskResponse struct {
	Task taskOutput `json:"task"`
}

type describeTasksRequest struct {
	Cluster string   `json:"cluster,omitempty"`
	Tasks   []string `json:"tasks"`
	Include []string `json:"include,omitempty"`
}

type listTasksRequest struct {
	Cluster           string `json:"cluster,omitempty"`
	ContainerInstance string `json:"containerInstance,omitempty"`
	Family            string `json:"family,omitempty"`
	StartedBy         string `json:"startedBy,omitempty"`
	ServiceName       string `json:"serviceName,omitempty"`
	DesiredStatus     string `json:"desiredStatus,omitempty"`
	LaunchType        string `json:"launchType,omitempty"`
	paging
}

type listTasksResponse struct {
	TaskArns  []string `json:"taskArns"`
	NextToken string   `json:"nextToken,omitempty"`
}
