// Package imdsget reads one path of the EC2 instance metadata service as text and says
// why a read failed (the path is absent, throttled, the service errs or is unreachable),
// so that the loops polling IMDS (Spot interruption notices, warm pool lifecycle state)
// decide on an HTTP status without knowing the SDK's error types.
package imdsget

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// maxValue bounds a value read: metadata values are short strings and small JSON documents.
const maxValue = 64 << 10

// ErrNotFound is a metadata path IMDS answers 404 for: for Spot and lifecycle paths, "no
// such state yet".
var ErrNotFound = errors.New("not found in the instance metadata")

// Getter reads a metadata path (relative to /latest/meta-data/).
type Getter interface {
	Get(ctx context.Context, path string) (string, error)
}

// Client reads through the SDK's IMDS client (IMDSv2 tokens, the SDK's retries).
type Client struct {
	IMDS *imds.Client
}

// Get returns the value at path, trimmed of surrounding white space. A 404 is ErrNotFound;
// any other failure keeps its HTTP status for StatusCode.
func (c Client) Get(ctx context.Context, path string) (string, error) {
	out, err := c.IMDS.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
	if err != nil {
		if StatusCode(err) == http.StatusNotFound {
			return "", fmt.Errorf("%s: %w", path, ErrNotFound)
		}
		return "", fmt.Errorf("instance metadata %s: %w", path, err)
	}
	defer out.Content.Close()
	b, err := io.ReadAll(io.LimitReader(out.Content, maxValue+1))
	if err != nil {
		return "", fmt.Errorf("instance metadata %s: %w", path, err)
	}
	if len(b) > maxValue {
		return "", fmt.Errorf("instance metadata %s: value larger than %d bytes", path, maxValue)
	}
	return strings.TrimSpace(string(b)), nil
}

// StatusCode is the HTTP status of a failed IMDS read, or 0 when there was no answer
// (connection refused, timeout). ErrNotFound is 404.
func StatusCode(err error) int {
	if errors.Is(err, ErrNotFound) {
		return http.StatusNotFound
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// StatusError is a failed read with an HTTP status, for Getters other than Client (tests).
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("instance metadata answered HTTP %d", e.Code)
}

// Transient reports whether a failed read is worth retrying later: throttling and the
// server errors IMDS answers while it is busy (the statuses the reference agent waits out).
func Transient(err error) bool {
	switch StatusCode(err) {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}
