package tcs

// Frame types: the TCS model's shape names (protocol/tcs/api-2.json), which are the
// "type" strings of the websocket envelope.
const (
	TypePublishMetricsRequest        = "PublishMetricsRequest"
	TypePublishHealthRequest         = "PublishHealthRequest"
	TypePublishInstanceStatusRequest = "PublishInstanceStatusRequest"
	TypeHeartbeatMessage             = "HeartbeatMessage"
	TypeAckPublishMetric             = "AckPublishMetric"
	TypeAckPublishHealth             = "AckPublishHealth"
	TypeAckPublishInstanceStatus     = "AckPublishInstanceStatus"
	TypeStopTelemetrySessionMessage  = "StopTelemetrySessionMessage"
)

// Message is a TCS shape that can travel in a frame.
type Message interface {
	MessageType() string
}

// Health statuses of a container, as TCS knows them.
const (
	HealthHealthy   = "HEALTHY"
	HealthUnhealthy = "UNHEALTHY"
	HealthUnknown   = "UNKNOWN"
)

// Instance health-check statuses (InstanceHealthcheckStatus).
const (
	InstanceStatusOK               = "OK"
	InstanceStatusImpaired         = "IMPAIRED"
	InstanceStatusInsufficientData = "INSUFFICIENT_DATA"
	InstanceStatusInitializing     = "INITIALIZING"
)

// --- agent → TCS ---

// PublishMetricsRequest carries the statistics of up to ten tasks. One publish is a batch
// of requests sharing a messageId; the last has fin set.
type PublishMetricsRequest struct {
	Metadata *MetricsMetadata `json:"metadata,omitempty"`
	// InstanceMetrics is only in the first request of a batch.
	InstanceMetrics *InstanceMetrics `json:"instanceMetrics,omitempty"`
	TaskMetrics     []TaskMetric     `json:"taskMetrics,omitempty"`
	Timestamp       Timestamp        `json:"timestamp,omitzero"`
}

// MetricsMetadata identifies a metrics batch. Idle and Fin are always sent: TCS reads a
// missing fin as "more to come".
type MetricsMetadata struct {
	Cluster           string `json:"cluster,omitempty"`
	ContainerInstance string `json:"containerInstance,omitempty"`
	MessageID         string `json:"messageId,omitempty"`
	// Idle says the instance runs no task; such a batch is one request with no task metrics.
	Idle bool `json:"idle"`
	Fin  bool `json:"fin"`
}

// InstanceMetrics are statistics of the instance itself.
type InstanceMetrics struct {
	Storage               *InstanceStorageMetrics `json:"storage,omitempty"`
	GeneralMetricsPayload []GeneralMetricsWrapper `json:"generalMetricsPayload,omitempty"`
}

// InstanceStorageMetrics are file system utilisations in percent (0–100).
type InstanceStorageMetrics struct {
	RootFilesystem *float64 `json:"rootFilesystem,omitempty"`
	DataFilesystem *float64 `json:"dataFilesystem,omitempty"`
}

// TaskMetric is the statistics of one task's containers.
type TaskMetric struct {
	TaskArn                      string                  `json:"taskArn,omitempty"`
	ClusterArn                   string                  `json:"clusterArn,omitempty"`
	TaskDefinitionFamily         string                  `json:"taskDefinitionFamily,omitempty"`
	TaskDefinitionVersion        string                  `json:"taskDefinitionVersion,omitempty"`
	ContainerMetrics             []ContainerMetric       `json:"containerMetrics,omitempty"`
	EphemeralStorageMetrics      *EphemeralStorageMetric `json:"ephemeralStorageMetrics,omitempty"`
	VolumeMetrics                []VolumeMetric          `json:"volumeMetrics,omitempty"`
	ServiceConnectMetricsWrapper []GeneralMetricsWrapper `json:"serviceConnectMetricsWrapper,omitempty"`
}

// ContainerMetric is one container's statistics since the previous publish. CPU is in
// percent of the whole instance, memory in MiB.
type ContainerMetric struct {
	ContainerArn          string                  `json:"containerArn,omitempty"`
	ContainerName         string                  `json:"containerName,omitempty"`
	CPUStatsSet           *CWStatsSet             `json:"cpuStatsSet,omitempty"`
	MemoryStatsSet        *CWStatsSet             `json:"memoryStatsSet,omitempty"`
	NetworkStatsSet       *NetworkStatsSet        `json:"networkStatsSet,omitempty"`
	StorageStatsSet       *StorageStatsSet        `json:"storageStatsSet,omitempty"`
	RestartStatsSet       *RestartStatsSet        `json:"restartStatsSet,omitempty"`
	GeneralMetricsPayload []GeneralMetricsWrapper `json:"generalMetricsPayload,omitempty"`
}

// CWStatsSet is a CloudWatch statistic set over SampleCount samples.
type CWStatsSet struct {
	Min         float64 `json:"min"`
	Max         float64 `json:"max"`
	SampleCount int64   `json:"sampleCount"`
	Sum         float64 `json:"sum"`
}

// UDoubleCWStatsSet is a CWStatsSet of non-negative values.
type UDoubleCWStatsSet = CWStatsSet

// ULongStatsSet is a statistic set of unsigned counters; values beyond int64 spill into
// the overflow members.
type ULongStatsSet struct {
	Min         int64 `json:"min"`
	Max         int64 `json:"max"`
	SampleCount int64 `json:"sampleCount"`
	Sum         int64 `json:"sum"`
	OverflowMin int64 `json:"overflowMin,omitempty"`
	OverflowMax int64 `json:"overflowMax,omitempty"`
	OverflowSum int64 `json:"overflowSum,omitempty"`
}

// RestartStatsSet is how many times the container restarted since the previous publish.
type RestartStatsSet struct {
	RestartCount int64 `json:"restartCount"`
}

// NetworkStatsSet is a container's network statistics (bridge and awsvpc only).
type NetworkStatsSet struct {
	RxBytesPerSecond *UDoubleCWStatsSet `json:"rxBytesPerSecond,omitempty"`
	RxBytes          *ULongStatsSet     `json:"rxBytes,omitempty"`
	RxDropped        *ULongStatsSet     `json:"rxDropped,omitempty"`
	RxErrors         *ULongStatsSet     `json:"rxErrors,omitempty"`
	RxPackets        *ULongStatsSet     `json:"rxPackets,omitempty"`
	TxBytesPerSecond *UDoubleCWStatsSet `json:"txBytesPerSecond,omitempty"`
	TxBytes          *ULongStatsSet     `json:"txBytes,omitempty"`
	TxDropped        *ULongStatsSet     `json:"txDropped,omitempty"`
	TxErrors         *ULongStatsSet     `json:"txErrors,omitempty"`
	TxPackets        *ULongStatsSet     `json:"txPackets,omitempty"`
}

// StorageStatsSet is a container's block I/O.
type StorageStatsSet struct {
	ReadSizeBytes  *ULongStatsSet `json:"readSizeBytes,omitempty"`
	WriteSizeBytes *ULongStatsSet `json:"writeSizeBytes,omitempty"`
}

// EphemeralStorageMetric is a task's ephemeral storage use (Fargate).
type EphemeralStorageMetric struct {
	BytesUtilized *ULongStatsSet `json:"bytesUtilized,omitempty"`
}

// VolumeMetric is one task volume's use (EBS task attach).
type VolumeMetric struct {
	VolumeID   string             `json:"volumeId,omitempty"`
	VolumeName string             `json:"volumeName,omitempty"`
	Utilized   *UDoubleCWStatsSet `json:"utilized,omitempty"`
	Size       *UDoubleCWStatsSet `json:"size,omitempty"`
}

// GeneralMetricsWrapper carries free-form metrics (Service Connect).
type GeneralMetricsWrapper struct {
	Dimensions     []Dimension     `json:"dimensions,omitempty"`
	MetricType     string          `json:"metricType,omitempty"`
	GeneralMetrics []GeneralMetric `json:"generalMetrics,omitempty"`
}

// Dimension is a metric dimension.
type Dimension struct {
	Key   string `json:"key,omitempty"`
	Value string `json:"value,omitempty"`
}

// GeneralMetric is one free-form metric.
type GeneralMetric struct {
	MetricName          string      `json:"metricName,omitempty"`
	MetricValues        []float64   `json:"metricValues,omitempty"`
	MetricCounts        []int64     `json:"metricCounts,omitempty"`
	MetricValueDouble   *float64    `json:"metricValueDouble,omitempty"`
	MetricValueLong     *int64      `json:"metricValueLong,omitempty"`
	MetricValueStatsSet *CWStatsSet `json:"metricValueStatsSet,omitempty"`
	Unit                string      `json:"unit,omitempty"`
}

// PublishHealthRequest carries the health of up to ten tasks' containers.
type PublishHealthRequest struct {
	Metadata  *HealthMetadata `json:"metadata,omitempty"`
	Tasks     []TaskHealth    `json:"tasks,omitempty"`
	Timestamp Timestamp       `json:"timestamp,omitzero"`
}

// HealthMetadata identifies a health batch; the last request has fin set.
type HealthMetadata struct {
	Cluster           string `json:"cluster,omitempty"`
	ContainerInstance string `json:"containerInstance,omitempty"`
	MessageID         string `json:"messageId,omitempty"`
	Fin               bool   `json:"fin"`
}

// TaskHealth is the health of a task's health-checked containers.
type TaskHealth struct {
	TaskArn               string            `json:"taskArn,omitempty"`
	ClusterArn            string            `json:"clusterArn,omitempty"`
	TaskDefinitionFamily  string            `json:"taskDefinitionFamily,omitempty"`
	TaskDefinitionVersion string            `json:"taskDefinitionVersion,omitempty"`
	Containers            []ContainerHealth `json:"containers,omitempty"`
}

// ContainerHealth is one container's health-check status and since when it holds.
type ContainerHealth struct {
	ContainerName string    `json:"containerName,omitempty"`
	HealthStatus  string    `json:"healthStatus,omitempty"`
	StatusSince   Timestamp `json:"statusSince,omitzero"`
	StatusMessage string    `json:"statusMessage,omitempty"`
}

// PublishInstanceStatusRequest carries the instance's own health checks.
type PublishInstanceStatusRequest struct {
	Metadata  *InstanceStatusMetadata `json:"metadata,omitempty"`
	Statuses  []InstanceStatus        `json:"statuses,omitempty"`
	Timestamp Timestamp               `json:"timestamp,omitzero"`
}

// InstanceStatusMetadata identifies an instance status report.
type InstanceStatusMetadata struct {
	Cluster           string `json:"cluster,omitempty"`
	ContainerInstance string `json:"containerInstance,omitempty"`
	RequestID         string `json:"requestId,omitempty"`
}

// InstanceStatus is the result of one instance health check, e.g. type "ContainerRuntime".
type InstanceStatus struct {
	Type             string    `json:"type,omitempty"`
	Status           string    `json:"status,omitempty"`
	StatusReason     string    `json:"statusReason,omitempty"`
	LastUpdated      Timestamp `json:"lastUpdated,omitzero"`
	LastStatusChange Timestamp `json:"lastStatusChange,omitzero"`
}

// StartTelemetrySessionRequest is the model's session operation; on the wire it is the
// cluster and containerInstance query parameters of the handshake, never a frame.
type StartTelemetrySessionRequest struct {
	Cluster           string `json:"cluster,omitempty"`
	ContainerInstance string `json:"containerInstance,omitempty"`
}

// --- TCS → agent ---

// HeartbeatMessage tells the agent the session is alive; no reply is expected.
type HeartbeatMessage struct {
	Healthy bool `json:"healthy"`
}

// AckPublishMetric acknowledges a PublishMetricsRequest.
type AckPublishMetric struct {
	Message string `json:"message,omitempty"`
}

// AckPublishHealth acknowledges a PublishHealthRequest.
type AckPublishHealth struct {
	Message string `json:"message,omitempty"`
}

// AckPublishInstanceStatus acknowledges a PublishInstanceStatusRequest.
type AckPublishInstanceStatus struct {
	Message string `json:"message,omitempty"`
}

// StopTelemetrySessionMessage asks the agent to end the session.
type StopTelemetrySessionMessage struct {
	Message string `json:"message,omitempty"`
}

func (PublishMetricsRequest) MessageType() string        { return TypePublishMetricsRequest }
func (PublishHealthRequest) MessageType() string         { return TypePublishHealthRequest }
func (PublishInstanceStatusRequest) MessageType() string { return TypePublishInstanceStatusRequest }
func (HeartbeatMessage) MessageType() string             { return TypeHeartbeatMessage }
func (AckPublishMetric) MessageType() string             { return TypeAckPublishMetric }
func (AckPublishHealth) MessageType() string             { return TypeAckPublishHealth }
func (AckPublishInstanceStatus) MessageType() string     { return TypeAckPublishInstanceStatus }
func (StopTelemetrySessionMessage) MessageType() string  { return TypeStopTelemetrySessionMessage }
