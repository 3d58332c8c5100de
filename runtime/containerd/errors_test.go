package containerd

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	remoteerrors "github.com/containerd/containerd/v2/core/remotes/errors"
	"github.com/containerd/errdefs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ecsd/ecsd/runtime"
)

func TestWrapErr(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"not found", fmt.Errorf("container x: %w", errdefs.ErrNotFound), runtime.ErrNotFound},
		{"exists", errdefs.ErrAlreadyExists, runtime.ErrAlreadyExists},
		{"401", fmt.Errorf("resolve: %w", remoteerrors.ErrUnexpectedStatus{StatusCode: 401, Status: "401 Unauthorized"}), runtime.ErrUnauthorized},
		{"403", fmt.Errorf("fetch: %w", remoteerrors.ErrUnexpectedStatus{StatusCode: 403}), runtime.ErrUnauthorized},
		{"invalid authorization", fmt.Errorf("pull access denied: %w", docker.ErrInvalidAuthorization), runtime.ErrUnauthorized},
		{"grpc unavailable", status.Error(codes.Unavailable, "connection refused"), runtime.ErrUnavailable},
		{"errdefs unavailable", errdefs.ErrUnavailable, runtime.ErrUnavailable},
		{"registry refused", &url.Error{Op: "Get", URL: "http://127.0.0.1:1/v2/", Err: syscall.ECONNREFUSED}, nil},
		{"other", errors.New("boom"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := wrapErr(tt.err, "pull %s", "img")
			if !errors.Is(err, tt.err) {
				t.Errorf("original error lost: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "pull img: ") || !strings.Contains(err.Error(), tt.err.Error()) {
				t.Errorf("message = %q", err.Error())
			}
			for _, s := range []error{runtime.ErrNotFound, runtime.ErrAlreadyExists, runtime.ErrUnauthorized, runtime.ErrUnavailable} {
				if got := errors.Is(err, s); got != errors.Is(tt.want, s) {
					t.Errorf("errors.Is(%v, %v) = %v", err, s, got)
				}
			}
		})
	}
	if wrapErr(nil, "x") != nil {
		t.Error("wrapErr(nil) != nil")
	}
	if err := newErr(runtime.ErrNotFound, "inspect %s", "c"); err.Error() != "inspect c: not found" || !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("newErr = %v", err)
	}
}
