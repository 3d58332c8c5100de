package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/singleflight"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// ReasonPullECR prefixes a pull that failed to get its ECR authorization token (spec §5.4).
const ReasonPullECR = "CannotPullECRContainerError"

// maxPullAttempts is how many times a pull failing for a reason that may pass is tried,
// as the reference agent does.
const maxPullAttempts = 5

// credentialsRecheck is how often a pull waiting for its execution role credentials looks
// for them again.
const credentialsRecheck = time.Second

// AuthResolver finds the credentials for pulling image for the task taskARN as auth (the
// container's registryAuthentication) asks; nil means an anonymous pull. runtime/registry
// implements it. An error wrapping runtime.ErrCredentialsPending means "not yet": the pull
// is retried shortly instead of failing.
type AuthResolver interface {
	Auth(ctx context.Context, image string, auth *api.RegistryAuth, taskARN string) (*runtime.Auth, error)
}

// authError is a failure to get a pull's credentials, as opposed to a failure of the pull.
type authError struct {
	authType string
	err      error
}

func (e *authError) Error() string { return e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

// pullTimeoutError is a pull cut off by ECS_IMAGE_PULL_TIMEOUT.
type pullTimeoutError struct{ after time.Duration }

func (e *pullTimeoutError) Error() string {
	return fmt.Sprintf("Could not transition to pulled; timed out after waiting %s", e.after)
}

// retryablePull reports whether a failed pull may succeed if tried again. Missing images,
// refused credentials, credentials that could not be fetched and the overall pull timeout
// are final; so is anything the registry said about the request itself.
func retryablePull(err error) bool {
	var ae *authError
	var te *pullTimeoutError
	switch {
	case errors.As(err, &ae), errors.As(err, &te),
		errors.Is(err, runtime.ErrNotFound), errors.Is(err, runtime.ErrUnauthorized),
		errors.Is(err, context.Canceled):
		return false
	}
	return true
}

// pullFailure is the stopped reason for a failed pull. Like the reference agent, a failure
// to get an ECR token is a CannotPullECRContainerError; everything else, including a
// Secrets Manager failure, is a CannotPullContainerError.
func pullFailure(err error) string {
	var ae *authError
	var te *pullTimeoutError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s: %v", ReasonTimeout, te)
	}
	if errors.As(err, &ae) && ae.authType == runtime.RegistryAuthECR {
		return fmt.Sprintf("%s: %v", ReasonPullECR, err)
	}
	return fmt.Sprintf("%s: %v", ReasonPull, err)
}

// needsPull: the container should run and its image is not there yet. A container whose
// desired status the task controller has not written yet counts as wanting to run, so the
// pull starts in parallel with that write instead of after it; reconcilePull checks the
// task itself.
func needsPull(c *api.Container) bool {
	d := desiredContainer(c)
	return (d == api.ContainerStatusRunning || d == api.ContainerStatusNone) && c.Status.KnownStatus.OrNone().Before(api.ContainerStatusPulled)
}

// pullRuntime is what the pull step needs of the runtime.
type pullRuntime interface {
	PullImage(ctx context.Context, ref string, auth *runtime.Auth, opts ...runtime.PullOption) (runtime.ImageInfo, error)
	InspectImage(ctx context.Context, ref string) (runtime.ImageInfo, error)
}

// RoomWaiter holds a pull until there is room for its image; ImageCleanupReconciler
// implements it. An error is ctx's: the pull is not tried.
type RoomWaiter interface {
	AwaitRoom(ctx context.Context, image string) error
}

// PullReconciler owns → PULLED: it gets the image per ECS_IMAGE_PULL_BEHAVIOR, records the
// digest and keeps the Image object's bookkeeping for image cleanup.
type PullReconciler struct {
	// Client is the store's direct client: "was this image pulled before" (PullOnce) must
	// see the Image object a pull just recorded, which the informer cache may not have yet,
	// or a task started right after another one pulls the image again.
	Client  client.Client
	Runtime pullRuntime
	// Auth resolves registryAuthentication; nil pulls with Options.RegistryAuth.
	Auth   AuthResolver
	Images *ImageUsers
	// Guard keeps image cleanup off the image from before the pull until the container's
	// status names its digest; nil guards nothing (a reconciler without image cleanup).
	Guard *ImageGuard
	// Room holds a pull while the disk is above the image GC high-water mark and image
	// cleanup is about to free space; nil never waits.
	Room    RoomWaiter
	Clock   clock.PassiveClock
	Log     logr.Logger
	Options PullOptions

	// pulls lets containers of one image with the same credentials share one pull.
	pulls singleflight.Group
}

// Reconcile takes one container one step towards PULLED.
func (r *PullReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	s, err := loadContainer(ctx, r.Client, req.NamespacedName)
	if err != nil || s == nil || !needsPull(s.c) || s.task.DesiredStatus() != api.TaskStatusRunning {
		return reconcile.Result{}, err
	}
	if !r.Options.DependentUpfront {
		v := checkDependencies(s.c, s.siblings, r.Clock.Now())
		if v.failure != "" {
			return reconcile.Result{}, failDependent(ctx, r.Client, s.c, v.failure)
		}
		if !v.ok {
			return reconcile.Result{RequeueAfter: v.recheckIn}, nil
		}
	}

	// Pinned until the status below records the digest, which keeps the image from then
	// on: image cleanup never removes it between this pull and the create that needs it.
	unpin, err := r.Guard.Pin(ctx, s.c.Spec.Image)
	if err != nil {
		return reconcile.Result{}, err
	}
	defer unpin()
	started := metaTime(r.Clock.Now())
	info, err := r.getImage(ctx, s.c, s.task.Spec.ARN)
	if err != nil {
		if errors.Is(err, runtime.ErrUnavailable) || ctx.Err() != nil {
			return reconcile.Result{}, err
		}
		if errors.Is(err, runtime.ErrCredentialsPending) {
			// Credentials are not objects, so nothing will enqueue the container when
			// they arrive: look again shortly. The resolver bounds the wait.
			return reconcile.Result{RequeueAfter: credentialsRecheck}, nil
		}
		if attempts := s.c.Status.PullAttempts + 1; attempts < maxPullAttempts && retryablePull(err) {
			if _, uerr := updateStatus(ctx, r.Client, s.c, func(c *api.Container) bool {
				if !needsPull(c) {
					return false
				}
				c.Status.PullAttempts = attempts
				c.Status.LastError = truncate(err.Error(), 1024)
				return true
			}); uerr != nil {
				return reconcile.Result{}, uerr
			}
			r.Log.Info("pull failed; retrying", "container", s.c.Name, "image", s.c.Spec.Image, "attempt", attempts, "error", err.Error())
			return reconcile.Result{RequeueAfter: r.Options.RetryDelay << (attempts - 1)}, nil
		}
		return reconcile.Result{}, failContainer(ctx, r.Client, s.c, pullFailure(err))
	}
	stopped := metaTime(r.Clock.Now())
	_, err = updateStatus(ctx, r.Client, s.c, func(c *api.Container) bool {
		if !needsPull(c) {
			return false
		}
		c.Status.ImageDigest = info.Digest
		c.Status.ImageID = info.ID
		c.Status.PullStartedAt = started
		c.Status.PullStoppedAt = stopped
		setContainerKnown(c, api.ContainerStatusPulled, "", stopped.Time)
		return true
	})
	if err != nil {
		return reconcile.Result{}, err
	}
	if err := r.Images.record(ctx, s.c, info, r.Clock.Now()); err != nil {
		// Image bookkeeping only feeds image cleanup; it must not hold a task back.
		r.Log.Error(err, "record image", "image", s.c.Spec.Image)
	}
	return reconcile.Result{}, nil
}

// getImage applies the pull behavior (spec §8): default pulls and falls back to the local
// copy, always and once fail the task on a failed pull, prefer-cached pulls only when the
// image is absent.
func (r *PullReconciler) getImage(ctx context.Context, c *api.Container, taskARN string) (runtime.ImageInfo, error) {
	ref := c.Spec.Image
	switch r.Options.Behavior {
	case PullPreferCached:
		if info, err := r.Runtime.InspectImage(ctx, ref); err == nil {
			return info, nil
		}
	case PullOnce:
		if r.pulledBefore(ctx, ref) {
			if info, err := r.Runtime.InspectImage(ctx, ref); err == nil {
				return info, nil
			}
		}
	}
	info, err := r.pull(ctx, c, taskARN)
	if err != nil && !errors.Is(err, runtime.ErrCredentialsPending) && (r.Options.Behavior == PullDefault || r.Options.Behavior == "") {
		if local, lerr := r.Runtime.InspectImage(ctx, ref); lerr == nil {
			r.Log.Info("pull failed; using the cached image", "image", ref, "error", err.Error())
			return local, nil
		}
	}
	return info, err
}

// pull pulls once per reference and credentials at a time: ten containers of one image
// share one pull, but a container never shares the pull, or the failure, of another one
// authenticating differently.
func (r *PullReconciler) pull(ctx context.Context, c *api.Container, taskARN string) (runtime.ImageInfo, error) {
	if r.Room != nil {
		// Before the pull timeout starts: waiting for room is not the registry being slow.
		if err := r.Room.AwaitRoom(ctx, c.Spec.Image); err != nil {
			return runtime.ImageInfo{}, err
		}
	}
	pctx := ctx
	if r.Options.Timeout > 0 {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(ctx, r.Options.Timeout)
		defer cancel()
	}
	ref := c.Spec.Image
	auth, err := r.authFor(pctx, c, taskARN)
	if err != nil {
		return runtime.ImageInfo{}, err
	}
	opts := []runtime.PullOption{
		runtime.WithManifestTimeout(r.Options.ManifestTimeout),
		runtime.WithInactivityTimeout(r.Options.InactivityTimeout),
	}
	// Concurrent pulls of one image with the same credentials share the first one's
	// result (and its context: a caller joining it waits as long as that pull runs).
	v, err, _ := r.pulls.Do(flightKey(ref, auth), func() (any, error) {
		return r.Runtime.PullImage(pctx, ref, auth, opts...)
	})
	info, _ := v.(runtime.ImageInfo)
	if err != nil && pctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		return info, fmt.Errorf("%w: %w", &pullTimeoutError{after: r.Options.Timeout}, err)
	}
	return info, err
}

// authFor returns the credentials to pull c's image with: from the AuthResolver when the
// container has registryAuthentication, else ECS_ENGINE_AUTH_DATA for the image's registry.
func (r *PullReconciler) authFor(ctx context.Context, c *api.Container, taskARN string) (*runtime.Auth, error) {
	ra := c.Spec.RegistryAuth
	if ra == nil || r.Auth == nil {
		return runtime.EngineAuth(r.Options.RegistryAuth, c.Spec.Image), nil
	}
	auth, err := r.Auth.Auth(ctx, c.Spec.Image, ra, taskARN)
	if err != nil {
		return nil, &authError{authType: ra.Type, err: err}
	}
	return auth, nil
}

// flightKey identifies a pull by reference and credentials. The credentials enter only as
// a hash, so the key can never leak them.
func flightKey(ref string, auth *runtime.Auth) string {
	if auth == nil {
		return ref
	}
	sum := sha256.Sum256([]byte(auth.Username + "\x00" + auth.Password))
	return ref + "\x00" + hex.EncodeToString(sum[:])
}

// pulledBefore reports whether an Image object records a successful pull of ref.
func (r *PullReconciler) pulledBefore(ctx context.Context, ref string) bool {
	var list api.ImageList
	if err := r.Client.List(ctx, &list); err != nil {
		return false
	}
	for _, im := range list.Items {
		if slices.Contains(im.Status.References, ref) && im.Status.PulledAt != nil {
			return true
		}
	}
	return false
}
