package controllers

import (
	"context"
	"sync"

	"github.com/distribution/reference"
)

// ImageGuard keeps image cleanup and the pull step off each other's image names. A pull
// pins its container's image from before it asks the runtime until the container's
// status records the digest (from then on the Container object itself keeps the image).
// Cleanup removes a name only while nobody pins it, and a pull that wants a name being
// removed waits for the removal to end and then pulls it again. Without it a cycle could
// remove an image between a prefer-cached pull finding it and the create that uses it.
// Names are compared normalized, so "busybox" and "docker.io/library/busybox:latest" are one.
type ImageGuard struct {
	mu     sync.Mutex
	pinned map[string]int
	// removing holds the names being removed; the channel closes when the removal ends.
	removing map[string]chan struct{}
}

// NewImageGuard returns a guard with nothing pinned or being removed.
func NewImageGuard() *ImageGuard {
	return &ImageGuard{pinned: map[string]int{}, removing: map[string]chan struct{}{}}
}

// Pin keeps cleanup off ref until unpin is called, waiting first for a removal of ref in
// progress to end. A nil guard pins nothing.
func (g *ImageGuard) Pin(ctx context.Context, ref string) (unpin func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	key := normalizeRef(ref)
	for {
		g.mu.Lock()
		done, busy := g.removing[key]
		if !busy {
			g.pinned[key]++
			g.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					g.mu.Lock()
					defer g.mu.Unlock()
					if g.pinned[key]--; g.pinned[key] <= 0 {
						delete(g.pinned, key)
					}
				})
			}, nil
		}
		g.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// beginRemove claims refs for a removal, unless one of them is pinned (a pull is using it)
// or already being removed: then ok is false and nothing is claimed. end releases the
// claim and wakes pulls waiting for it.
func (g *ImageGuard) beginRemove(refs []string) (end func(), ok bool) {
	if g == nil {
		return func() {}, true
	}
	keys := make([]string, 0, len(refs))
	for _, r := range refs {
		keys = append(keys, normalizeRef(r))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range keys {
		if _, busy := g.removing[k]; busy || g.pinned[k] > 0 {
			return nil, false
		}
	}
	done := make(chan struct{})
	for _, k := range keys {
		g.removing[k] = done
	}
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, k := range keys {
			if g.removing[k] == done {
				delete(g.removing, k)
			}
		}
		close(done)
	}, true
}

// normalizeRef is ref as the runtime stores it ("busybox" → "docker.io/library/busybox:latest");
// a reference that does not parse is compared as written.
func normalizeRef(ref string) string {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return ref
	}
	return named.String()
}
