package introspection

import (
	"net/http"
	"strings"

	"github.com/ecsd/ecsd/server/metadata"
)

// dockerShortIDLen is the length of a short container ID (docker ps); a dockerid of at most
// this length is matched as a prefix of the full ID.
const dockerShortIDLen = 12

// tasks answers /v1/tasks, /v1/tasks?dockerid= and /v1/tasks?taskarn=.
func (h *handler) tasks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	dockerID, byDockerID := q["dockerid"]
	taskARN, byTaskARN := q["taskarn"]
	if byDockerID && byTaskARN {
		writeJSON(w, http.StatusBadRequest, TaskResponse{})
		return
	}
	views, err := metadata.LoadAll(r.Context(), h.o.Reader)
	if err != nil {
		h.log.Error(err, "introspection: read tasks")
		if byDockerID || byTaskARN {
			writeJSON(w, http.StatusInternalServerError, TaskResponse{})
		} else {
			writeJSON(w, http.StatusInternalServerError, TasksResponse{})
		}
		return
	}
	switch {
	case byDockerID:
		h.taskByDockerID(w, views, first(dockerID))
	case byTaskARN:
		arn := first(taskARN)
		for _, v := range views {
			if v.Task.Spec.ARN == arn {
				writeJSON(w, http.StatusOK, taskResponse(v, h.o.DataDir))
				return
			}
		}
		writeJSON(w, http.StatusNotFound, TaskResponse{})
	default:
		resp := TasksResponse{Tasks: make([]*TaskResponse, 0, len(views))}
		for _, v := range views {
			resp.Tasks = append(resp.Tasks, taskResponse(v, h.o.DataDir))
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// taskByDockerID finds the task of a container by full ID, or by short ID (a prefix of at
// most 12 characters, as docker ps shows). IDs are the recorded runtime IDs: 64 hex
// characters (api.RuntimeID), or "<task ID>-<name>" for a container an older ecsd created.
// Ambiguity is counted in tasks, not containers: a short old-form ID names every container
// of one task, and that is one answer, not a conflict. Two different tasks matching is a
// 400, as it is for Docker's short IDs.
func (h *handler) taskByDockerID(w http.ResponseWriter, views []*metadata.TaskView, id string) {
	var found *metadata.TaskView
	for _, v := range views {
		for _, c := range v.Containers {
			rid := c.Status.RuntimeID
			match := rid != "" && (rid == id || (len(id) <= dockerShortIDLen && strings.HasPrefix(rid, id)))
			if !match {
				continue
			}
			if found != nil && found != v {
				writeJSON(w, http.StatusBadRequest, TaskResponse{})
				return
			}
			found = v
		}
	}
	if found == nil {
		writeJSON(w, http.StatusNotFound, TaskResponse{})
		return
	}
	writeJSON(w, http.StatusOK, taskResponse(found, h.o.DataDir))
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}
