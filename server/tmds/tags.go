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
// reports it in Errors, v2/v3 only leave it out, as the reference agent does. The instance and
// task lookups run concurrently so that, on a cache miss, the response waits for the
// slower of the two rather than their sum (the server's write timeout is 5 s).
func (h *handler) addTags(ctx context.Context, resp *TaskResponse, in Instance, v4 bool) {
	if h.o.Tags == nil {
		return
	}
	type result struct {
		tags map[string]string
		err  error
	}
	var inst result
	done := make(chan struct{})
	if in.ContainerInstanceARN != "" {
		go func() {
			defer close(done)
			inst.tags, inst.err = h.o.Tags.ListTags(ctx, in.ContainerInstanceARN)
		}()
	} else {
		close(done)
	}
	taskTags, taskErr := h.o.Tags.ListTags(ctx, resp.TaskARN)
	<-done
	// Errors lists the instance before the task, whichever answered first.
	if in.ContainerInstanceARN != "" {
		if inst.err != nil {
			h.tagError(resp, inst.err, "ContainerInstanceTags", in.ContainerInstanceARN, v4)
		} else {
			resp.ContainerInstanceTags = inst.tags
		}
	}
	if taskErr != nil {
		h.tagError(resp, taskErr, "TaskTags", resp.TaskARN, v4)
		return
	}
	resp.TaskTags = taskTags
}

func (h *handler) tagError(resp *TaskResponse, err error, field, arn string, v4 bool) {
	// V(1): the tag source logs each failed lookup once; this is every response it spoils.
	h.log.V(1).Info("task metadata: answering without tags", "field", field, "resource", arn, "error", err.Error())
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
