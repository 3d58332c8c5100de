package containerd

import (
	"context"
	"fmt"
	"net/http"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"

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
// present only re-resolves the tag.
func (r *Runtime) PullImage(ctx context.Context, ref string, auth *runtime.Auth) (runtime.ImageInfo, error) {
	name, err := NormalizeRef(ref)
	if err != nil {
		return runtime.ImageInfo{}, wrapErr(err, "pull %s", ref)
	}
	ctx = r.withNS(ctx)
	resolver := docker.NewResolver(docker.ResolverOptions{
		Hosts: r.opts.hosts(refDomain(name), auth),
	})
	log := r.log.WithValues("image", name)
	// Most pulls re-pull a tag that has not moved: one manifest HEAD settles that, and the
	// local, already unpacked image is used without walking the whole image again.
	if _, desc, err := resolver.Resolve(ctx, name); err == nil {
		// Whether it is unpacked is settled by create, which unpacks on demand.
		if img, err := r.client.GetImage(ctx, name); err == nil && img.Target().Digest == desc.Digest {
			if info, err := imageInfo(ctx, img); err == nil {
				log.V(1).Info("image is up to date", "digest", info.Digest)
				return info, nil
			}
		}
	} else {
		return runtime.ImageInfo{}, wrapErr(err, "pull %s", name)
	}
	log.V(1).Info("pulling image", "auth", auth != nil)
	img, err := r.client.Pull(ctx, name,
		client.WithResolver(resolver),
		client.WithPullUnpack,
		client.WithPullSnapshotter(r.opts.snapshotter),
	)
	if err != nil {
		return runtime.ImageInfo{}, wrapErr(err, "pull %s", name)
	}
	info, err := imageInfo(ctx, img)
	if err != nil {
		return runtime.ImageInfo{}, wrapErr(err, "pull %s: read image config", name)
	}
	log.V(1).Info("pulled image", "digest", info.Digest, "size", info.Size)
	return info, nil
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
	info, err := imageInfo(ctx, img)
	if err != nil {
		return runtime.ImageInfo{}, wrapErr(err, "inspect image %s", name)
	}
	return info, nil
}

// RemoveImage deletes the image name and waits for garbage collection, so the space is
// really free when it returns (image cleanup measures disk). Absent is success. Content
// still used by other names or by containers' snapshots is kept by containerd's GC.
func (r *Runtime) RemoveImage(ctx context.Context, ref string) error {
	name, err := NormalizeRef(ref)
	if err != nil {
		return wrapErr(err, "remove image %s", ref)
	}
	ctx = r.withNS(ctx)
	err = r.client.ImageService().Delete(ctx, name, images.SynchronousDelete())
	if err != nil && !errdefs.IsNotFound(err) {
		return wrapErr(err, "remove image %s", name)
	}
	return nil
}

// imageInfo reads the image's target digest, size and config for the default platform.
func imageInfo(ctx context.Context, img client.Image) (runtime.ImageInfo, error) {
	size, err := img.Size(ctx)
	if err != nil {
		return runtime.ImageInfo{}, err
	}
	spec, err := img.Spec(ctx)
	if err != nil {
		return runtime.ImageInfo{}, err
	}
	return runtime.ImageInfo{
		Ref:        img.Name(),
		Digest:     img.Target().Digest.String(),
		Size:       size,
		Entrypoint: spec.Config.Entrypoint,
		Cmd:        spec.Config.Cmd,
		Env:        spec.Config.Env,
		WorkingDir: spec.Config.WorkingDir,
		User:       spec.Config.User,
	}, nil
}
