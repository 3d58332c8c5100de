package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/image-spec/identity"
)

// These two serve ecs-init, which runs the agent from its image (README "Agent image"): it
// loads the image's cached tarball and copies the agent's binaries out of the image onto
// the host, where the agent then runs as it would from a package.

// ImportImages loads a docker-archive or OCI archive (docker save, ctr images export, the
// agent image's cached tarball) into this runtime's namespace, unpacks the host platform's
// image of each name, and returns the names. Content for other platforms is imported when
// the archive has it and skipped when it does not.
func (r *Runtime) ImportImages(ctx context.Context, rd io.Reader) ([]string, error) {
	ctx = r.withNS(ctx)
	imgs, err := r.client.Import(ctx, rd, client.WithSkipMissing())
	if err != nil {
		return nil, wrapErr(err, "import images")
	}
	if len(imgs) == 0 {
		return nil, newErr(errdefs.ErrInvalidArgument, "import images: the archive names no image")
	}
	var names []string
	for _, i := range imgs {
		if err := r.ensureUnpacked(ctx, client.NewImage(r.client, i)); err != nil {
			return nil, wrapErr(err, "import images: unpack %s", i.Name)
		}
		names = append(names, i.Name)
	}
	return names, nil
}

// CopyImageFiles copies the regular files directly in directory dir of image ref's root
// file system (the host platform's) into dest, and returns the names of those it wrote.
// A file already identical in dest is left alone; any other is written beside it and
// renamed over it, so a process running the old file keeps it and none sees half a file.
// The image is read from a read-only view of its snapshot, unpacked first if needed.
func (r *Runtime) CopyImageFiles(ctx context.Context, ref, dir, dest string) ([]string, error) {
	name, err := NormalizeRef(ref)
	if err != nil {
		return nil, wrapErr(err, "copy files from %s", ref)
	}
	ctx = r.withNS(ctx)
	// The view lives only as long as the copy; the lease keeps containerd's GC off it.
	ctx, done, err := r.client.WithLease(ctx)
	if err != nil {
		return nil, wrapErr(err, "copy files from %s: lease", name)
	}
	defer done(context.WithoutCancel(ctx))
	img, err := r.client.GetImage(ctx, name)
	if err != nil {
		return nil, wrapErr(err, "copy files from %s", name)
	}
	if err := r.ensureUnpacked(ctx, img); err != nil {
		return nil, wrapErr(err, "copy files from %s: unpack", name)
	}
	diffIDs, err := img.RootFS(ctx)
	if err != nil {
		return nil, wrapErr(err, "copy files from %s: layers", name)
	}
	sn := r.client.SnapshotService(r.opts.snapshotter)
	key := "ecsd-copy-" + randomSuffix()
	mounts, err := sn.View(ctx, key, identity.ChainID(diffIDs).String())
	if err != nil {
		return nil, wrapErr(err, "copy files from %s: view", name)
	}
	defer func() { _ = sn.Remove(context.WithoutCancel(ctx), key) }()
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return nil, fmt.Errorf("copy files from %s: %w", name, err)
	}
	var copied []string
	err = mount.WithReadonlyTempMount(ctx, mounts, func(root string) error {
		src, err := resolveIn(root, dir)
		if err != nil {
			return err
		}
		entries, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			wrote, err := replaceFile(filepath.Join(src, e.Name()), filepath.Join(dest, e.Name()))
			if err != nil {
				return err
			}
			if wrote {
				copied = append(copied, e.Name())
			}
		}
		return nil
	})
	if err != nil {
		return copied, wrapErr(err, "copy %s from %s", dir, name)
	}
	return copied, nil
}

// resolveIn joins dir to root, refusing a dir that leaves root or passes through a
// symbolic link (an image's links point into the image, not the host).
func resolveIn(root, dir string) (string, error) {
	rel := filepath.Clean("/" + dir)
	p := root
	for _, part := range strings.Split(strings.TrimPrefix(rel, "/"), "/") {
		if part == "" {
			continue
		}
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink != 0 || !fi.IsDir() {
			return "", fmt.Errorf("%s in the image is not a directory: %w", dir, errdefs.ErrInvalidArgument)
		}
	}
	return p, nil
}

// replaceFile makes to a copy of from (same bytes and permission bits) unless it is one
// already, and reports whether it wrote.
func replaceFile(from, to string) (bool, error) {
	in, err := os.Open(from)
	if err != nil {
		return false, err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return false, err
	}
	if same, err := sameBytes(in, fi.Size(), to); err != nil || same {
		return false, err
	}
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(to), "."+filepath.Base(to)+".tmp-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	return true, os.Rename(tmp.Name(), to)
}

// sameBytes compares in (size bytes, read from the start) with the file at path; a
// missing file is not the same.
func sameBytes(in io.ReadSeeker, size int64, path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() != size {
		return false, err
	}
	a, b := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, errA := io.ReadFull(in, a)
		nb, errB := io.ReadFull(f, b)
		if na != nb || string(a[:na]) != string(b[:nb]) {
			return false, nil
		}
		if errors.Is(errA, io.EOF) || errors.Is(errA, io.ErrUnexpectedEOF) {
			return errors.Is(errB, io.EOF) || errors.Is(errB, io.ErrUnexpectedEOF), nil
		}
		if errA != nil {
			return false, errA
		}
		if errB != nil {
			return false, errB
		}
	}
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
