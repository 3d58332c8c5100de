package store

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// TestConcurrentStatusWrites has many goroutines increment counters in the status of a few
// shared objects with read-modify-write and retry on Conflict. No increment may be lost, and
// a watcher must see strictly increasing resourceVersions.
func TestConcurrentStatusWrites(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(t *testing.T) []Option
	}{
		{"memory", func(*testing.T) []Option { return nil }},
		{"checkpoint", func(t *testing.T) []Option {
			t.Helper()
			return []Option{WithCheckpoint(dbPath(t))}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const (
				objects    = 4
				goroutines = 32
				increments = 25
			)
			ctx := context.Background()
			s := newStore(t, append(tc.opts(t), WithHistory(goroutines*increments+objects))...)
			startCache(t, s)
			for i := range objects {
				img := &v1alpha1.Image{}
				img.Name = "img-" + strconv.Itoa(i)
				if err := s.Create(ctx, img); err != nil {
					t.Fatal(err)
				}
			}
			w, err := s.Watch(ctx, v1alpha1.GroupVersion.WithKind("Image"), "", nil)
			if err != nil {
				t.Fatal(err)
			}
			watched := make(chan error, 1)
			go func() {
				var last uint64
				n := 0
				for e := range w.ResultChan() {
					rv, _ := strconv.ParseUint(e.Object.(client.Object).GetResourceVersion(), 10, 64)
					if e.Type != watch.Modified || rv <= last {
						watched <- fmt.Errorf("event %s at rv %d after %d", e.Type, rv, last)
						return
					}
					last = rv
					if n++; n == goroutines*increments {
						watched <- nil
						return
					}
				}
				watched <- fmt.Errorf("watch closed after %d events", n)
			}()

			c := s.DirectClient()
			var wg sync.WaitGroup
			errs := make(chan error, goroutines)
			for g := range goroutines {
				wg.Go(func() {
					key := client.ObjectKey{Name: "img-" + strconv.Itoa(g%objects)}
					for range increments {
						for {
							img := &v1alpha1.Image{}
							if err := c.Get(ctx, key, img); err != nil {
								errs <- err
								return
							}
							img.Status.Size++
							err := c.Status().Update(ctx, img)
							if apierrors.IsConflict(err) {
								continue
							}
							if err != nil {
								errs <- err
								return
							}
							break
						}
						// Cache reads race with writes too.
						_ = s.Client().Get(ctx, key, &v1alpha1.Image{})
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			for i := range objects {
				img := &v1alpha1.Image{}
				if err := s.Get(ctx, client.ObjectKey{Name: "img-" + strconv.Itoa(i)}, img); err != nil {
					t.Fatal(err)
				}
				if want := int64(goroutines / objects * increments); img.Status.Size != want {
					t.Errorf("%s: size %d, want %d (lost updates)", img.Name, img.Status.Size, want)
				}
			}
			if err := <-watched; err != nil {
				t.Fatal(err)
			}
			w.Stop()
		})
	}
}
