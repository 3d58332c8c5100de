package localplane

import (
	"encoding/json"
	"sort"
)

// Health reported over TCS feeds DescribeTasks (container and task healthStatus) and
// DescribeContainerInstances (healthStatus with include CONTAINER_INSTANCE_HEALTH). It is
// kept in memory only: it is a report, and the agent repeats it every 20 seconds.

type tcsHealthRequest struct {
	Tasks []struct {
		TaskArn    string `json:"taskArn"`
		Containers []struct {
			ContainerName string `json:"containerName"`
			HealthStatus  string `json:"healthStatus"`
		} `json:"containers"`
	} `json:"tasks"`
}

type tcsInstanceStatusRequest struct {
	Statuses []struct {
		Type             string    `json:"type"`
		Status           string    `json:"status"`
		LastUpdated      Timestamp `json:"lastUpdated"`
		LastStatusChange Timestamp `json:"lastStatusChange"`
	} `json:"statuses"`
}

// recordHealth keeps the container health statuses of a PublishHealthRequest.
func (s *Server) recordHealth(raw json.RawMessage) {
	var req tcsHealthRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		s.log.Info("ignoring a malformed PublishHealthRequest", "reason", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range req.Tasks {
		if s.st.Tasks[t.TaskArn] == nil {
			continue
		}
		if s.health[t.TaskArn] == nil {
			s.health[t.TaskArn] = map[string]string{}
		}
		for _, c := range t.Containers {
			s.health[t.TaskArn][c.ContainerName] = c.HealthStatus
		}
	}
}

// recordInstanceStatus keeps an instance's health checks; the overall status is the
// worst of them.
func (s *Server) recordInstanceStatus(instanceARN string, raw json.RawMessage) {
	var req tcsInstanceStatusRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		s.log.Info("ignoring a malformed PublishInstanceStatusRequest", "reason", err.Error())
		return
	}
	h := &instanceHealthStatus{OverallStatus: "OK"}
	worst := 0
	for _, st := range req.Statuses {
		h.Details = append(h.Details, instanceHealthResult{Type: st.Type, Status: st.Status,
			LastUpdated: st.LastUpdated, LastStatusChange: st.LastStatusChange})
		if r := healthRank(st.Status); r > worst {
			worst, h.OverallStatus = r, st.Status
		}
	}
	sort.Slice(h.Details, func(i, j int) bool { return h.Details[i].Type < h.Details[j].Type })
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instHealth[instanceARN] = h
}

func healthRank(status string) int {
	switch status {
	case "OK":
		return 0
	case "INITIALIZING":
		return 1
	case "INSUFFICIENT_DATA":
		return 2
	}
	return 3 // IMPAIRED or unknown
}
