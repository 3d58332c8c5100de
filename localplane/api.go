package localplane

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ecsd/ecsd/controlplane/sigv4"
)

// targetPrefix precedes the operation name in X-Amz-Target.
const targetPrefix = "AmazonEC2ContainerServiceV20141113."

// maxRequestSize bounds an ECS API request body; real requests are a few KiB (a task
// definition is limited to 64 KiB).
const maxRequestSize = 4 << 20

// apiHandler runs one operation on a request body and returns the response shape.
type apiHandler func(ctx context.Context, body []byte) (any, error)

// handle adapts a typed operation to apiHandler: it decodes the request into In.
func handle[In, Out any](fn func(context.Context, *In) (*Out, error)) apiHandler {
	return func(ctx context.Context, body []byte) (any, error) {
		in := new(In)
		if len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, in); err != nil {
				return nil, newAPIError("SerializationException", http.StatusBadRequest, "%s", err.Error())
			}
		}
		return fn(ctx, in)
	}
}

// operation returns the handler of an ECS operation, or nil. A switch rather than a map
// keeps the table free of package state.
func (s *Server) operation(op string) apiHandler {
	switch op {
	case "CreateCluster":
		return handle(s.createCluster)
	case "DescribeClusters":
		return handle(s.describeClusters)
	case "ListClusters":
		return handle(s.listClusters)
	case "RegisterContainerInstance":
		return handle(s.registerContainerInstance)
	case "DeregisterContainerInstance":
		return handle(s.deregisterContainerInstance)
	case "ListContainerInstances":
		return handle(s.listContainerInstances)
	case "DescribeContainerInstances":
		return handle(s.describeContainerInstances)
	case "UpdateContainerInstancesState":
		return handle(s.updateContainerInstancesState)
	case "DiscoverPollEndpoint":
		return handle(s.discoverPollEndpoint)
	case "UpdateContainerAgent":
		return handle(s.updateContainerAgent)
	case "RegisterTaskDefinition":
		return handle(s.registerTaskDefinition)
	case "DescribeTaskDefinition":
		return handle(s.describeTaskDefinition)
	case "ListTaskDefinitions":
		return handle(s.listTaskDefinitions)
	case "DeregisterTaskDefinition":
		return handle(s.deregisterTaskDefinition)
	case "RunTask":
		return handle(s.runTask)
	case "StartTask":
		return handle(s.startTask)
	case "StopTask":
		return handle(s.stopTask)
	case "DescribeTasks":
		return handle(s.describeTasks)
	case "ListTasks":
		return handle(s.listTasks)
	case "ListTagsForResource":
		return handle(s.listTagsForResource)
	case "TagResource":
		return handle(s.tagResource)
	case "UntagResource":
		return handle(s.untagResource)
	case OpSubmitTaskStateChange:
		return handle(s.submitTaskStateChange)
	case OpSubmitContainerStateChange:
		return handle(s.submitContainerStateChange)
	case OpSubmitAttachmentStateChanges:
		return handle(s.submitAttachmentStateChanges)
	case opUpdateTaskProtection:
		return handle(s.updateTaskProtection)
	case opGetTaskProtection:
		return handle(s.getTaskProtection)
	}
	return nil
}

// serveAPI serves one AWS JSON 1.1 request.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	requestID := newUUID()
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	log := s.log.WithValues("operation", op, "requestId", requestID)
	out, err := s.callAPI(r, op)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = errServer(err)
		}
		log.V(1).Info("ECS API request failed", "code", ae.code, "message", ae.msg, "duration", time.Since(start))
		writeJSON(w, requestID, ae.status, struct {
			Type        string   `json:"__type"`
			Message     string   `json:"message"`
			ResourceIDs []string `json:"resourceIds,omitempty"`
		}{ae.code, ae.msg, ae.resourceIDs})
		return
	}
	log.V(1).Info("ECS API request", "duration", time.Since(start))
	writeJSON(w, requestID, http.StatusOK, out)
}

// callAPI authenticates and runs one request.
func (s *Server) callAPI(r *http.Request, op string) (any, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestSize+1))
	if err != nil {
		return nil, newAPIError("SerializationException", http.StatusBadRequest, "read request: %s", err.Error())
	}
	if len(body) > maxRequestSize {
		return nil, errClient("Request body exceeds %d bytes.", maxRequestSize)
	}
	who, err := s.authenticateAPI(r, sigv4.PayloadHash(body))
	if err != nil {
		s.log.Info("refused an ECS API request", "operation", op, "reason", err.Error(), "remote", r.RemoteAddr)
		return nil, authError(err)
	}
	h := s.operation(op)
	if h == nil {
		return nil, newAPIError("UnknownOperationException", http.StatusBadRequest, "Unknown operation %q.", r.Header.Get("X-Amz-Target"))
	}
	// A task role may only manage its own task's protection, which is all the agent signs
	// with it; anything else is what IAM would deny a task role without broader policies.
	if who.isTask() && !taskRoleOperation(op) {
		s.log.Info("refused an ECS API request signed by a task role", "operation", op, "task", who.task)
		return nil, errAccessDenied(who, s.opts.AccountID, op, "")
	}
	ctx := context.WithValue(r.Context(), requestKey{}, r)
	ctx = context.WithValue(ctx, principalKey{}, who)
	ctx = context.WithValue(ctx, bodySizeKey{}, len(body))
	return h(ctx, body)
}

// requestKey carries the *http.Request into operations that answer with URLs of this
// server (DiscoverPollEndpoint).
type requestKey struct{}

// principalKey carries the request's principal into operations that scope by it.
type principalKey struct{}

// principalOf is the caller of the request ctx belongs to (the zero principal outside one).
func principalOf(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

// baseURL is the scheme and host the client reached this server at.
func baseURL(ctx context.Context) string {
	r, _ := ctx.Value(requestKey{}).(*http.Request)
	if r == nil {
		return "http://localhost"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func writeJSON(w http.ResponseWriter, requestID string, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		data = []byte(`{"__type":"ServerException","message":"cannot encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
