package local

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
	NetworkConfiguration     json.RawMessage       `json:"networkConfiguration,omitempty"`
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
	Cluster              string          `json:"cluster,omitempty"`
	ContainerInstances   []string        `json:"containerInstances"`
	EnableECSManagedTags bool            `json:"enableECSManagedTags,omitempty"`
	EnableExecuteCommand bool            `json:"enableExecuteCommand,omitempty"`
	Group                string          `json:"group,omitempty"`
	NetworkConfiguration json.RawMessage `json:"networkConfiguration,omitempty"`
	Overrides            *taskOverride   `json:"overrides,omitempty"`
	PropagateTags        string          `json:"propagateTags,omitempty"`
	ReferenceID          string          `json:"referenceId,omitempty"`
	StartedBy            string          `json:"startedBy,omitempty"`
	Tags                 []tag           `json:"tags,omitempty"`
	TaskDefinition       string          `json:"taskDefinition"`
	VolumeConfigurations json.RawMessage `json:"volumeConfigurations,omitempty"`
}

type tasksResponse struct {
	Tasks    []taskOutput `json:"tasks"`
	Failures []failure    `json:"failures"`
}

type containerOutput struct {
	ContainerArn      string           `json:"containerArn"`
	TaskArn           string           `json:"taskArn"`
	Name              string           `json:"name"`
	Image             string           `json:"image,omitempty"`
	ImageDigest       string           `json:"imageDigest,omitempty"`
	RuntimeID         string           `json:"runtimeId,omitempty"`
	LastStatus        string           `json:"lastStatus"`
	ExitCode          *int32           `json:"exitCode,omitempty"`
	Reason            string           `json:"reason,omitempty"`
	NetworkBindings   []NetworkBinding `json:"networkBindings"`
	NetworkInterfaces []struct{}       `json:"networkInterfaces"`
	HealthStatus      string           `json:"healthStatus,omitempty"`
	CPU               string           `json:"cpu,omitempty"`
	Memory            string           `json:"memory,omitempty"`
	MemoryReservation string           `json:"memoryReservation,omitempty"`
}

type taskOutput struct {
	Attachments          []struct{}        `json:"attachments"`
	Attributes           []attribute       `json:"attributes"`
	AvailabilityZone     string            `json:"availabilityZone,omitempty"`
	ClusterArn           string            `json:"clusterArn"`
	Connectivity         string            `json:"connectivity,omitempty"`
	ConnectivityAt       Timestamp         `json:"connectivityAt,omitzero"`
	ContainerInstanceArn string            `json:"containerInstanceArn,omitempty"`
	Containers           []containerOutput `json:"containers"`
	CPU                  string            `json:"cpu,omitempty"`
	CreatedAt            Timestamp         `json:"createdAt,omitzero"`
	DesiredStatus        string            `json:"desiredStatus"`
	EnableExecuteCommand bool              `json:"enableExecuteCommand"`
	ExecutionStoppedAt   Timestamp         `json:"executionStoppedAt,omitzero"`
	Group                string            `json:"group,omitempty"`
	HealthStatus         string            `json:"healthStatus,omitempty"`
	LastStatus           string            `json:"lastStatus"`
	LaunchType           string            `json:"launchType,omitempty"`
	Memory               string            `json:"memory,omitempty"`
	Overrides            taskOverride      `json:"overrides"`
	PullStartedAt        Timestamp         `json:"pullStartedAt,omitzero"`
	PullStoppedAt        Timestamp         `json:"pullStoppedAt,omitzero"`
	StartedAt            Timestamp         `json:"startedAt,omitzero"`
	StartedBy            string            `json:"startedBy,omitempty"`
	StopCode             string            `json:"stopCode,omitempty"`
	StoppedAt            Timestamp         `json:"stoppedAt,omitzero"`
	StoppedReason        string            `json:"stoppedReason,omitempty"`
	StoppingAt           Timestamp         `json:"stoppingAt,omitzero"`
	Tags                 []tag             `json:"tags"`
	TaskArn              string            `json:"taskArn"`
	TaskDefinitionArn    string            `json:"taskDefinitionArn"`
	Version              int64             `json:"version"`
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
