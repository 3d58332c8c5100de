package agentapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/go-logr/logr"
)

// Error codes and messages of spec §3.2, which task code matches on.
const (
	codeInvalidParameter = "InvalidParameterException"
	codeAccessDenied     = "AccessDeniedException"
	codeResourceNotFound = "ResourceNotFoundException"
	codeRequestCanceled  = "RequestCanceled"
	codeServer           = "ServerException"

	msgDecodeFailed     = "UpdateTaskProtection: failed to decode request"
	msgNoProtectionFlag = "Invalid request: does not contain 'ProtectionEnabled' field"
	msgNoCredentials    = "Invalid Request: no task IAM role credentials available for task"
	msgTaskNotFound     = "Failed to find a task for the request"
	msgTimedOut         = "Timed out calling ECS Task Protection API"
	msgUnexpected       = "Unexpected error occurred"
)

// response is every body of the task protection endpoint: exactly one of Protection,
// Failure and Error is set.
type response struct {
	RequestID  string      `json:"requestID,omitempty"`
	Protection *protection `json:"protection,omitempty"`
	Failure    *failure    `json:"failure,omitempty"`
	Error      *errorBody  `json:"error,omitempty"`
}

// protection is ECS's ProtectedTask under the SDK's Go field names, which is what the
// reference agent puts on the wire. ExpirationDate is null when not protected.
type protection struct {
	ExpirationDate    *time.Time
	ProtectionEnabled bool
	TaskArn           *string
}

// failure is ECS's Failure under the SDK's Go field names; absent members are null.
type failure struct {
	Arn    *string
	Detail *string
	Reason *string
}

// errorBody describes an error; Arn is the task's, when known.
type errorBody struct {
	Arn     string `json:"Arn,omitempty"`
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

func protectionResponse(p types.ProtectedTask) response {
	out := &protection{ProtectionEnabled: p.ProtectionEnabled, TaskArn: p.TaskArn}
	if p.ExpirationDate != nil {
		// The agent reports times in UTC; the SDK decodes epoch seconds in local time.
		utc := p.ExpirationDate.UTC()
		out.ExpirationDate = &utc
	}
	return response{Protection: out}
}

func failureResponse(f types.Failure) response {
	return response{Failure: &failure{Arn: f.Arn, Detail: f.Detail, Reason: f.Reason}}
}

func errorResponse(requestID, arn, code, msg string) response {
	return response{RequestID: requestID, Error: &errorBody{Arn: arn, Code: code, Message: msg}}
}

// writeJSON writes v with status. An encoding failure cannot happen with these types;
// it is logged rather than hidden.
func writeJSON(w http.ResponseWriter, log logr.Logger, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		log.Error(err, "cannot encode an agent API response")
		status = http.StatusInternalServerError
		data = []byte(`{"error":{"Code":"ServerException","Message":"Unexpected error occurred"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
