package localplane

type registerContainerInstanceRequest struct {
	Cluster                           string           `json:"cluster,omitempty"`
	InstanceIdentityDocument          string           `json:"instanceIdentityDocument,omitempty"`
	InstanceIdentityDocumentSignature string           `json:"instanceIdentityDocumentSignature,omitempty"`
	TotalResources                    []resource       `json:"totalResources,omitempty"`
	VersionInfo                       *versionInfo     `json:"versionInfo,omitempty"`
	ContainerInstanceArn              string           `json:"containerInstanceArn,omitempty"`
	Attributes                        []attribute      `json:"attributes,omitempty"`
	PlatformDevices                   []platformDevice `json:"platformDevices,omitempty"`
	Tags                              []tag            `json:"tags,omitempty"`
	ClientToken                       string           `json:"clientToken,omitempty"`
}

type instanceHealthResult struct {
	Type             string    `json:"type,omitempty"`
	Status           string    `json:"status,omitempty"`
	LastUpdated      Timestamp `json:"lastUpdated,omitzero"`
	LastStatusChange Timestamp `json:"lastStatusChange,omitzero"`
}

type instanceHealthStatus struct {
	OverallStatus string                 `json:"overallStatus,omitempty"`
	Details       []instanceHealthResult `json:"details,omitempty"`
}

type containerInstanceOutput struct {
	ContainerInstanceArn string                `json:"containerInstanceArn"`
	EC2InstanceID        string                `json:"ec2InstanceId,omitempty"`
	Version              int64                 `json:"version"`
	VersionInfo          versionInfo           `json:"versionInfo"`
	RemainingResources   []resource            `json:"remainingResources"`
	RegisteredResources  []resource            `json:"registeredResources"`
	Status               string                `json:"status"`
	AgentConnected       bool                  `json:"agentConnected"`
	RunningTasksCount    int32                 `json:"runningTasksCount"`
	PendingTasksCount    int32                 `json:"pendingTasksCount"`
	Attributes           []attribute           `json:"attributes"`
	RegisteredAt         Timestamp             `json:"registeredAt,omitzero"`
	Attachments          []struct{}            `json:"attachments"`
	Tags                 []tag                 `json:"tags"`
	HealthStatus         *instanceHealthStatus `json:"healthStatus,omitempty"`
	AgentUpdateStatus    string                `json:"agentUpdateStatus,omitempty"`
	// AgentUpdateReason is an ecsd extension: why the latest agent update FAILED.
	AgentUpdateReason string `json:"agentUpdateReason,omitempty"`
}

type containerInstanceResponse struct {
	ContainerInstance containerInstanceOutput `json:"containerInstance"`
}

type deregisterContainerInstanceRequest struct {
	Cluster           string `json:"cluster,omitempty"`
	ContainerInstance string `json:"containerInstance"`
	Force             *bool  `json:"force,omitempty"`
}

type listContainerInstancesRequest struct {
	Cluster string `json:"cluster,omitempty"`
	Filter  string `json:"filter,omitempty"`
	Status  string `json:"status,omitempty"`
	paging
}

type listContainerInstancesResponse struct {
	ContainerInstanceArns []string `json:"containerInstanceArns"`
	NextToken             string   `json:"nextToken,omitempty"`
}

type describeContainerInstancesRequest struct {
	Cluster            string   `json:"cluster,omitempty"`
	ContainerInstances []string `json:"containerInstances"`
	Include            []string `json:"include,omitempty"`
}

type describeContainerInstancesResponse struct {
	ContainerInstances []containerInstanceOutput `json:"containerInstances"`
	Failures           []failure                 `json:"failures"`
}

type discoverPollEndpointRequest struct {
	ContainerInstance string `json:"containerInstance,omitempty"`
	Cluster           string `json:"cluster,omitempty"`
	ZoneID            string `json:"zoneId,omitempty"`
}

type discoverPollEndpointResponse struct {
	Endpoint               string `json:"endpoint"`
	TelemetryEndpoint      string `json:"telemetryEndpoint"`
	ServiceConnectEndpoint string `json:"serviceConnectEndpoint,omitempty"`
	SystemLogsEndpoint     string `json:"systemLogsEndpoint,omitempty"`
}

type updateContainerInstancesStateRequest struct {
	Cluster            string   `json:"cluster,omitempty"`
	ContainerInstances []string `json:"containerInstances"`
	Status             string   `json:"status"`
}

type updateContainerInstancesStateResponse struct {
	ContainerInstances []containerInstanceOutput `json:"containerInstances"`
	Failures           []failure                 `json:"failures"`
}
