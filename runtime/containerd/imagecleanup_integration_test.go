//go:build integration

package containerd

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"

	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
)

// TestImageCleanupCalls: what image cleanup asks of containerd. ListImages shows every
// name with its digest, size and arrival; RemoveImage with IfDigest leaves a name that
// points elsewhere alone and otherwise takes the image's own content and unpacked layers
// with it (synchronously), keeping what another image shares; ImageFilesystems measures
// the daemon's content and snapshot directories; ListUnmanagedContainers shows other
// clients' containers only, and RemoveContainer removes them.
func TestImageCleanupCalls(t *testing.T) {
	t.Parallel()
	r := newTestRuntime(t)
	ctx := testCtx(t)
	before := time.Now().Add(-time.Second)
	latest := pullBusybox(t, r)
	v2, err := r.PullImage(ctx, testenv.BusyboxImageV2(), nil)
	if err != nil {
		t.Fatal(err)
	}

	recs, err := r.ListImages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]runtime.ImageRecord{}
	for _, rec := range recs {
		byName[rec.Name] = rec
	}
	for _, want := range []runtime.ImageInfo{latest, v2} {
		rec, ok := byName[want.Ref]
		if !ok || rec.Digest != want.Digest || rec.Size != want.Size || rec.CreatedAt.Before(before) {
			t.Errorf("ListImages has %+v for %s, want digest %s size %d created after %v", rec, want.Ref, want.Digest, want.Size, before)
		}
	}

	fss, err := r.ImageFilesystems(ctx)
	if err != nil || len(fss) == 0 {
		t.Fatalf("ImageFilesystems = %+v, %v", fss, err)
	}
	for _, fs := range fss {
		if _, err := os.Stat(fs.Path); err != nil || fs.Used == 0 || fs.Available == 0 || fs.UsedPercent() <= 0 || fs.UsedPercent() >= 100 {
			t.Errorf("file system %+v (%.1f%%): %v", fs, fs.UsedPercent(), err)
		}
	}

	// What v2 holds alone: its manifest and its top layer's snapshot; the base layer's
	// snapshot is latest's too.
	cs := r.client.ContentStore()
	sn := r.client.SnapshotService(r.opts.snapshotter)
	nctx := r.withNS(ctx)
	chain := func(info runtime.ImageInfo) []digest.Digest {
		img, err := r.client.GetImage(nctx, info.Ref)
		if err != nil {
			t.Fatal(err)
		}
		diffIDs, err := img.RootFS(nctx)
		if err != nil {
			t.Fatal(err)
		}
		return identity.ChainIDs(diffIDs)
	}
	v2Chain, latestChain := chain(v2), chain(latest)
	if len(v2Chain) != len(latestChain)+1 || v2Chain[0] != latestChain[0] {
		t.Fatalf("v2 is not latest plus a layer: %v, %v", v2Chain, latestChain)
	}
	top := v2Chain[len(v2Chain)-1].String()
	if _, err := sn.Stat(nctx, top); err != nil {
		t.Fatalf("v2's top snapshot before the removal: %v", err)
	}

	if err := r.RemoveImage(ctx, testenv.BusyboxImageV2(), runtime.IfDigest(latest.Digest)); err != nil {
		t.Fatalf("RemoveImage of a name pointing elsewhere: %v", err)
	}
	if _, err := r.InspectImage(ctx, testenv.BusyboxImageV2()); err != nil {
		t.Fatalf("RemoveImage with another digest removed the name: %v", err)
	}
	if err := r.RemoveImage(ctx, testenv.BusyboxImageV2(), runtime.IfDigest(v2.Digest)); err != nil {
		t.Fatalf("RemoveImage: %v", err)
	}
	_, err = r.InspectImage(ctx, testenv.BusyboxImageV2())
	wantErrIs(t, err, runtime.ErrNotFound)
	// Synchronous: gone when the call returns.
	if _, err := cs.Info(nctx, digest.Digest(v2.Digest)); !errdefs.IsNotFound(err) {
		t.Errorf("v2's manifest is still in the content store: %v", err)
	}
	if _, err := sn.Stat(nctx, top); !errdefs.IsNotFound(err) {
		t.Errorf("v2's own layer is still unpacked: %v", err)
	}
	for _, id := range latestChain {
		if _, err := sn.Stat(nctx, id.String()); err != nil {
			t.Errorf("latest's layer %s went with v2: %v", id, err)
		}
	}
	if err := r.RemoveImage(ctx, testenv.BusyboxImageV2(), runtime.IfDigest(v2.Digest)); err != nil {
		t.Fatalf("RemoveImage of an absent name: %v", err)
	}

	// Another client's container, beside one of the agent's.
	img, err := r.client.GetImage(nctx, latest.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.NewContainer(nctx, "other-client", client.WithNewSnapshot("other-client", img),
		client.WithNewSpec(oci.WithImageConfig(img))); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateContainer(ctx, runtime.ContainerConfig{ID: "agents", Image: latest.Ref, LogPath: t.TempDir() + "/log"}); err != nil {
		t.Fatal(err)
	}
	others, err := r.ListUnmanagedContainers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(others) != 1 || others[0].ID != "other-client" || others[0].Status != runtime.StatusCreated ||
		others[0].Image != latest.Ref || others[0].FinishedAt.IsZero() {
		t.Fatalf("ListUnmanagedContainers = %+v, want other-client, created, with a time", others)
	}
	if err := r.RemoveContainer(ctx, "other-client"); err != nil {
		t.Fatal(err)
	}
	if others, _ := r.ListUnmanagedContainers(ctx); len(others) != 0 {
		t.Fatalf("left after RemoveContainer: %+v", others)
	}
	if mine, _ := r.ListContainers(ctx); !slices.ContainsFunc(mine, func(c runtime.ContainerState) bool { return c.ID == "agents" }) {
		t.Fatalf("the agent's container is not listed: %+v", mine)
	}
}
