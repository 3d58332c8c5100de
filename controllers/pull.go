package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/store"
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

// reconcilePull owns → PULLED: it gets the image per ECS_IMAGE_PULL_BEHAVIOR, records the
// digest and keeps the Image object's bookkeeping for image cleanup.
func (e *Engine) reconcilePull(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	s, err := e.loadContainer(ctx, req.NamespacedName)
	if err != nil || s == nil || !needsPull(s.c) || s.task.DesiredStatus() != api.TaskStatusRunning {
		return reconcile.Result{}, err
	}
	if !e.s.PullDependentUpfront {
		v := checkDependencies(s.c, s.siblings, e.clk.Now())
		if v.failure != "" {
			return reconcile.Result{}, e.failContainer(ctx, s.c, v.failure)
		}
		if !v.ok {
			return reconcile.Result{RequeueAfter: v.recheckIn}, nil
		}
	}

	started := metaTime(e.clk.Now())
	info, err := e.getImage(ctx, s.c, s.task.Spec.ARN)
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
			if _, uerr := e.updateContainerStatus(ctx, s.c, func(c *api.Container) bool {
				if !needsPull(c) {
					return false
				}
				c.Status.PullAttempts = attempts
				c.Status.LastError = truncate(err.Error(), 1024)
				return true
			}); uerr != nil {
				return reconcile.Result{}, uerr
			}
			e.log.Info("pull failed; retrying", "container", s.c.Name, "image", s.c.Spec.Image, "attempt", attempts, "error", err.Error())
			return reconcile.Result{RequeueAfter: e.s.PullRetryDelay << (attempts - 1)}, nil
		}
		return reconcile.Result{}, e.failContainer(ctx, s.c, pullFailure(err))
	}
	stopped := metaTime(e.clk.Now())
	_, err = e.updateContainerStatus(ctx, s.c, func(c *api.Container) bool {
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
	if err := e.recordImage(ctx, s.c, info); err != nil {
		// Image bookkeeping only feeds image cleanup; it must not hold a task back.
		e.log.Error(err, "record image", "image", s.c.Spec.Image)
	}
	return reconcile.Result{}, nil
}

// failContainer stops a container for good with reason.
func (e *Engine) failContainer(ctx context.Context, c *api.Container, reason string) error {
	_, err := e.updateContainerStatus(ctx, c, func(c *api.Container) bool {
		if desiredContainer(c) == api.ContainerStatusStopped && c.Status.Reason != "" {
			return false
		}
		stopContainer(c, truncate(reason, 1024))
		return true
	})
	return err
}

// getImage applies the pull behavior (spec §8): default pulls and falls back to the local
// copy, always and once fail the task on a failed pull, prefer-cached pulls only when the
// image is absent.
func (e *Engine) getImage(ctx context.Context, c *api.Container, taskARN string) (runtime.ImageInfo, error) {
	ref := c.Spec.Image
	switch e.s.PullBehavior {
	case PullPreferCached:
		if info, err := e.rt.InspectImage(ctx, ref); err == nil {
			return info, nil
		}
	case PullOnce:
		if e.pulledBefore(ctx, ref) {
			if info, err := e.rt.InspectImage(ctx, ref); err == nil {
				return info, nil
			}
		}
	}
	info, err := e.pull(ctx, c, taskARN)
	if err != nil && !errors.Is(err, runtime.ErrCredentialsPending) && (e.s.PullBehavior == PullDefault || e.s.PullBehavior == "") {
		if local, lerr := e.rt.InspectImage(ctx, ref); lerr == nil {
			e.log.Info("pull failed; using the cached image", "image", ref, "error", err.Error())
			return local, nil
		}
	}
	return info, err
}

// pull pulls once per reference and credentials at a time: ten containers of one image
// share one pull, but a container never shares the pull, or the failure, of another one
// authenticating differently.
func (e *Engine) pull(ctx context.Context, c *api.Container, taskARN string) (runtime.ImageInfo, error) {
	pctx := ctx
	if e.s.PullTimeout > 0 {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(ctx, e.s.PullTimeout)
		defer cancel()
	}
	ref := c.Spec.Image
	auth, err := e.authFor(pctx, c, taskARN)
	if err != nil {
		return runtime.ImageInfo{}, err
	}
	opts := []runtime.PullOption{
		runtime.WithManifestTimeout(e.s.ManifestPullTimeout),
		runtime.WithInactivityTimeout(e.s.PullInactivityTimeout),
	}
	// Concurrent pulls of one image with the same credentials share the first one's
	// result (and its context: a caller joining it waits as long as that pull runs).
	v, err, _ := e.pulls.Do(flightKey(ref, auth), func() (any, error) {
		return e.rt.PullImage(pctx, ref, auth, opts...)
	})
	info, _ := v.(runtime.ImageInfo)
	if err != nil && pctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		return info, fmt.Errorf("%w: %w", &pullTimeoutError{after: e.s.PullTimeout}, err)
	}
	return info, err
}

// authFor returns the credentials to pull c's image with: from the AuthResolver when the
// container has registryAuthentication, else ECS_ENGINE_AUTH_DATA for the image's registry.
func (e *Engine) authFor(ctx context.Context, c *api.Container, taskARN string) (*runtime.Auth, error) {
	ra := c.Spec.RegistryAuth
	if ra == nil || e.s.AuthResolver == nil {
		return runtime.EngineAuth(e.s.RegistryAuth, c.Spec.Image), nil
	}
	auth, err := e.s.AuthResolver.Auth(ctx, c.Spec.Image, ra, taskARN)
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
func (e *Engine) pulledBefore(ctx context.Context, ref string) bool {
	var list api.ImageList
	if err := e.cached.List(ctx, &list); err != nil {
		return false
	}
	for _, im := range list.Items {
		if slices.Contains(im.Status.References, ref) && im.Status.PulledAt != nil {
			return true
		}
	}
	return false
}

// recordImage creates or updates the Image object for info, noting c as a user.
func (e *Engine) recordImage(ctx context.Context, c *api.Container, info runtime.ImageInfo) error {
	if info.Digest == "" {
		return nil
	}
	// Many containers of one image finish their pulls together; taking turns avoids a
	// storm of conflicting writes to the one Image object.
	e.imageMu.Lock()
	defer e.imageMu.Unlock()
	key := types.NamespacedName{Namespace: c.Namespace, Name: api.ImageName(info.Digest)}
	return store.RetryOnConflict(func() error {
		im := &api.Image{}
		err := e.direct.Get(ctx, key, im)
		if apierrors.IsNotFound(err) {
			im = &api.Image{
				ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
				Spec:       api.ImageSpec{Digest: info.Digest},
			}
			if err := e.direct.Create(ctx, im); err != nil {
				if apierrors.IsAlreadyExists(err) {
					return apierrors.NewConflict(api.GroupVersion.WithResource("images").GroupResource(), key.Name, err)
				}
				return err
			}
		} else if err != nil {
			return err
		}
		t := metaTime(e.clk.Now())
		im.Status.PulledAt = t
		im.Status.LastUsedAt = t
		im.Status.Size = info.Size
		if !slices.Contains(im.Status.References, c.Spec.Image) {
			im.Status.References = append(im.Status.References, c.Spec.Image)
		}
		if !slices.Contains(im.Status.Users, c.Name) {
			im.Status.Users = append(im.Status.Users, c.Name)
		}
		return e.direct.Status().Update(ctx, im)
	})
}
