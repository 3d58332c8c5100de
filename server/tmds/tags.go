package tmds

import (
	"context"
	"errors"
)

// Optional error details of AWS SDK v2 errors (smithy.APIError, smithyhttp.ResponseError,
// awshttp.ResponseError), read through interfaces so this package needs no SDK import.
type (
	apiError interface {
		ErrorCode() string
		ErrorMessage() string
	}
	httpStatusError interface{ HTTPStatusCode() int }
	requestIDError  interface{ ServiceRequestID() string }
)

// addTags fills the …WithTags members. A failed lookup leaves its member out; v4 also
// reports it in Errors, v2/v3 only log it, as the reference agent does.
func (h *handler) addTags(ctx context.Context, resp *TaskResponse, in Instance, v4 bool) {
	if h.o.Tags == nil {
		return
	}
	if in.ContainerInstanceARN != "" {
		tags, err := h.o.Tags.ListTags(ctx, in.ContainerInstanceARN)
		if err != nil {
			h.tagError(resp, err, "ContainerInstanceTags", in.ContainerInstanceARN, v4)
		} else {
			resp.ContainerInstanceTags = tags
		}
	}
	tags, err := h.o.Tags.ListTags(ctx, resp.TaskARN)
	if err != nil {
		h.tagError(resp, err, "TaskTags", resp.TaskARN, v4)
		return
	}
	resp.TaskTags = tags
}

func (h *handler) tagError(resp *TaskResponse, err error, field, arn string, v4 bool) {
	h.log.Error(err, "task metadata: tag lookup failed", "field", field, "resource", arn)
	if !v4 {
		return
	}
	e := ErrorResponse{ErrorField: field, ErrorMessage: err.Error(), ResourceARN: arn}
	var ae apiError
	if errors.As(err, &ae) {
		e.ErrorCode, e.ErrorMessage = ae.ErrorCode(), ae.ErrorMessage()
	}
	var se httpStatusError
	if errors.As(err, &se) {
		e.StatusCode = se.HTTPStatusCode()
	}
	var re requestIDError
	if errors.As(err, &re) {
		e.RequestID = re.ServiceRequestID()
	}
	resp.Errors = append(resp.Errors, e)
}
