package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
)

// Purge removes every container, task, snapshot, image and lease in the runtime's namespace
// and then the namespace itself. It exists for tests and for `ecs-agent --purge`-style
// tear-downs; the agent never calls it on its own.
func (r *Runtime) Purge(ctx context.Context) error {
	ctx = r.withNS(ctx)
	c := r.client
	var errs []error
	ctrs, err := c.Containers(ctx)
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	for _, ctr := range ctrs {
		if err := deleteTask(ctx, ctr); err != nil {
			errs = append(errs, fmt.Errorf("task %s: %w", ctr.ID(), err))
		}
		if err := ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("container %s: %w", ctr.ID(), err))
		}
	}
	imgs, err := c.ImageService().List(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("list images: %w", err))
	}
	for i, img := range imgs {
		var opts []images.DeleteOpt
		if i == len(imgs)-1 {
			opts = append(opts, images.SynchronousDelete())
		}
		if err := c.ImageService().Delete(ctx, img.Name, opts...); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("image %s: %w", img.Name, err))
		}
	}
	if leases, err := c.LeasesService().List(ctx); err == nil {
		for _, l := range leases {
			_ = c.LeasesService().Delete(ctx, l)
		}
	}
	// runc removes each container's cgroup but not the /<namespace> parent.
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + r.namespace)
	for _, d := range dirs {
		_ = os.Remove(d)
	}
	if err := c.NamespaceService().Delete(ctx, r.namespace); err != nil && !errdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("delete namespace %s: %w", r.namespace, err))
	}
	return errors.Join(errs...)
}
