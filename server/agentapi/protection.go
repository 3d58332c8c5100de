package agentapi

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/go-logr/logr"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// maxBodySize bounds a PUT body; the real one is a few dozen bytes.
const maxBodySize = 64 << 10

// updateRequest is the PUT body. The members are pointers so that "absent" can be told
// from false and from "use ECS's default duration".
type updateRequest struct {
	ProtectionEnabled *bool
	ExpiresInMinutes  *int64
}

// protectionResult is what an ECS task protection call returned.
type protectionResult struct {
	tasks    []types.ProtectedTask
	failures []types.Failure
}

func (h *handler) getProtection(w http.ResponseWriter, r *http.Request) {
	task, ok := h.task(w, r)
	if !ok {
		return
	}
	h.log.Info("GetTaskProtection requested", "task", task.Spec.ARN, "cluster", h.o.Cluster)
	h.callECS(w, r, task, "GetTaskProtection", func(ctx context.Context, c *ecs.Client) (protectionResult, error) {
		out, err := c.GetTaskProtection(ctx, &ecs.GetTaskProtectionInput{
			Cluster: aws.String(h.o.Cluster),
			Tasks:   []string{task.Spec.ARN},
		})
		if err != nil {
			return protectionResult{}, err
		}
		return protectionResult{out.ProtectedTasks, out.Failures}, nil
	})
}

func (h *handler) updateProtection(w http.ResponseWriter, r *http.Request) {
	// The body is checked before the task is looked up, as the reference agent does, so
	// a malformed request is a 400 whatever the endpoint ID.
	var req updateRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodySize))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		h.log.Info("UpdateTaskProtection: cannot decode the request", "error", err.Error())
		writeJSON(w, h.log, http.StatusBadRequest, errorResponse("", "", codeInvalidParameter, msgDecodeFailed))
		return
	}
	task, ok := h.task(w, r)
	if !ok {
		return
	}
	if req.ProtectionEnabled == nil {
		writeJSON(w, h.log, http.StatusBadRequest, errorResponse("", task.Spec.ARN, codeInvalidParameter, msgNoProtectionFlag))
		return
	}
	in := &ecs.UpdateTaskProtectionInput{
		Cluster:           aws.String(h.o.Cluster),
		Tasks:             []string{task.Spec.ARN},
		ProtectionEnabled: *req.ProtectionEnabled,
	}
	if req.ExpiresInMinutes != nil {
		// ECS validates the range (1-2880) and its error is passed through; clamping
		// only keeps a huge value from wrapping around into a valid one.
		in.ExpiresInMinutes = aws.Int32(int32(max(math.MinInt32, min(math.MaxInt32, *req.ExpiresInMinutes))))
	}
	h.log.Info("UpdateTaskProtection requested", "task", task.Spec.ARN, "cluster", h.o.Cluster,
		"protectionEnabled", in.ProtectionEnabled, "expiresInMinutes", req.ExpiresInMinutes)
	h.callECS(w, r, task, "UpdateTaskProtection", func(ctx context.Context, c *ecs.Client) (protectionResult, error) {
		out, err := c.UpdateTaskProtection(ctx, in)
		if err != nil {
			return protectionResult{}, err
		}
		return protectionResult{out.ProtectedTasks, out.Failures}, nil
	})
}

// task finds the request's task, or answers 404 (no such endpoint ID) or 500.
func (h *handler) task(w http.ResponseWriter, r *http.Request) (*api.Task, bool) {
	task, err := h.taskOf(r.Context(), r.PathValue("endpointID"))
	if err == nil {
		return task, true
	}
	if errors.Is(err, errNoTask) {
		// The endpoint ID is not logged: it is as good as a password to the task's
		// metadata.
		h.log.Info("task protection request for an unknown endpoint ID", "method", r.Method)
		writeJSON(w, h.log, http.StatusNotFound, errorResponse("", "", codeResourceNotFound, msgTaskNotFound))
		return nil, false
	}
	h.log.Error(err, "agent API: cannot look up the task")
	writeJSON(w, h.log, http.StatusInternalServerError, errorResponse("", "", codeServer, msgTaskNotFound))
	return nil, false
}

// callECS makes one ECS task protection call for task with its role credentials and
// answers with its outcome.
func (h *handler) callECS(w http.ResponseWriter, r *http.Request, task *api.Task, op string,
	call func(context.Context, *ecs.Client) (protectionResult, error)) {
	arn := task.Spec.ARN
	log := h.log.WithValues("operation", op, "task", arn)
	creds, ok := h.roleCredentials(task)
	if !ok {
		log.Info("no task role credentials for the task")
		writeJSON(w, h.log, http.StatusForbidden, errorResponse("", arn, codeAccessDenied, msgNoCredentials))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.o.Timeout)
	defer cancel()
	res, err := call(ctx, h.ecsClient(creds))
	if err != nil {
		f := classify(err)
		log.Error(err, "ECS task protection call failed", "code", f.code, "status", f.status, "requestId", f.reqID)
		writeJSON(w, h.log, f.status, errorResponse(f.reqID, arn, f.code, f.msg))
		return
	}
	status, body := outcome(log, res, arn)
	writeJSON(w, h.log, status, body)
}

// outcome turns a successful ECS answer about one task into the response: its single
// failure (still 200, as ECS answered) or its single protection; anything else is an
// answer about other tasks, which cannot be passed on.
func outcome(log logr.Logger, res protectionResult, arn string) (int, response) {
	switch {
	case len(res.failures) == 1:
		log.Info("ECS reported a task protection failure", "reason", aws.ToString(res.failures[0].Reason))
		return http.StatusOK, failureResponse(res.failures[0])
	case len(res.failures) == 0 && len(res.tasks) == 1:
		return http.StatusOK, protectionResponse(res.tasks[0])
	}
	log.Info("unexpected ECS task protection answer", "protectedTasks", len(res.tasks), "failures", len(res.failures))
	return http.StatusInternalServerError, errorResponse("", arn, codeServer, msgUnexpected)
}
