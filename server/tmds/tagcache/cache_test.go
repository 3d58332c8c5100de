package tagcache

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"

	"github.com/ecsd/ecsd/server/tmds"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lister answers from fn and counts calls per ARN.
type lister struct {
	calls sync.Map // arn → *atomic.Int32
	fn    func(ctx context.Context, arn string) (map[string]string, error)
}

func (l *lister) ListTagsForResource(ctx context.Context, arn string) (map[string]string, error) {
	n, _ := l.calls.LoadOrStore(arn, new(atomic.Int32))
	n.(*atomic.Int32).Add(1)
	return l.fn(ctx, arn)
}

// count is how many times taskARN's tags were listed.
func (l *lister) count() int32 {
	n, ok := l.calls.Load(taskARN)
	if !ok {
		return 0
	}
	return n.(*atomic.Int32).Load()
}

// logs captures log lines.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func newCache(t *testing.T, l *lister, mutate ...func(*Options)) (*Cache, *clock, *logs) {
	t.Helper()
	clk := &clock{now: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)}
	lg := &logs{}
	o := Options{
		Lister: l,
		Now:    clk.Now,
		Logger: funcr.New(func(prefix, args string) {
			lg.mu.Lock()
			defer lg.mu.Unlock()
			lg.lines = append(lg.lines, args)
		}, funcr.Options{}),
	}
	for _, m := range mutate {
		m(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, clk, lg
}

const taskARN = "arn:aws:ecs:us-west-2:111122223333:task/prod/6a1b"

func TestCachesForTTL(t *testing.T) {
	l := &lister{fn: func(context.Context, string) (map[string]string, error) { return map[string]string{"team": "a"}, nil }}
	c, clk, _ := newCache(t, l)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		got, err := c.ListTags(ctx, taskARN)
		if err != nil || !maps.Equal(got, map[string]string{"team": "a"}) {
			t.Fatalf("ListTags = %v, %v", got, err)
		}
		got["team"] = "mutated by the caller"
	}
	if n := l.count(); n != 1 {
		t.Errorf("%d ECS calls within the TTL, want 1", n)
	}
	clk.Add(DefaultTTL - time.Second)
	if got, _ := c.ListTags(ctx, taskARN); got["team"] != "a" || l.count() != 1 {
		t.Errorf("just before expiry: %v after %d calls; want the cached copy unmodified", got, l.count())
	}
	clk.Add(time.Second)
	if _, err := c.ListTags(ctx, taskARN); err != nil || l.count() != 2 {
		t.Errorf("after the TTL: %v, %d calls; want a second call", err, l.count())
	}
}

func TestEmptyTagsAreCachedToo(t *testing.T) {
	l := &lister{fn: func(context.Context, string) (map[string]string, error) { return nil, nil }}
	c, _, _ := newCache(t, l)
	for i := 0; i < 2; i++ {
		if got, err := c.ListTags(context.Background(), taskARN); err != nil || len(got) != 0 {
			t.Fatalf("ListTags = %v, %v", got, err)
		}
	}
	if n := l.count(); n != 1 {
		t.Errorf("%d ECS calls, want 1", n)
	}
}

// TestErrorsAreCachedBriefly: a failure is answered from the cache for ErrorTTL (ECS is
// not asked per request during an outage), logged once per lookup without anything but
// the resource and the error, and then retried.
func TestErrorsAreCachedBriefly(t *testing.T) {
	boom := errors.New("ThrottlingException: Rate exceeded")
	var fail atomic.Bool
	fail.Store(true)
	l := &lister{fn: func(context.Context, string) (map[string]string, error) {
		if fail.Load() {
			return nil, boom
		}
		return map[string]string{"k": "v"}, nil
	}}
	c, clk, lg := newCache(t, l)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := c.ListTags(ctx, taskARN); !errors.Is(err, boom) {
			t.Fatalf("ListTags err = %v, want %v", err, boom)
		}
	}
	if n := l.count(); n != 1 {
		t.Errorf("%d ECS calls while the error is cached, want 1", n)
	}
	if got := lg.all(); strings.Count(got, `"msg"="tag lookup failed`) != 1 || !strings.Contains(got, taskARN) || !strings.Contains(got, "Rate exceeded") {
		t.Errorf("logs = %s; want one failure entry naming the resource and the error", got)
	}
	fail.Store(false)
	clk.Add(DefaultErrorTTL)
	if got, err := c.ListTags(ctx, taskARN); err != nil || got["k"] != "v" || l.count() != 2 {
		t.Errorf("after ErrorTTL: %v, %v, %d calls; want the tags from a second call", got, err, l.count())
	}
}

// TestLookupTimeout: a lookup ECS never answers ends at Options.Timeout with the deadline
// error, however long the caller would wait.
func TestLookupTimeout(t *testing.T) {
	l := &lister{fn: func(ctx context.Context, _ string) (map[string]string, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	c, _, _ := newCache(t, l, func(o *Options) { o.Timeout = 50 * time.Millisecond })
	start := time.Now()
	_, err := c.ListTags(context.Background(), taskARN)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > 5*time.Second {
		t.Errorf("lookup took %s, want about the 50ms timeout", d)
	}
}

// TestCallerGivesUp: a caller whose context ends gets its own error at once; the lookup
// carries on for the others and its answer is kept.
func TestCallerGivesUp(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	l := &lister{fn: func(ctx context.Context, _ string) (map[string]string, error) {
		entered <- struct{}{}
		select {
		case <-release:
			return map[string]string{"k": "v"}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
	c, _, _ := newCache(t, l, func(o *Options) { o.Timeout = time.Minute })
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.ListTags(ctx, taskARN)
		errc <- err
	}()
	<-entered
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the caller's cancellation", err)
	}
	// A second caller joins the lookup still in flight.
	got := make(chan map[string]string, 1)
	go func() {
		tags, _ := c.ListTags(context.Background(), taskARN)
		got <- tags
	}()
	close(release)
	if tags := <-got; tags["k"] != "v" {
		t.Errorf("second caller got %v", tags)
	}
	if tags, err := c.ListTags(context.Background(), taskARN); err != nil || tags["k"] != "v" || l.count() != 1 {
		t.Errorf("cached answer %v, %v after %d calls; want k=v from one call", tags, err, l.count())
	}
}

// TestConcurrentMissesShareOneCall: however the callers interleave with the one lookup,
// ECS is asked once.
func TestConcurrentMissesShareOneCall(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	l := &lister{fn: func(context.Context, string) (map[string]string, error) {
		entered <- struct{}{}
		<-release
		return map[string]string{"k": "v"}, nil
	}}
	c, _, _ := newCache(t, l)
	var wg sync.WaitGroup
	results := make(chan map[string]string, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tags, _ := c.ListTags(context.Background(), taskARN)
			results <- tags
		}()
	}
	<-entered
	close(release)
	wg.Wait()
	close(results)
	for tags := range results {
		if tags["k"] != "v" {
			t.Errorf("a caller got %v", tags)
		}
	}
	if n := l.count(); n != 1 {
		t.Errorf("%d ECS calls for 20 concurrent callers, want 1", n)
	}
}

// TestExpiredEntriesAreSwept: ARNs of tasks long gone do not accumulate.
func TestExpiredEntriesAreSwept(t *testing.T) {
	l := &lister{fn: func(context.Context, string) (map[string]string, error) { return map[string]string{}, nil }}
	c, clk, _ := newCache(t, l)
	for _, arn := range []string{"arn:a", "arn:b", "arn:c"} {
		if _, err := c.ListTags(context.Background(), arn); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(2 * DefaultTTL)
	if _, err := c.ListTags(context.Background(), "arn:d"); err != nil {
		t.Fatal(err)
	}
	if n := c.Len(); n != 1 {
		t.Errorf("%d entries after the others expired, want 1", n)
	}
}

func TestNewRequiresLister(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, ErrNoLister) {
		t.Errorf("New without a Lister: %v", err)
	}
}

var _ tmds.TagSource = (*Cache)(nil)
