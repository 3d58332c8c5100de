package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

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
		v := checkDependencies(s.c, s.siblings, now().Time)
		if v.failure != "" {
			return reconcile.Result{}, e.failContainer(ctx, s.c, v.failure)
		}
		if !v.ok {
			return reconcile.Result{RequeueAfter: v.recheckIn}, nil
		}
	}

	started := now()
	info, err := e.getImage(ctx, s.c.Spec.Image)
	if err != nil {
		if errors.Is(err, runtime.ErrUnavailable) || ctx.Err() != nil {
			return reconcile.Result{}, err
		}
		return reconcile.Result{}, e.failContainer(ctx, s.c, fmt.Sprintf("%s: %v", ReasonPull, err))
	}
	stopped := now()
	_, err = e.updateContainerStatus(ctx, s.c, func(c *api.Container) bool {
		if !needsPull(c) {
			return false
		}
		c.Status.ImageDigest = info.Digest
		c.Status.PullStartedAt = started
		c.Status.PullStoppedAt = stopped
		setContainerKnown(c, api.ContainerStatusPulled, "")
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
func (e *Engine) getImage(ctx context.Context, ref string) (runtime.ImageInfo, error) {
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
	info, err := e.pull(ctx, ref)
	if err != nil && (e.s.PullBehavior == PullDefault || e.s.PullBehavior == "") {
		if local, lerr := e.rt.InspectImage(ctx, ref); lerr == nil {
			e.log.Info("pull failed; using the cached image", "image", ref, "error", err.Error())
			return local, nil
		}
	}
	return info, err
}

// pull pulls once per reference at a time: ten containers of one image share one pull.
func (e *Engine) pull(ctx context.Context, ref string) (runtime.ImageInfo, error) {
	pctx := ctx
	if e.s.PullTimeout > 0 {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(ctx, e.s.PullTimeout)
		defer cancel()
	}
	return e.pulls.do(ref, func() (runtime.ImageInfo, error) {
		return e.rt.PullImage(pctx, ref, e.authFor(ref))
	})
}

// authFor returns ECS_ENGINE_AUTH_DATA credentials for ref's registry, if any.
func (e *Engine) authFor(ref string) *runtime.Auth {
	host, _, found := strings.Cut(ref, "/")
	if !found || !(strings.ContainsAny(host, ".:") || host == "localhost") {
		host = "docker.io"
	}
	for _, h := range []string{host, "https://" + host, "index." + host} {
		if a, ok := e.s.RegistryAuth[h]; ok {
			return &a
		}
	}
	if host == "docker.io" {
		if a, ok := e.s.RegistryAuth["https://index.docker.io/v1/"]; ok {
			return &a
		}
	}
	return nil
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
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
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
		t := now()
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

// flight runs one call per key at a time and shares its result with concurrent callers.
type flight struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done chan struct{}
	info runtime.ImageInfo
	err  error
}

func (f *flight) do(key string, fn func() (runtime.ImageInfo, error)) (runtime.ImageInfo, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*flightCall{}
	}
	if c, ok := f.calls[key]; ok {
		f.mu.Unlock()
		<-c.done
		return c.info, c.err
	}
	c := &flightCall{done: make(chan struct{})}
	f.calls[key] = c
	f.mu.Unlock()

	c.info, c.err = fn()
	close(c.done)
	f.mu.Lock()
	delete(f.calls, key)
	f.mu.Unlock()
	return c.info, c.err
}
