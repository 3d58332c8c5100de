package introspection

import (
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/server/metadata"
)

// MetadataResponse is /v1/metadata. ContainerInstanceArn is null until registration.
type MetadataResponse struct {
	Cluster              string  `json:"Cluster"`
	ContainerInstanceArn *string `json:"ContainerInstanceArn"`
	Version              string  `json:"Version"`
}

// TasksResponse is /v1/tasks.
type TasksResponse struct {
	Tasks []*TaskResponse `json:"Tasks"`
}

// TaskResponse is one task. Its zero value is also the error body of the task lookups.
type TaskResponse struct {
	Arn           string              `json:"Arn"`
	DesiredStatus string              `json:"DesiredStatus,omitempty"`
	KnownStatus   string              `json:"KnownStatus"`
	Family        string              `json:"Family"`
	Version       string              `json:"Version"`
	Containers    []ContainerResponse `json:"Containers"`
}

// ContainerResponse is one container of a task.
type ContainerResponse struct {
	DockerID     string                    `json:"DockerId"`
	DockerName   string                    `json:"DockerName"`
	Name         string                    `json:"Name"`
	Image        string                    `json:"Image"`
	ImageID      string                    `json:"ImageID"`
	CreatedAt    *time.Time                `json:"CreatedAt,omitempty"`
	StartedAt    *time.Time                `json:"StartedAt,omitempty"`
	Ports        []metadata.PortResponse   `json:"Ports,omitempty"`
	Networks     []metadata.Network        `json:"Networks,omitempty"`
	Volumes      []metadata.VolumeResponse `json:"Volumes,omitempty"`
	RestartCount *int                      `json:"RestartCount,omitempty"`
}

// backendStatuses are the task's known and desired statuses as ECS names them. The desired
// status is blanked where it would contradict the known one (known STOPPED but desired not,
// or known RUNNING but desired still PENDING), as the reference agent does.
func backendStatuses(t *api.Task) (known, desired string) {
	known = t.Status.KnownStatus.BackendStatus()
	desired = t.DesiredStatus().BackendStatus()
	if (known == "STOPPED" && desired != "STOPPED") || (known == "RUNNING" && desired == "PENDING") {
		desired = ""
	}
	return known, desired
}

// taskResponse builds one task's document; only containers that exist in the runtime are
// listed, as the reference agent lists only containers its Docker state knows.
func taskResponse(v *metadata.TaskView, dataDir string) *TaskResponse {
	t := v.Task
	known, desired := backendStatuses(t)
	resp := &TaskResponse{
		Arn:           t.Spec.ARN,
		DesiredStatus: desired,
		KnownStatus:   known,
		Family:        t.Spec.Family,
		Version:       t.Spec.Version,
		Containers:    []ContainerResponse{},
	}
	for _, c := range v.Containers {
		if !metadata.Created(c) {
			continue
		}
		cr := ContainerResponse{
			DockerID:     c.Status.RuntimeID,
			DockerName:   metadata.DockerName(t, c),
			Name:         c.Spec.Name,
			Image:        c.Spec.Image,
			ImageID:      metadata.ImageID(c),
			CreatedAt:    metadata.Time(c.Status.CreatedAt),
			StartedAt:    metadata.Time(c.Status.StartedAt),
			Ports:        metadata.Ports(t, c, metadata.PortOptions{DefinitionFallback: true}),
			Volumes:      metadata.Volumes(t, c, v.Containers, dataDir),
			RestartCount: metadata.RestartCount(c),
		}
		if metadata.IsAWSVPC(t) {
			cr.Networks = []metadata.Network{metadata.AWSVPCNetwork(v, false)}
		}
		resp.Containers = append(resp.Containers, cr)
	}
	return resp
}
