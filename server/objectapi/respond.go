package objectapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// statusTypeMeta is how an API server labels a Status.
var statusTypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}

// statusOf turns any error into the metav1.Status clients decode: the API error's own when
// it is one, otherwise a 500 whose message is the error's.
func statusOf(err error) metav1.Status {
	var s apierrors.APIStatus
	if !errors.As(err, &s) {
		s = apierrors.NewInternalError(err)
	}
	st := s.Status()
	st.TypeMeta = statusTypeMeta
	if st.Status == "" {
		st.Status = metav1.StatusFailure
	}
	if st.Code == 0 {
		st.Code = http.StatusInternalServerError
	}
	return st
}

// writeStatus answers with err as a metav1.Status and its code, and a Retry-After header
// when the status asks the client to wait (429, 503).
func writeStatus(w http.ResponseWriter, err error) {
	st := statusOf(err)
	if st.Details != nil && st.Details.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(st.Details.RetryAfterSeconds)))
	}
	writeJSON(w, int(st.Code), st)
}

// fail is writeStatus that also logs what is the agent's fault rather than the client's.
func (h *Handler) fail(w http.ResponseWriter, err error) {
	if st := statusOf(err); st.Code >= http.StatusInternalServerError {
		h.log.Error(err, "object api request failed")
	}
	writeStatus(w, err)
}

// writeJSON answers with v as JSON. Content-Type is plain application/json, which is also
// how client-go tells a plain discovery document from an aggregated one.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := marshal(v)
	if err != nil {
		b, _ = marshal(statusOf(fmt.Errorf("object api: encode response: %w", err)))
		code = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// marshal encodes v as one line of JSON. HTML escaping is off: this is no web page, and
// "<redacted>" and "<none>" should read as themselves in curl's output.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := newEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// newEncoder is a JSON encoder writing one line per value, without HTML escaping.
func newEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// notFoundPath is the API server's answer to a path it does not serve.
func notFoundPath(path string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusNotFound,
		Reason:  metav1.StatusReasonNotFound,
		Message: fmt.Sprintf("the server could not find the requested resource (get %s)", path),
	}}
}

// notAcceptable is the answer to an Accept header naming no representation served here.
func notAcceptable(accept string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusNotAcceptable,
		Reason:  metav1.StatusReasonNotAcceptable,
		Message: fmt.Sprintf("only application/json is served, as an object, a Table or PartialObjectMetadata; Accept was %q", accept),
	}}
}
