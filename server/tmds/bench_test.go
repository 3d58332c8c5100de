package tmds

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/server/metadata"
	"github.com/ecsd/ecsd/store"
)

// BenchmarkV4Task answers /v4/<id>/task for a host with many running bridge tasks, through
// the informer cache with the endpoints' indexes (as the agent serves it) and by scanning
// the store (a reader without them), to show what the indexes are worth.
func BenchmarkV4Task(b *testing.B) {
	for _, n := range []int{20, 200} {
		st, ids := benchStore(b, n)
		ctx, cancel := context.WithCancel(context.Background())
		if err := metadata.IndexFields(ctx, st.Cache()); err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = st.Cache().Start(ctx) }()
		if !st.Cache().WaitForCacheSync(ctx) {
			b.Fatal("cache did not sync")
		}
		for _, r := range []struct {
			name   string
			reader client.Reader
		}{{"indexed", st.Client()}, {"scan", st}} {
			b.Run(fmt.Sprintf("%s/tasks=%d", r.name, n), func(b *testing.B) {
				h, err := NewHandler(Options{Reader: r.reader, SteadyRPS: 1 << 30, BurstRPS: 1 << 30, Logger: logr.Discard()})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v4/"+ids[i%len(ids)]+"/task", nil))
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
					i++
				}
			})
		}
		cancel()
		<-done
	}
}

// benchStore holds n running bridge tasks of two containers each, and returns their
// containers' endpoint IDs.
func benchStore(b *testing.B, n int) (*store.Store, []string) {
	b.Helper()
	scheme := k8sruntime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		b.Fatal(err)
	}
	st, err := store.New(context.Background(), scheme)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	now := metav1.Now()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%032x", i+1)
		names := []string{"app", "sidecar"}
		objs := []client.Object{&api.Task{
			ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: id},
			Spec: api.TaskSpec{ARN: taskARN(id), Family: "bench", Version: "1", DesiredStatus: api.TaskStatusRunning,
				NetworkMode: "bridge", Containers: names},
			Status: api.TaskStatus{KnownStatus: api.TaskStatusRunning},
		}}
		for j, name := range names {
			ep := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, j)
			ids = append(ids, ep)
			objs = append(objs, &api.Container{
				ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: api.ContainerName(id, name)},
				Spec:       api.ContainerSpec{TaskName: id, Name: name, Image: "busybox", EndpointID: ep},
				Status: api.ContainerStatus{KnownStatus: api.ContainerStatusRunning, DesiredStatus: api.ContainerStatusRunning,
					RuntimeID: api.RuntimeID(taskARN(id), name), ImageDigest: "sha256:aaaa", StartedAt: &now,
					Network: &api.NetworkStatus{Mode: "bridge", IPv4Address: fmt.Sprintf("172.17.%d.%d", (2*i+j)/250, (2*i+j)%250+2)}},
			})
		}
		if err := st.CreateOrUpdateAll(context.Background(), objs...); err != nil {
			b.Fatal(err)
		}
	}
	return st, ids
}
