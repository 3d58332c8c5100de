package tmds

import (
	"time"

	"github.com/ecsd/ecsd/server/metadata"
)

// TaskResponse is the task document of v2 and v3, and of v4 with the v4-only members set.
// One type serves all versions because every v4-only member is omitempty; the one that is
// not (FaultInjectionEnabled, always present in v4) is a pointer so v2/v3 leave it out.
type TaskResponse struct {
	Cluster               string              `json:"Cluster"`
	TaskARN               string              `json:"TaskARN"`
	Family                string              `json:"Family"`
	Revision              string              `json:"Revision"`
	DesiredStatus         string              `json:"DesiredStatus,omitempty"`
	KnownStatus           string              `json:"KnownStatus"`
	Containers            []ContainerResponse `json:"Containers,omitempty"`
	Limits                *LimitsResponse     `json:"Limits,omitempty"`
	PullStartedAt         *time.Time          `json:"PullStartedAt,omitempty"`
	PullStoppedAt         *time.Time          `json:"PullStoppedAt,omitempty"`
	ExecutionStoppedAt    *time.Time          `json:"ExecutionStoppedAt,omitempty"`
	AvailabilityZone      string              `json:"AvailabilityZone,omitempty"`
	TaskTags              map[string]string   `json:"TaskTags,omitempty"`
	ContainerInstanceTags map[string]string   `json:"ContainerInstanceTags,omitempty"`
	LaunchType            string              `json:"LaunchType,omitempty"`
	Errors                []ErrorResponse     `json:"Errors,omitempty"`

	// v4 only.
	VPCID                 string `json:"VPCID,omitempty"`
	ServiceName           string `json:"ServiceName,omitempty"`
	FaultInjectionEnabled *bool  `json:"FaultInjectionEnabled,omitempty"`
	AvailabilityZoneID    string `json:"AvailabilityZoneID,omitempty"`
}

// ContainerResponse is the container document of every version; v4-only members are
// omitempty and left zero by v2/v3.
type ContainerResponse struct {
	ID            string                    `json:"DockerId"`
	Name          string                    `json:"Name"`
	DockerName    string                    `json:"DockerName"`
	Image         string                    `json:"Image"`
	ImageID       string                    `json:"ImageID"`
	Ports         []metadata.PortResponse   `json:"Ports,omitempty"`
	Labels        map[string]string         `json:"Labels,omitempty"`
	DesiredStatus string                    `json:"DesiredStatus"`
	KnownStatus   string                    `json:"KnownStatus"`
	ExitCode      *int                      `json:"ExitCode,omitempty"`
	Limits        LimitsResponse            `json:"Limits"`
	CreatedAt     *time.Time                `json:"CreatedAt,omitempty"`
	StartedAt     *time.Time                `json:"StartedAt,omitempty"`
	FinishedAt    *time.Time                `json:"FinishedAt,omitempty"`
	Type          string                    `json:"Type"`
	Networks      []metadata.Network        `json:"Networks,omitempty"`
	Health        *HealthResponse           `json:"Health,omitempty"`
	Volumes       []metadata.VolumeResponse `json:"Volumes,omitempty"`

	// v4 only.
	LogDriver    string            `json:"LogDriver,omitempty"`
	LogOptions   map[string]string `json:"LogOptions,omitempty"`
	ContainerARN string            `json:"ContainerARN,omitempty"`
	Snapshotter  string            `json:"Snapshotter,omitempty"`
	RestartCount *int              `json:"RestartCount,omitempty"`
}

// LimitsResponse is a task's or container's CPU and memory limits.
type LimitsResponse struct {
	CPU    *float64 `json:"CPU,omitempty"`
	Memory *int64   `json:"Memory,omitempty"`
}

// HealthResponse is a container's health. Its keys really are lower case.
type HealthResponse struct {
	Status   string     `json:"status,omitempty"`
	Since    *time.Time `json:"statusSince,omitempty"`
	ExitCode int        `json:"exitCode,omitempty"`
	Output   string     `json:"output,omitempty"`
}

// ErrorResponse is a v4 tag lookup failure.
type ErrorResponse struct {
	ErrorField   string `json:"ErrorField,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
	StatusCode   int    `json:"StatusCode,omitempty"`
	RequestID    string `json:"RequestId,omitempty"`
	ResourceARN  string `json:"ResourceARN,omitempty"`
}

// AssociationsResponse lists a container's associations of one type.
type AssociationsResponse struct {
	Associations []string `json:"Associations"`
}

// credentialsResponse is the credentials document AWS SDKs parse.
type credentialsResponse struct {
	RoleArn         string `json:"RoleArn"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
}

// credentialsError is the credentials endpoint's error body; HTTPErrorCode has no JSON tag in
// the reference agent, hence its capitalised key.
type credentialsError struct {
	Code          string `json:"code"`
	Message       string `json:"message"`
	HTTPErrorCode int    `json:"HTTPErrorCode"`
}
