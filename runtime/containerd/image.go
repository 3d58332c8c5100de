package containerd

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecsd/ecsd/runtime"
)

// NormalizeRef turns a Docker-style reference into the fully qualified name containerd
// stores images under ("busybox" → "docker.io/library/busybox:latest"), so the same image
// pulled by any spelling is one image.
func NormalizeRef(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("invalid image reference %q: %w: %w", ref, errdefs.ErrInvalidArgument, err)
	}
	return named.String(), nil
}

// refDomain returns the registry host of a normalized reference ("docker.io", "127.0.0.1:5000").
func refDomain(name string) string {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return ""
	}
	return reference.Domain(named)
}

// defaultRegistryHosts configures every host the same way (plain HTTP only where match
// says so) with a docker authorizer that hands the credentials to the reference's own
// registry only: a redirect to blob storage, or any other host, never sees them.
func defaultRegistryHosts(hc *http.Client, plainHTTP func(string) (bool, error)) RegistryHostsFunc {
	return func(refHost string, auth *runtime.Auth) docker.RegistryHosts {
		aopts := []docker.AuthorizerOpt{docker.WithAuthClient(hc)}
		if auth != nil && (auth.Username != "" || auth.Password != "") {
			user, pass := auth.Username, auth.Password
			aopts = append(aopts, docker.WithAuthCreds(func(host string) (string, string, error) {
				if sameRegistry(refHost, host) {
					return user, pass, nil
				}
				return "", "", nil
			}))
		}
		return docker.ConfigureDefaultRegistries(
			docker.WithClient(hc),
			docker.WithPlainHTTP(plainHTTP),
			docker.WithAuthorizer(docker.NewDockerAuthorizer(aopts...)),
		)
	}
}

// sameRegistry matches the host an HTTP request goes to against the reference's domain,
// allowing for Docker Hub's API living on a different name than its references.
func sameRegistry(refHost, reqHost string) bool {
	if refHost == reqHost {
		return true
	}
	return refHost == "docker.io" && reqHost == "registry-1.docker.io"
}

// PullImage fetches and unpacks ref with the client-side Pull (works with 1.6/1.7 daemons,
// unlike the transfer service) and returns its metadata. Pulling an image that is already
// present only re-resolves the tag. opts bound resolving the manifest and cancel a pull
// that stops making progress.
func (r *Runtime) PullImage(ctx context.Context, ref string, auth *runtime.Auth, opts ...runtime.PullOption) (runtime.ImageInfo, error) {
	var po runtime.PullOptions
	for _, o := range opts {
		o(&po)
	}
	name, err := NormalizeRef(ref)
	if err != nil {
		return runtime.ImageInfo{}, wrapErr(err, "pull %s", ref)
	}
	ctx = r.withNS(ctx)
	hosts := r.opts.hosts(refDomain(name), auth)
	pctx := ctx
	var pullOpts []client.RemoteOpt
	var w *pullWatchdog
	if po.InactivityTimeout > 0 {
		pctx, w = startWatchdog(ctx, po.InactivityTimeout)
		defer w.stop()
		hosts = w.hosts(hosts)
		pullOpts = append(pullOpts, client.WithUnpackOpts([]client.UnpackOpt{w.unpackOpt()}))
	}
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: hosts})
	log := r.log.WithValues("image", name)
	// Most pulls re-pull a tag that has not moved: one manifest HEAD settles that, and the
	// local, already unpacked image is used without walking the whole image again.
	desc, err := resolveManifest(pctx, resolver, name, po.ManifestTimeout)
	if err != nil {
		return runtime.ImageInfo{}, wrapErr(w.explain(pctx, err), "pull %s", name)
	}
	// Whether it is unpacked is settled by create, which unpacks on demand.
	if img, err := r.client.GetImage(ctx, name); err == nil && img.Target().Digest == desc.Digest {
		if info, err := r.imageInfo(ctx, img); err == nil {
			log.V(1).Info("image is up to date", "digest", info.Digest)
			return info, nil
		}
	}
	log.V(1).Info("pulling image", "auth", auth != nil)
	lctx, release, err := r.pullLease(pctx)
	if err != nil {
		return runtime.ImageInfo{}, wrapErr(err, "pull %s: create lease", name)
	}
	img, err := r.client.Pull(lctx, name, append(pullOpts,
		client.WithResolver(resolver),
		client.WithPullUnpack,
		client.WithPullSnapshotter(r.opts.snapshotter),
	)...)
	release(err != nil)
	if err != nil {
		return runtime.ImageInfo{}, wrapErr(w.explain(pctx, err), "pull %s", name)
	}
	info, err := r.imageInfo(ctx, img)
	if err != nil {
		return runtime.ImageInfo{}, wrapErr(err, "pull %s: read image config", name)
	}
	log.V(1).Info("pulled image", "digest", info.Digest, "size", info.Size)
	return info, nil
}

// pullLease holds what a pull downloads and unpacks until the image record does. It is
// taken here rather than left to Pull, which releases its lease with the pull's own
// context: cancelled by a timeout or a stall, that leaves the partial download and the
// half-extracted snapshot held for a day. A failed pull releases it synchronously, so they
// are collected at once.
func (r *Runtime) pullLease(ctx context.Context) (context.Context, func(failed bool), error) {
	ls := r.client.LeasesService()
	l, err := ls.Create(ctx, leases.WithRandomID(), leases.WithExpiration(24*time.Hour))
	if err != nil {
		return nil, nil, err
	}
	release := func(failed bool) {
		var opts []leases.DeleteOpt
		if failed {
			opts = append(opts, leases.SynchronousDelete)
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseReleaseTimeout)
		defer cancel()
		if err := ls.Delete(dctx, l, opts...); err != nil {
			r.log.Error(err, "release pull lease; containerd expires it within a day", "lease", l.ID)
		}
	}
	return leases.WithLease(ctx, l.ID), release, nil
}

// leaseReleaseTimeout bounds releasing a pull's lease, garbage collection included.
const leaseReleaseTimeout = time.Minute

// resolveManifest resolves name to its manifest descriptor within timeout (0: no bound of
// its own), saying so when the timeout is what failed it.
func resolveManifest(ctx context.Context, resolver remotes.Resolver, name string, timeout time.Duration) (ocispec.Descriptor, error) {
	rctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeoutCause(ctx, timeout, fmt.Errorf("manifest not resolved within %s", timeout))
		defer cancel()
	}
	_, desc, err := resolver.Resolve(rctx, name)
	if err != nil && ctx.Err() == nil && rctx.Err() != nil {
		return desc, fmt.Errorf("%w: %w", context.Cause(rctx), err)
	}
	return desc, err
}

// InspectImage returns metadata for a local image without contacting any registry.
func (r *Runtime) InspectImage(ctx context.Context, ref string) (runtime.ImageInfo, error) {
	name, err := NormalizeRef(ref)
	if err != nil {
		return runtime.ImageInfo{}, wrapErr(err, "inspect image %s", ref)
	}
	ctx = r.withNS(ctx)
	img, err := r.client.GetImage(ctx, name)
	if err != nil {
		return runtime.ImageInfo{}, wrapErr(err, "inspect image %s", name)
	}
	info, err := r.imageInfo(ctx, img)
	if err != nil {
		return runtime.ImageInfo{}, wrapErr(err, "inspect image %s", name)
	}
	return info, nil
}

// RemoveImage deletes the image name and waits for garbage collection, so the space is
// really free when it returns (image cleanup measures disk). Absent is success, and so is a
// name that IfDigest says to remove only while it points at a digest it no longer points
// at. Content still used by other names or by containers' snapshots is kept by containerd's
// GC.
func (r *Runtime) RemoveImage(ctx context.Context, ref string, opts ...runtime.RemoveImageOption) error {
	var o runtime.RemoveImageOptions
	for _, opt := range opts {
		opt(&o)
	}
	name, err := NormalizeRef(ref)
	if err != nil {
		return wrapErr(err, "remove image %s", ref)
	}
	ctx = r.withNS(ctx)
	dopts := []images.DeleteOpt{images.SynchronousDelete()}
	if o.Digest != "" {
		d, err := digest.Parse(o.Digest)
		if err != nil {
			return wrapErr(fmt.Errorf("digest %q: %w: %w", o.Digest, errdefs.ErrInvalidArgument, err), "remove image %s", name)
		}
		// containerd answers NotFound when the name points elsewhere: left alone.
		dopts = append(dopts, images.DeleteTarget(&ocispec.Descriptor{Digest: d}))
	}
	err = r.client.ImageService().Delete(ctx, name, dopts...)
	if err != nil && !errdefs.IsNotFound(err) {
		return wrapErr(err, "remove image %s", name)
	}
	return nil
}

// ListImages lists every image name in the namespace with its target, its content size
// for this runtime's platform (0 when that content is not here) and when it was created.
func (r *Runtime) ListImages(ctx context.Context) ([]runtime.ImageRecord, error) {
	ctx = r.withNS(ctx)
	imgs, err := r.client.ImageService().List(ctx)
	if err != nil {
		return nil, wrapErr(err, "list images")
	}
	out := make([]runtime.ImageRecord, 0, len(imgs))
	for _, img := range imgs {
		rec := runtime.ImageRecord{Name: img.Name, Digest: img.Target.Digest.String(), CreatedAt: img.CreatedAt}
		if m, err := r.meta(ctx, client.NewImage(r.client, img)); err == nil {
			rec.Size = m.size
		}
		out = append(out, rec)
	}
	return out, nil
}

// imageInfo returns the image's target digest, size and config for the default platform,
// from the image cache after the first time.
func (r *Runtime) imageInfo(ctx context.Context, img client.Image) (runtime.ImageInfo, error) {
	m, err := r.meta(ctx, img)
	if err != nil {
		return runtime.ImageInfo{}, err
	}
	spec, err := m.spec()
	if err != nil {
		return runtime.ImageInfo{}, err
	}
	return runtime.ImageInfo{
		Ref:        img.Name(),
		Digest:     img.Target().Digest.String(),
		ID:         m.configDesc.Digest.String(),
		Size:       m.size,
		Entrypoint: spec.Config.Entrypoint,
		Cmd:        spec.Config.Cmd,
		Env:        spec.Config.Env,
		WorkingDir: spec.Config.WorkingDir,
		User:       spec.Config.User,
	}, nil
}
