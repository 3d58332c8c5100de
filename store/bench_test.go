package store

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

func benchStores() []struct {
	name string
	opts func(b *testing.B) []Option
} {
	return []struct {
		name string
		opts func(b *testing.B) []Option
	}{
		{"memory", func(*testing.B) []Option { return nil }},
		{"checkpoint", func(b *testing.B) []Option {
			b.Helper()
			return []Option{WithCheckpoint(dbPath(b))}
		}},
	}
}

func BenchmarkCreate(b *testing.B) {
	for _, bs := range benchStores() {
		b.Run(bs.name, func(b *testing.B) {
			ctx := context.Background()
			s := newStore(b, bs.opts(b)...)
			c := container("t", "app")
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.Name = "c" + strconv.Itoa(i) // reuse the input: measure the store, not the fixture
				if err := s.Create(ctx, c); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkUpdateStatus(b *testing.B) {
	for _, bs := range benchStores() {
		b.Run(bs.name, func(b *testing.B) {
			ctx := context.Background()
			s := newStore(b, bs.opts(b)...)
			c := container("t", "app")
			if err := s.Create(ctx, c); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var code int32
			for b.Loop() {
				code++
				c.Status.ExitCode = &code
				c.Status.KnownStatus = v1alpha1.ContainerStatusRunning
				if err := s.UpdateStatus(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUpdateStatusParallel writes the status of distinct objects from many goroutines:
// with a checkpoint they share transactions and fsyncs (group commit).
func BenchmarkUpdateStatusParallel(b *testing.B) {
	for _, bs := range benchStores() {
		b.Run(bs.name, func(b *testing.B) {
			ctx := context.Background()
			s := newStore(b, bs.opts(b)...)
			var next atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				c := container("t", "p"+strconv.FormatInt(next.Add(1), 10))
				if err := s.Create(ctx, c); err != nil {
					b.Fatal(err)
				}
				var code int32
				for pb.Next() {
					code++
					c.Status.ExitCode = &code
					if err := s.UpdateStatus(ctx, c); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkUpdateStatusWithInformer measures the write path while an informer consumes the
// watch, to show watch delivery stays off the writer's critical path.
func BenchmarkUpdateStatusWithInformer(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newStore(b)
	go func() { _ = s.Cache().Start(ctx) }()
	if !s.Cache().WaitForCacheSync(ctx) {
		b.Fatal("no sync")
	}
	c := container("t", "app")
	if err := s.Create(ctx, c); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var code int32
	for b.Loop() {
		code++
		c.Status.ExitCode = &code
		if err := s.UpdateStatus(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteToInformerEvent measures a status write plus the time until an informer
// event handler sees it: the lag a controller reading through Client() experiences.
func BenchmarkWriteToInformerEvent(b *testing.B) {
	for _, bs := range benchStores() {
		b.Run(bs.name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := newStore(b, bs.opts(b)...)
			inf, err := s.Cache().GetInformer(ctx, &v1alpha1.Container{})
			if err != nil {
				b.Fatal(err)
			}
			seen := make(chan string, 1)
			_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
				UpdateFunc: func(_, n any) { seen <- n.(client.Object).GetResourceVersion() },
			})
			if err != nil {
				b.Fatal(err)
			}
			go func() { _ = s.Cache().Start(ctx) }()
			if !s.Cache().WaitForCacheSync(ctx) {
				b.Fatal("no sync")
			}
			c := container("t", "app")
			if err := s.Create(ctx, c); err != nil {
				b.Fatal(err)
			}
			var code int32
			var lag time.Duration
			for b.Loop() {
				code++
				c.Status.ExitCode = &code
				if err := s.UpdateStatus(ctx, c); err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				for rv := ""; rv != c.ResourceVersion; {
					rv = <-seen
				}
				lag += time.Since(start)
			}
			b.ReportMetric(float64(lag.Nanoseconds())/float64(b.N), "lag-ns/op")
		})
	}
}
