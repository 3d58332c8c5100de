package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/registry"
)

// TestRetryablePull: which failed pulls are tried again (up to maxPullAttempts) and which
// stop the task at once.
func TestRetryablePull(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"a reset connection may pass", errors.New("read tcp 127.0.0.1:5000: connection reset by peer"), true},
		{"a registry 5xx may pass", fmt.Errorf("pull: %w", errors.New("503 Service Unavailable")), true},
		{"a missing image is final", fmt.Errorf("pull busybox:nope: %w", runtime.ErrNotFound), false},
		{"refused credentials are final", fmt.Errorf("pull: %w", runtime.ErrUnauthorized), false},
		{"credentials that could not be fetched are final", &authError{authType: registry.TypeECR, err: errors.New("AccessDenied")}, false},
		{"the overall pull timeout is final", fmt.Errorf("%w: %w", &pullTimeoutError{after: time.Hour}, context.DeadlineExceeded), false},
		{"a cancelled pull (agent stopping) is not retried", fmt.Errorf("pull: %w", context.Canceled), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryablePull(tc.err); got != tc.want {
				t.Fatalf("retryablePull(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestPullFailure: the stopped reason a failed pull gives the container (spec §5.4).
func TestPullFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"a pull error", fmt.Errorf("pull busybox:nope: %w", runtime.ErrNotFound),
			"CannotPullContainerError: pull busybox:nope: not found"},
		{"an ECR token failure", &authError{authType: registry.TypeECR, err: errors.New("get ECR token: AccessDeniedException")},
			"CannotPullECRContainerError: get ECR token: AccessDeniedException"},
		{"a Secrets Manager failure is a plain pull error", &authError{authType: registry.TypeASM, err: errors.New("get secret: ResourceNotFoundException")},
			"CannotPullContainerError: get secret: ResourceNotFoundException"},
		{"the pull timeout", fmt.Errorf("%w: %w", &pullTimeoutError{after: 2 * time.Hour}, context.DeadlineExceeded),
			"DockerTimeoutError: Could not transition to pulled; timed out after waiting 2h0m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pullFailure(tc.err); got != tc.want {
				t.Fatalf("pullFailure = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestFlightKey: pulls share a flight only with the same image and the same credentials,
// and the key never shows the credentials.
func TestFlightKey(t *testing.T) {
	alice := &runtime.Auth{Username: "alice", Password: "s3cret"}
	alice2 := &runtime.Auth{Username: "alice", Password: "s3cret"}
	bob := &runtime.Auth{Username: "bob", Password: "s3cret"}
	// "alice"+"\x00"+"xs3cret" must not collide with "alicex"+"\x00"+"s3cret" etc.
	shifted := &runtime.Auth{Username: "alices", Password: "3cret"}
	if flightKey("busybox", nil) != "busybox" {
		t.Errorf("an anonymous pull's key is the reference, got %q", flightKey("busybox", nil))
	}
	if flightKey("busybox", alice) != flightKey("busybox", alice2) {
		t.Error("equal credentials got different keys: concurrent pulls would not share")
	}
	for _, other := range []struct {
		what string
		key  string
	}{
		{"other user", flightKey("busybox", bob)},
		{"user/password boundary moved", flightKey("busybox", shifted)},
		{"anonymous", flightKey("busybox", nil)},
		{"other image", flightKey("alpine", alice)},
	} {
		if other.key == flightKey("busybox", alice) {
			t.Errorf("%s shares alice's key: a pull would use another's credentials or failure", other.what)
		}
	}
	if k := flightKey("busybox", alice); strings.Contains(k, "s3cret") || strings.Contains(k, "alice") {
		t.Errorf("key %q shows the credentials", k)
	}
}

// TestPhasePredicates: which controller's business a container is, by (known, desired).
func TestPhasePredicates(t *testing.T) {
	const (
		none    = api.ContainerStatusNone
		mpulled = api.ContainerStatusManifestPulled
		pulled  = api.ContainerStatusPulled
		created = api.ContainerStatusCreated
		running = api.ContainerStatusRunning
		stopped = api.ContainerStatusStopped
	)
	for _, tc := range []struct {
		known, desired            api.ContainerState
		pull, create, start, stop bool
	}{
		// Desired not written yet counts as RUNNING for the pull only (it starts in parallel).
		{"", "", true, false, false, false},
		{none, running, true, false, false, false},
		{mpulled, running, true, false, false, false},
		{pulled, running, false, true, false, false},
		{created, running, false, false, true, false},
		{running, running, false, false, true, false},
		{stopped, running, false, false, false, false},
		{none, stopped, false, false, false, true},
		{pulled, stopped, false, false, false, true},
		{created, stopped, false, false, false, true},
		{running, stopped, false, false, false, true},
		{stopped, stopped, false, false, false, false},
	} {
		c := unitContainer("app", tc.known, tc.desired)
		got := [4]bool{needsPull(c), needsCreate(c), needsStart(c), needsStop(c)}
		if want := [4]bool{tc.pull, tc.create, tc.start, tc.stop}; got != want {
			t.Errorf("known %q desired %q: pull/create/start/stop = %v, want %v", tc.known, tc.desired, got, want)
		}
	}
}

// TestGetImagePullBehavior covers ECS_IMAGE_PULL_BEHAVIOR (spec §6.2 pull errors, §8).
func TestGetImagePullBehavior(t *testing.T) {
	local := runtime.ImageInfo{Ref: "busybox:latest", Digest: "sha256:local"}
	remote := runtime.ImageInfo{Ref: "busybox:latest", Digest: "sha256:remote"}
	pullFails := errors.New("dial tcp 127.0.0.1:5000: connection refused")
	for _, tc := range []struct {
		name     string
		behavior PullBehavior
		pullErr  error
		hasLocal bool
		want     runtime.ImageInfo
		wantErr  error
		pulls    int
	}{
		{"default pulls", PullDefault, nil, true, remote, nil, 1},
		{"default falls back to the cached image when the pull fails", PullDefault, pullFails, true, local, nil, 1},
		{"an unset behavior is default", "", pullFails, true, local, nil, 1},
		{"default without a cached image fails", PullDefault, pullFails, false, runtime.ImageInfo{}, pullFails, 1},
		{"default does not fall back while credentials are pending", PullDefault, fmt.Errorf("auth: %w", registry.ErrCredentialsPending), true, runtime.ImageInfo{}, registry.ErrCredentialsPending, 1},
		{"always fails the task on a failed pull even with a cached image", PullAlways, pullFails, true, runtime.ImageInfo{}, pullFails, 1},
		{"always pulls even with a cached image", PullAlways, nil, true, remote, nil, 1},
		{"prefer-cached uses the cached image without pulling", PullPreferCached, nil, true, local, nil, 0},
		{"prefer-cached pulls an absent image", PullPreferCached, nil, false, remote, nil, 1},
		{"prefer-cached fails on a failed pull of an absent image", PullPreferCached, pullFails, false, runtime.ImageInfo{}, pullFails, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pulls := 0
			rt := &unitRuntime{
				pull: func(_ context.Context, ref string, _ *runtime.Auth) (runtime.ImageInfo, error) {
					pulls++
					if tc.pullErr != nil {
						return runtime.ImageInfo{}, tc.pullErr
					}
					return remote, nil
				},
				inspectImage: func(ref string) (runtime.ImageInfo, error) {
					if tc.hasLocal {
						return local, nil
					}
					return runtime.ImageInfo{}, fmt.Errorf("image %s: %w", ref, runtime.ErrNotFound)
				},
			}
			o := unitOptions(t)
			o.Pull.Behavior = tc.behavior
			e := unitPull(t, nil, o, Deps{Runtime: rt})
			got, err := e.getImage(context.Background(), unitContainer("app", "", api.ContainerStatusRunning), "arn:task")
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil || got.Digest != tc.want.Digest {
				t.Fatalf("got %s, %v; want %s", got.Digest, err, tc.want.Digest)
			}
			if pulls != tc.pulls {
				t.Fatalf("%d pulls, want %d", pulls, tc.pulls)
			}
		})
	}
}

// TestPullTimeoutIsADockerTimeoutError: a pull cut off by ECS_IMAGE_PULL_TIMEOUT stops the
// container with DockerTimeoutError and is not retried.
func TestPullTimeoutIsADockerTimeoutError(t *testing.T) {
	rt := &unitRuntime{pull: func(ctx context.Context, _ string, _ *runtime.Auth) (runtime.ImageInfo, error) {
		<-ctx.Done()
		return runtime.ImageInfo{}, fmt.Errorf("pull: %w", ctx.Err())
	}}
	o := unitOptions(t)
	o.Pull.Timeout = 20 * time.Millisecond
	e := unitPull(t, nil, o, Deps{Runtime: rt})
	_, err := e.pull(context.Background(), unitContainer("app", "", api.ContainerStatusRunning), "arn:task")
	if retryablePull(err) {
		t.Errorf("a pull timeout is retried: %v", err)
	}
	if got, want := pullFailure(err), "DockerTimeoutError: Could not transition to pulled; timed out after waiting 20ms"; got != want {
		t.Fatalf("reason %q, want %q", got, want)
	}

	// The agent stopping is not a timeout: the error stays a cancellation.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.pull(ctx, unitContainer("app", "", api.ContainerStatusRunning), "arn:task")
	var te *pullTimeoutError
	if errors.As(err, &te) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled pull: %v, want a cancellation, not a timeout", err)
	}
}

type unitAuthResolver struct {
	auth *runtime.Auth
	err  error
	got  []string
}

func (r *unitAuthResolver) Auth(_ context.Context, image string, auth *api.RegistryAuth, taskARN string) (*runtime.Auth, error) {
	r.got = append(r.got, image+" "+auth.Type+" "+taskARN)
	return r.auth, r.err
}

// TestAuthFor: which credentials a pull uses.
func TestAuthFor(t *testing.T) {
	engineAuth := map[string]runtime.Auth{"registry.example.com": {Username: "engine", Password: "p"}}
	ecr := func(c *api.Container) { c.Spec.RegistryAuth = &api.RegistryAuth{Type: registry.TypeECR} }
	image := func(ref string) func(*api.Container) { return func(c *api.Container) { c.Spec.Image = ref } }
	for _, tc := range []struct {
		name     string
		c        *api.Container
		resolver *unitAuthResolver
		wantUser string // "" for an anonymous pull
		wantErr  string
	}{
		{"ECS_ENGINE_AUTH_DATA for the image's registry", unitContainer("app", "", "", image("registry.example.com/app:1")), nil, "engine", ""},
		{"anonymous for a registry without engine auth", unitContainer("app", "", "", image("busybox:latest")), nil, "", ""},
		{"registryAuthentication without a resolver falls back to engine auth", unitContainer("app", "", "", image("registry.example.com/app:1"), ecr), nil, "engine", ""},
		{"registryAuthentication asks the resolver", unitContainer("app", "", "", image("registry.example.com/app:1"), ecr),
			&unitAuthResolver{auth: &runtime.Auth{Username: "AWS", Password: "token"}}, "AWS", ""},
		{"a resolver failure is an ECR pull error, not retried", unitContainer("app", "", "", image("registry.example.com/app:1"), ecr),
			&unitAuthResolver{err: errors.New("AccessDeniedException")}, "", "CannotPullECRContainerError: AccessDeniedException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := unitOptions(t)
			o.Pull.RegistryAuth = engineAuth
			var d Deps
			if tc.resolver != nil {
				d.Auth = tc.resolver
			}
			e := unitPull(t, nil, o, d)
			auth, err := e.authFor(context.Background(), tc.c, "arn:task/1")
			if tc.wantErr != "" {
				if err == nil || retryablePull(err) || pullFailure(err) != tc.wantErr {
					t.Fatalf("err %v (reason %q), want a final %q", err, pullFailure(err), tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			user := ""
			if auth != nil {
				user = auth.Username
			}
			if user != tc.wantUser {
				t.Fatalf("pull as %q, want %q", user, tc.wantUser)
			}
			if tc.resolver != nil && (len(tc.resolver.got) != 1 || tc.resolver.got[0] != "registry.example.com/app:1 ecr arn:task/1") {
				t.Fatalf("resolver asked %q", tc.resolver.got)
			}
		})
	}
}
