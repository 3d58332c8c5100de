package tmds

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// barrierTags answers only once both lookups of one response are in flight, so a handler
// making them one after the other gets nothing but its request's deadline.
type barrierTags struct {
	mu   sync.Mutex
	n    int
	both chan struct{}
}

func (b *barrierTags) ListTags(ctx context.Context, arn string) (map[string]string, error) {
	b.mu.Lock()
	if b.n++; b.n == 2 {
		close(b.both)
	}
	b.mu.Unlock()
	select {
	case <-b.both:
		return map[string]string{"arn": arn}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestTagLookupsRunConcurrently(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, func(o *Options) { o.Tags = &barrierTags{both: make(chan struct{})} })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/v4/"+epWeb+"/taskWithTags", nil)
	req.RemoteAddr = "127.0.0.1:1"
	doc := decode(t, httpRecorder(h, req).Body.Bytes()).(map[string]any)
	if _, ok := doc["Errors"]; ok {
		t.Fatalf("Errors = %v: the lookups were not concurrent", doc["Errors"])
	}
	if got, _ := doc["ContainerInstanceTags"].(map[string]any); got["arn"] != ciARN {
		t.Errorf("ContainerInstanceTags = %v", doc["ContainerInstanceTags"])
	}
	if got, _ := doc["TaskTags"].(map[string]any); got["arn"] != taskARN(awsvpcID) {
		t.Errorf("TaskTags = %v", doc["TaskTags"])
	}
}
