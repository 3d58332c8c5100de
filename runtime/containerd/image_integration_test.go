//go:build integration

package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
)

func TestPullImage(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	ctx := testCtx(t)

	first := pullBusybox(t, r)
	if !strings.HasPrefix(first.Digest, "sha256:") || first.Size <= 0 {
		t.Fatalf("PullImage = %+v, want a sha256 digest and a size", first)
	}
	if first.Ref != testenv.BusyboxImage() || !slices.Equal(first.Cmd, []string{"sh"}) {
		t.Errorf("ref %q cmd %q", first.Ref, first.Cmd)
	}
	if !slices.ContainsFunc(first.Env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		t.Errorf("env %q has no PATH", first.Env)
	}

	// Idempotent, and the same image under the untagged spelling.
	untagged := strings.TrimSuffix(testenv.BusyboxImage(), ":latest")
	second, err := r.PullImage(ctx, untagged, nil)
	if err != nil {
		t.Fatalf("second PullImage: %v", err)
	}
	if second.Digest != first.Digest || second.Ref != first.Ref {
		t.Errorf("second pull = %+v, want digest %s ref %s", second, first.Digest, first.Ref)
	}

	local, err := r.InspectImage(ctx, untagged)
	if err != nil || local.Digest != first.Digest {
		t.Fatalf("InspectImage = %+v, %v", local, err)
	}
	v2, err := r.PullImage(ctx, testenv.BusyboxImageV2(), nil)
	if err != nil || v2.Digest == first.Digest {
		t.Fatalf("pull v2 = %+v, %v; want another digest", v2, err)
	}

	if err := r.RemoveImage(ctx, testenv.BusyboxImage()); err != nil {
		t.Fatalf("RemoveImage: %v", err)
	}
	_, err = r.InspectImage(ctx, testenv.BusyboxImage())
	wantErrIs(t, err, runtime.ErrNotFound)
	if err := r.RemoveImage(ctx, testenv.BusyboxImage()); err != nil {
		t.Fatalf("second RemoveImage: %v", err)
	}
}

func TestPullImageAuth(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	ctx := testCtx(t)
	img := testenv.AuthBusyboxImage()

	info, err := r.PullImage(ctx, img, &runtime.Auth{Username: testenv.AuthUser(), Password: testenv.AuthPassword()})
	if err != nil || !strings.HasPrefix(info.Digest, "sha256:") {
		t.Fatalf("PullImage with credentials = %+v, %v", info, err)
	}

	for name, auth := range map[string]*runtime.Auth{
		"wrong password": {Username: testenv.AuthUser(), Password: "wrong"},
		"no credentials": nil,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := r.PullImage(ctx, img, auth)
			wantErrIs(t, err, runtime.ErrUnauthorized)
			if !strings.Contains(err.Error(), img) || !strings.Contains(err.Error(), "401") {
				t.Errorf("message %q should name the image and the registry's answer", err)
			}
		})
	}
}

func TestPullMissingImage(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	_, err := r.PullImage(testCtx(t), testenv.MissingImage(), nil)
	wantErrIs(t, err, runtime.ErrNotFound)
	if errors.Is(err, runtime.ErrUnauthorized) || errors.Is(err, runtime.ErrUnavailable) {
		t.Errorf("missing image misclassified: %v", err)
	}
	// A registry that is not there is a pull failure, not "runtime unavailable".
	_, err = r.PullImage(testCtx(t), "127.0.0.1:1/nothing:latest", nil)
	if err == nil || errors.Is(err, runtime.ErrUnavailable) {
		t.Errorf("pull from a dead registry: err = %v", err)
	}
}

func TestNewUnavailable(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := New(ctx, t.TempDir()+"/no.sock", "ecsdt-none")
	wantErrIs(t, err, runtime.ErrUnavailable)
}

// TestPullThroughHostsDir: a registry host configured in a containerd hosts directory is
// pulled from the server its hosts.toml names (here an ECR-style name served by the
// authenticating test registry), with the pull's credentials; other hosts are unchanged.
func TestPullThroughHostsDir(t *testing.T) {
	t.Parallel()
	const ecrHost = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ecrHost), 0o755); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf("server = %q\n", "http://"+testenv.AuthRegistry())
	if err := os.WriteFile(filepath.Join(dir, ecrHost, "hosts.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newTestRuntime(t, WithRegistryConfigPath(dir))
	ctx := testCtx(t)
	img := ecrHost + "/" + testenv.BusyboxRepo + ":latest"

	_, err := r.PullImage(ctx, img, nil)
	wantErrIs(t, err, runtime.ErrUnauthorized)
	info, err := r.PullImage(ctx, img, &runtime.Auth{Username: testenv.AuthUser(), Password: testenv.AuthPassword()})
	if err != nil || info.Ref != img || !strings.HasPrefix(info.Digest, "sha256:") {
		t.Fatalf("PullImage through the hosts directory = %+v, %v", info, err)
	}
	// A registry without a directory keeps the default configuration.
	if _, err := r.PullImage(ctx, testenv.BusyboxImage(), nil); err != nil {
		t.Fatalf("PullImage of an unconfigured registry: %v", err)
	}
}
