package main

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// formatError prints an error as kubectl does, so server errors keep their reason
// ("Error from server (NotFound): …") and an aggregate prints one error per line.
func formatError(err error) string {
	var agg utilerrors.Aggregate
	if errors.As(err, &agg) && len(agg.Errors()) > 0 {
		lines := make([]string, 0, len(agg.Errors()))
		for _, e := range agg.Errors() {
			lines = append(lines, formatError(e))
		}
		return strings.Join(lines, "\n")
	}
	if apierrors.IsUnauthorized(err) {
		return "error: " + errNoToken.Error()
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		if s.Reason != "" {
			return fmt.Sprintf("Error from server (%s): %s", s.Reason, s.Message)
		}
		return fmt.Sprintf("Error from server: %s", s.Message)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return "error: " + err.Error() + "\n(is the agent running, and do --server or --endpoint point at it?)"
	}
	return "error: " + err.Error()
}
