package containerd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// imageMeta is what the agent reads from an image's manifest and config: its config blob
// (and so its layers' diff IDs) and its size. All of it is fixed by the image's target
// digest, because content is addressed by digest, so it is read from containerd's content
// store once per digest instead of on every pull check and every create: without the cache
// each task launch paid about ten content-store round trips (~6 ms) for the same bytes.
type imageMeta struct {
	configDesc ocispec.Descriptor
	configBlob []byte
	diffIDs    []digest.Digest
	size       int64
}

// maxCachedImages bounds the cache; a host runs far fewer distinct images than this, and
// overflowing it only costs the reads the cache saves.
const maxCachedImages = 256

// imageCache maps an image's target digest (for this runtime's one platform) to its meta.
type imageCache struct {
	mu sync.Mutex
	m  map[digest.Digest]*imageMeta
}

func (c *imageCache) get(d digest.Digest) *imageMeta {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[d]
}

func (c *imageCache) put(d digest.Digest, m *imageMeta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedImages {
		c.m = make(map[digest.Digest]*imageMeta)
	}
	c.m[d] = m
}

// meta returns img's meta, reading it from the content store on the first call per digest.
func (r *Runtime) meta(ctx context.Context, img client.Image) (*imageMeta, error) {
	d := img.Target().Digest
	if m := r.images.get(d); m != nil {
		return m, nil
	}
	desc, err := img.Config(ctx)
	if err != nil {
		return nil, err
	}
	blob, err := content.ReadBlob(ctx, img.ContentStore(), desc)
	if err != nil {
		return nil, err
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(blob, &cfg); err != nil {
		return nil, fmt.Errorf("image config %s: %w", desc.Digest, err)
	}
	size, err := img.Size(ctx)
	if err != nil {
		return nil, err
	}
	m := &imageMeta{configDesc: desc, configBlob: blob, diffIDs: cfg.RootFS.DiffIDs, size: size}
	r.images.put(d, m)
	return m, nil
}

// spec returns a private copy of the image config: callers may append to its slices.
func (m *imageMeta) spec() (ocispec.Image, error) {
	var cfg ocispec.Image
	if err := json.Unmarshal(m.configBlob, &cfg); err != nil {
		return cfg, fmt.Errorf("image config %s: %w", m.configDesc.Digest, err)
	}
	return cfg, nil
}

// cachedImage answers the image reads containerd's client makes while creating a container
// (the config for the spec, the diff IDs for the snapshot's parent) from the cache.
type cachedImage struct {
	client.Image
	m *imageMeta
}

func (i cachedImage) Config(context.Context) (ocispec.Descriptor, error) { return i.m.configDesc, nil }

func (i cachedImage) RootFS(context.Context) ([]digest.Digest, error) {
	return slices.Clone(i.m.diffIDs), nil
}

func (i cachedImage) Spec(context.Context) (ocispec.Image, error) { return i.m.spec() }

func (i cachedImage) ContentStore() content.Store {
	return configStore{Store: i.Image.ContentStore(), desc: i.m.configDesc, blob: i.m.configBlob}
}

// configStore serves the cached config blob and passes every other read through.
type configStore struct {
	content.Store
	desc ocispec.Descriptor
	blob []byte
}

func (s configStore) ReaderAt(ctx context.Context, desc ocispec.Descriptor) (content.ReaderAt, error) {
	if desc.Digest == s.desc.Digest {
		return blobReader{bytes.NewReader(s.blob)}, nil
	}
	return s.Store.ReaderAt(ctx, desc)
}

type blobReader struct{ *bytes.Reader }

func (blobReader) Close() error { return nil }
